"""Fault: kill -9 of a `segstream worker` process at seeded random points mid-stream, restarted
at once each time, with two workers in the group so partitions move (DESIGN §5). A killed batch
was produced (maybe in part) but not committed: its replacement replays it from Redis's offset and
stage 2 drops the duplicates by high-water mark. Asserts exact final counts for every item, the
totals and the DLQ against ground_truth.py; then, once the segment model has converged, that
every customer with a sale is exported once and is in its nearest segment (99.5%), and that after
dedup by event_id the last segment-change of every customer names its segment (no change lost,
none stale: a killed batch's moves are restated by its replay, ingest/segmenter.h; duplicates
identical). Prints how long each reassignment took and how many RESTATE events were sent."""
import argparse
import random
import sys
import time

import ground_truth
from e2e_segments import check_events, check_export, export, wait_converged
from fault_pipeline import Pipeline, wait_new_assignment
from harness import Processes, wait_for


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--segstream", required=True)
    ap.add_argument("--csv", required=True)
    ap.add_argument("--limit", type=int, default=None, help="checkouts to replay (default all)")
    ap.add_argument("--kills", type=int, default=3)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--max-item-sales-backlog", type=int, default=3000,
                    help="small, so stage 1 pauses and resumes often while partitions move")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    truth, summary = ground_truth.item_truth(args.csv, args.limit)
    total = summary["checkouts"]
    points = sorted(int(total * rng.uniform(0.05, 0.9)) for _ in range(args.kills))

    with Processes() as procs:
        pipe = Pipeline(procs, args.segstream, worker_args=[
            "--max-item-sales-backlog", str(args.max_item_sales_backlog)]).start()
        try:
            run(pipe, args, rng, points, truth, summary)
        except BaseException:
            pipe.dump()
            raise


def run(pipe, args, rng, points, truth, summary):
    total = summary["checkouts"]
    pipe.worker("w0")
    pipe.worker("w1")
    started = time.time()
    pipe.replay(args.csv, args.limit)
    recoveries = []
    for i, point in enumerate(points):
        wait_for(lambda: pipe.processed() >= point, 120, f"{point} checkouts processed")
        victim = rng.choice(sorted(pipe.alive()))
        assigned = pipe.count_in_logs(r"assigned \S+ generation")
        at = pipe.processed()
        pipe.workers[victim].kill()  # SIGKILL: no flush, no commit, no leave-group
        pipe.workers[victim].wait()
        pipe.worker(f"{victim}.{i + 1}")
        recoveries.append(wait_new_assignment(pipe, assigned, 60))
        print(f"kill {i + 1}: {victim} at {at}/{total} checkouts; partitions reassigned "
              f"after {recoveries[-1]:.1f}s")
    pipe.wait_drained(summary, 180)
    elapsed = time.time() - started
    st = pipe.check_exact(truth, summary)
    segments = wait_converged(pipe, 180)
    header, rows = export(pipe)
    exported = check_export(segments, header, rows, ground_truth.customer_truth(args.csv, args.limit))
    check_events(pipe, exported, dedup=True)
    pipe.stop_all()
    print(f"OK: {args.kills} kills (seed {args.seed}), {st['events_processed']} checkouts, "
          f"{len(truth)} items exact, {st['item_sales']['duplicates_dropped']} replayed "
          f"item-sales dropped as duplicates, drained in {elapsed:.1f}s")


if __name__ == "__main__":
    sys.exit(main())
