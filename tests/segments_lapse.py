"""A customer who stops buying lapses without any new event of theirs (issue 6, DESIGN §4 sweeps).

The test writes its own input, event time chosen by hand: 150 steady customers buy every 3 days
for a year; 40 "lapsers" (the watched customer among them) buy every 2 days for the first 40 days
and then never again. The first 30 days are replayed first and the model is left to converge: the
watched customer is then an active one, not in the longest-recency segment. Then the rest of the
year: the other customers' checkouts move the watermark, the re-scoring sweeps recompute recency,
and the watched customer must get a LAPSE segment change after its last purchase and end in the
segment with the longest recency, labelled "Lapsed"."""
import argparse
import datetime
import os
import sys

from fault_pipeline import Pipeline
from harness import Processes, wait_for
from e2e_segments import wait_converged

DAY_MS = 86_400_000
START = datetime.datetime(2011, 1, 1, 9, 0, tzinfo=datetime.timezone.utc)
WATCHED = "90001"


def write_input(path, days):
    """(invoice, customer, day) rows with day in `days`, in event-time order; returns the number
    of checkouts and the watched customer's last purchase time in ms."""
    purchases = []
    for c in range(150):
        for day in range(c % 3, 365, 3):
            purchases.append((day, f"{10000 + c}", 1 + c % 5, 2.0 + (c % 7)))
    for c in range(40):
        for day in range(c % 2, 40, 2):
            purchases.append((day, f"{90001 + c}", 2 + c % 3, 3.0 + (c % 4)))
    purchases.sort()
    last_ms = 0
    count = 0
    with open(path, "w") as f:
        f.write("InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,"
                "Country\n")
        for n, (day, customer, quantity, price) in enumerate(purchases):
            if day not in days:
                continue
            count += 1
            when = START + datetime.timedelta(days=day, minutes=n % 600)
            stamp = when.strftime("%Y-%m-%d %H:%M:%S")
            for line in range(2):
                f.write(f"{500000 + n},SKU{line}{n % 13},ITEM,{quantity},{stamp},{price:.2f},"
                        f"{customer},United Kingdom\n")
            if customer == WATCHED:
                last_ms = int(when.timestamp() * 1000)
    return count, last_ms


def replay_and_converge(pipe, path, expected_total):
    pipe.replay(path)
    assert pipe.replay_proc.wait(timeout=120) == 0, pipe.procs.log(pipe.replay_proc)
    wait_for(lambda: pipe.processed() == expected_total, 180, "the input to be processed")
    return wait_converged(pipe, 180)


def watched_events(pipe):
    events = [e for e in pipe.read_topic("segment-changes") if e["customer_id"] == WATCHED]
    for e in events:
        day = (e["event_time_ms"] - START.timestamp() * 1000) / DAY_MS
        print(f"  {e['reason']:<13} {e['from_segment']:>2} -> {e['to_segment']} "
              f"({e['to_label']}) at day {day:.0f}, model v{e['model_version']}")
    return events


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--segstream", required=True)
    args = ap.parse_args()
    with Processes() as procs:
        first = os.path.join(procs.tmp, "days-0-29.csv")
        rest = os.path.join(procs.tmp, "days-30-364.csv")
        first_count, _ = write_input(first, range(0, 30))
        rest_count, watched_last_ms = write_input(rest, range(30, 365))
        pipe = Pipeline(procs, args.segstream, partitions=3,
                        worker_args=["--segment-init-customers", "100"]).start()
        try:
            pipe.worker("w1")
            segments = replay_and_converge(pipe, first, first_count)
            by_recency = max(segments["segments"], key=lambda s: s["centroid"]["recency_days"])
            code, customer = pipe.get(f"/v1/customers/{WATCHED}")
            assert code == 200, customer
            print(f"day 29: {WATCHED} in segment {customer['segment']} ({customer['label']}), "
                  f"recency {customer['features']['recency_days']:.0f} days")
            assert customer["segment"] != by_recency["id"], (customer, by_recency)
            before = watched_events(pipe)

            segments = replay_and_converge(pipe, rest, first_count + rest_count)
            events = watched_events(pipe)
            lapses = [e for e in events[len(before):] if e["reason"] == "LAPSE"]
            assert lapses, f"no LAPSE event for {WATCHED}: {events}"
            assert all(e["event_time_ms"] > watched_last_ms for e in lapses), lapses
            code, customer = pipe.get(f"/v1/customers/{WATCHED}")
            assert code == 200, customer
            by_recency = max(segments["segments"], key=lambda s: s["centroid"]["recency_days"])
            print(f"day 364: {WATCHED} in segment {customer['segment']} ({customer['label']}), "
                  f"recency {customer['features']['recency_days']:.0f} days; longest-recency "
                  f"segment {by_recency['id']} ({by_recency['label']})")
            assert customer["segment"] == by_recency["id"], (customer, by_recency)
            assert customer["label"] == "Lapsed", customer
            assert events[-1]["to_segment"] == customer["segment"], events[-1]
        except BaseException:
            pipe.dump()
            raise
        pipe.stop_all()
    print("OK")


if __name__ == "__main__":
    sys.exit(main())
