"""A customer who stops buying lapses without any new event of theirs (issue 6, DESIGN §4 sweeps).

The test writes its own input, event time chosen by hand: 150 steady customers buy every 3 days
for a year; 40 "lapsers" (the watched customer among them) buy every 2 days for the first 40 days
and then never again. As the other customers' checkouts move the watermark, the re-scoring sweeps
recompute recency: the watched customer must get a LAPSE segment change after its last purchase,
end in the segment labelled "Lapsed", and that segment's centroid must have the largest recency."""
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


def write_input(path):
    """(invoice, customer, day) rows, in event-time order; returns the watched customer's last
    purchase time in ms."""
    purchases = []
    for c in range(150):
        for day in range(c % 3, 365, 3):
            purchases.append((day, f"{10000 + c}", 1 + c % 5, 2.0 + (c % 7)))
    for c in range(40):
        for day in range(c % 2, 40, 2):
            purchases.append((day, f"{90001 + c}", 2 + c % 3, 3.0 + (c % 4)))
    purchases.sort()
    last_ms = 0
    with open(path, "w") as f:
        f.write("InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,"
                "Country\n")
        for n, (day, customer, quantity, price) in enumerate(purchases):
            when = START + datetime.timedelta(days=day, minutes=n % 600)
            stamp = when.strftime("%Y-%m-%d %H:%M:%S")
            for line in range(2):
                f.write(f"{500000 + n},SKU{line}{n % 13},ITEM,{quantity},{stamp},{price:.2f},"
                        f"{customer},United Kingdom\n")
            if customer == WATCHED:
                last_ms = int(when.timestamp() * 1000)
    return len(purchases), last_ms


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--segstream", required=True)
    args = ap.parse_args()
    with Processes() as procs:
        path = os.path.join(procs.tmp, "lapse.csv")
        checkouts, watched_last_ms = write_input(path)
        pipe = Pipeline(procs, args.segstream, partitions=3,
                        worker_args=["--segment-init-customers", "100"]).start()
        try:
            pipe.worker("w1")
            # Paced, so the model is made early and re-scored as event time advances.
            pipe.replay(path, speed="2000000")
            summary = {"checkouts": checkouts}
            wait_for(lambda: pipe.processed() == checkouts and pipe.status()["replay"]["done"],
                     180, "the input to be processed")
            segments = wait_converged(pipe, 180)
            events = [e for e in pipe.read_topic("segment-changes") if e["customer_id"] == WATCHED]
            for e in events:
                print(f"  {e['reason']:<13} {e['from_segment']:>2} -> {e['to_segment']} "
                      f"({e['to_label']}) at day {(e['event_time_ms'] - START.timestamp() * 1000) / DAY_MS:.0f}"
                      f", model v{e['model_version']}")
            lapses = [e for e in events if e["reason"] == "LAPSE"]
            assert lapses, f"no LAPSE event for {WATCHED}: {events}"
            assert all(e["event_time_ms"] > watched_last_ms for e in lapses), lapses
            code, customer = pipe.get(f"/v1/customers/{WATCHED}")
            assert code == 200, customer
            by_recency = max(segments["segments"], key=lambda s: s["centroid"]["recency_days"])
            print(f"{WATCHED}: segment {customer['segment']} ({customer['label']}), recency "
                  f"{customer['features']['recency_days']:.0f} days; longest-recency segment "
                  f"{by_recency['id']} ({by_recency['label']})")
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
