"""Fault: scale-out and scale-in mid-stream. Two workers; a third joins at about a third of the
stream, then one of the first two gets SIGTERM at about two thirds: it must finish and commit its
batch, leave the group and exit 0, and its partitions move. Every rebalance bumps the generations
in Redis. Asserts exact final counts for every item, the totals and the DLQ against
ground_truth.py, and prints how long each move took."""
import argparse
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
    ap.add_argument("--max-item-sales-backlog", type=int, default=3000,
                    help="small, so stage 1 pauses and resumes often while partitions move")
    args = ap.parse_args()
    truth, summary = ground_truth.item_truth(args.csv, args.limit)
    with Processes() as procs:
        pipe = Pipeline(procs, args.segstream, worker_args=[
            "--max-item-sales-backlog", str(args.max_item_sales_backlog)]).start()
        try:
            run(pipe, args, truth, summary)
        except BaseException:
            pipe.dump()
            raise


def run(pipe, args, truth, summary):
    total = summary["checkouts"]
    pipe.worker("w0")
    pipe.worker("w1")
    started = time.time()
    pipe.replay(args.csv, args.limit)

    wait_for(lambda: pipe.processed() >= total // 3, 120, "a third of the stream")
    at_join = pipe.processed()
    t = time.time()
    pipe.worker("w2")
    wait_for(lambda: "assigned" in pipe.log("w2"), 60, "w2 to get partitions")
    joined = time.time() - t

    wait_for(lambda: pipe.processed() >= 2 * total // 3, 120, "two thirds of the stream")
    at_leave = pipe.processed()
    before = pipe.count_in_logs(r"assigned \S+ generation")
    t = time.time()
    leaver = pipe.workers["w0"]
    leaver.terminate()  # SIGTERM: graceful
    code = leaver.wait(timeout=60)
    shutdown = time.time() - t
    assert code == 0, (code, pipe.log("w0")[-3000:])
    assert "drained and stopped" in pipe.log("w0"), pipe.log("w0")[-3000:]
    moved = wait_new_assignment(pipe, before, 60) + shutdown

    pipe.wait_drained(summary, 180)
    elapsed = time.time() - started
    st = pipe.check_exact(truth, summary)
    fenced = pipe.count_in_logs(r"fenced: ")
    pipe.stop_all()
    pauses = pipe.count_in_logs(r"stage 1 paused")
    print(f"w2 joined at {at_join}/{total} checkouts and held partitions {joined:.1f}s after "
          f"it started; w0 left at {at_leave}/{total} (SIGTERM to exit 0 in {shutdown:.1f}s, partitions "
          f"moved after {moved:.1f}s); {fenced} fenced batches, {pauses} back-pressure pauses")
    print(f"OK: {st['events_processed']} checkouts, {len(truth)} items exact, "
          f"{st['item_sales']['duplicates_dropped']} item-sales dropped as duplicates, "
          f"drained in {elapsed:.1f}s")


if __name__ == "__main__":
    sys.exit(main())
