"""Fault: a zombie worker. Two workers; one is frozen (SIGSTOP) past the session timeout with a
batch produced but not yet committed, the group gives its partitions to the other (which claims
them: a new generation in Redis), then the frozen one gets SIGCONT and commits the batch it had in
hand. That late commit must be rejected by the fence (DESIGN §5: stored offset + generation
checked in the same atomic call) — the worker logs "fenced" — and the counts must stay exact:
every item, the totals and the DLQ against ground_truth.py.

Where an external SIGSTOP lands is luck: waiting in consume(), the worker hears of the revocation
first on waking and drops its batch itself (no late commit to fence). So the zombie runs with the
`stop-before-commit` failpoint (ingest/failpoints.h): SIGUSR2 makes it stop itself right before
its next commit, every time."""
import argparse
import signal
import sys
import time

import ground_truth
from fault_pipeline import Pipeline, wait_new_assignment
from harness import Processes, wait_for


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--segstream", required=True)
    ap.add_argument("--csv", required=True)
    ap.add_argument("--limit", type=int, default=None, help="checkouts to replay (default all)")
    ap.add_argument("--speed", default="1000000",
                    help="replay speed (x event time): paced so records keep arriving while the "
                         "zombie is frozen, whatever the machine's speed")
    args = ap.parse_args()
    truth, summary = ground_truth.item_truth(args.csv, args.limit)
    with Processes() as procs:
        pipe = Pipeline(procs, args.segstream).start()
        try:
            run(pipe, args, truth, summary)
        except BaseException:
            pipe.dump()
            raise


def stopped(pid):
    """True once the process is in the stopped state ('T' in /proc/PID/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0] == "T"


def run(pipe, args, truth, summary):
    total = summary["checkouts"]
    zombie = pipe.worker("zombie", env={"SEGSTREAM_FAILPOINTS": "stop-before-commit"})
    pipe.worker("survivor")
    started = time.time()
    pipe.replay(args.csv, args.limit, speed=args.speed)
    wait_for(lambda: pipe.processed() >= total // 10, 120, "a tenth of the stream")

    assigned = pipe.count_in_logs(r"assigned \S+ generation")
    zombie.send_signal(signal.SIGUSR2)  # arms the failpoint: it stops before its next commit
    wait_for(lambda: stopped(zombie.pid), 60, "the zombie to stop before a commit")
    at = pipe.processed()
    frozen_at = time.time()
    takeover = wait_new_assignment(pipe, assigned, 60)
    # Let the survivor commit past the zombie's batch, so its offsets are stale too.
    wait_for(lambda: pipe.processed() >= min(at + total // 40, total), 120,
             "the survivor's progress")
    frozen = time.time() - frozen_at
    assigned = pipe.count_in_logs(r"assigned \S+ generation")
    zombie.send_signal(signal.SIGCONT)
    resumed = time.time()
    wait_for(lambda: "fenced" in pipe.log("zombie"), 30, "the zombie's late commit to be fenced")
    fenced_after = time.time() - resumed
    wait_new_assignment(pipe, assigned, 60)  # the zombie rejoined: partitions moved back
    print(f"zombie frozen at {at}/{total} checkouts for {frozen:.1f}s; survivor took its "
          f"partitions after {takeover:.1f}s; late commit fenced {fenced_after:.2f}s after "
          f"SIGCONT; group rebalanced with it again {time.time() - resumed:.1f}s after SIGCONT")

    pipe.wait_drained(summary, 180)
    elapsed = time.time() - started
    st = pipe.check_exact(truth, summary)
    fenced = pipe.count_in_logs(r"fenced: ")
    pipe.stop_all()
    print(f"{fenced} fenced batch(es)")
    print(f"OK: {st['events_processed']} checkouts, {len(truth)} items exact, "
          f"{st['item_sales']['duplicates_dropped']} item-sales dropped as duplicates, "
          f"drained in {elapsed:.1f}s")


if __name__ == "__main__":
    sys.exit(main())
