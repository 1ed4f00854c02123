"""Fault: a zombie worker. Two workers; one is frozen with SIGSTOP past the session timeout, the
group gives its partitions to the other (which claims them: a new generation in Redis), then the
frozen one gets SIGCONT and carries on with the batch it had in hand. Its late commits must be
rejected by the fence (DESIGN §5: stored offset + generation checked in the same atomic call) —
the worker logs "fenced" — and the counts must stay exact: every item, the totals and the DLQ
against ground_truth.py."""
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
    args = ap.parse_args()
    truth, summary = ground_truth.item_truth(args.csv, args.limit)
    with Processes() as procs:
        pipe = Pipeline(procs, args.segstream).start()
        try:
            run(pipe, args, truth, summary)
        except BaseException:
            pipe.dump()
            raise


def run(pipe, args, truth, summary):
    total = summary["checkouts"]
    zombie, survivor = pipe.worker("zombie"), pipe.worker("survivor")
    started = time.time()
    pipe.replay(args.csv, args.limit)
    wait_for(lambda: pipe.processed() >= total // 5, 120, "a fifth of the stream")

    # Whether the zombie still has a batch in hand when it wakes up depends on where SIGSTOP
    # caught it: in the middle of a cycle it commits late and is fenced; waiting in consume() it
    # may hear of the revocation first and drop the batch itself. Freeze it again until a late
    # commit has been seen (typically the first or second time).
    attempts = []
    for attempt in range(1, 6):
        assert pipe.processed() < total * 0.85, f"stream nearly over after {attempts}"
        assigned = pipe.count_in_logs(r"assigned \S+ generation")
        at = pipe.processed()
        zombie.send_signal(signal.SIGSTOP)
        stopped = time.time()
        takeover = wait_new_assignment(pipe, assigned, 60)
        # Let the survivor commit past the zombie's batch, so its offsets are stale too.
        wait_for(lambda: pipe.processed() >= at + total // 40, 120, "the survivor's progress")
        frozen = time.time() - stopped
        assigned = pipe.count_in_logs(r"assigned \S+ generation")
        zombie.send_signal(signal.SIGCONT)
        resumed = time.time()
        try:
            wait_for(lambda: "fenced" in pipe.log("zombie"), 5, "a fenced late commit")
            fenced_after = time.time() - resumed
        except TimeoutError:
            fenced_after = None
        wait_new_assignment(pipe, assigned, 60)  # the zombie rejoined: partitions moved back
        rejoin = time.time() - resumed
        attempts.append((at, frozen, takeover, fenced_after))
        print(f"attempt {attempt}: zombie frozen at {at}/{total} checkouts for {frozen:.1f}s; "
              f"survivor took its partitions after {takeover:.1f}s; " +
              (f"late commit fenced {fenced_after:.2f}s after SIGCONT" if fenced_after is not None
               else "no late commit (it saw the revocation first)") +
              f"; group rebalanced with it again {rejoin:.1f}s after SIGCONT")
        if fenced_after is not None:
            break
    assert attempts[-1][3] is not None, "the zombie never committed late"
    pipe.wait_drained(summary, 180)
    elapsed = time.time() - started
    st = pipe.check_exact(truth, summary)
    fenced = pipe.count_in_logs(r"fenced: ")
    pipe.stop_all()
    print(f"{fenced} fenced batches in {len(attempts)} freeze(s)")
    print(f"OK: {st['events_processed']} checkouts, {len(truth)} items exact, "
          f"{st['item_sales']['duplicates_dropped']} item-sales dropped as duplicates, "
          f"drained in {elapsed:.1f}s")


if __name__ == "__main__":
    sys.exit(main())
