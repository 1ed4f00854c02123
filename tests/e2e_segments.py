"""End to end: customer segments over the real Online Retail file (issue 6). The deployed pipeline
(broker, redis-server, two workers, serve) processes the whole file; once the segment model has
converged, the checks use only what the test computes itself:
- every customer with a sale (ground_truth.customer_truth) appears exactly once in
  /v1/export/customers.csv, and /v1/customers/{id} reports its frequency and monetary exactly;
- each exported segment is the nearest model centroid for >= 99.5% of customers;
- the model's inertia on the exported vectors is within 5% of a batch Lloyd fit (k-means++, best
  of 10) written here;
- segment-changes: one from_segment = -1 event per customer, unique event ids, and the last event
  of each customer names its exported segment.
With --compare-partitions P, a second pipeline with P partitions must give the same segment (up to
a renaming of segment ids) for >= 99% of customers (DESIGN §3 determinism)."""
import argparse
import csv
import io
import itertools
import json
import random
import sys
import time

import ground_truth
from fault_pipeline import Pipeline
from harness import Processes, wait_for


def lloyd(points, k, seed, iterations=100):
    """k-means++ seeding then Lloyd; returns (centroids, inertia)."""
    rng = random.Random(seed)
    centroids = [points[rng.randrange(len(points))]]
    d2 = [sq_dist(p, centroids[0]) for p in points]
    while len(centroids) < k:
        total = sum(d2)
        if total == 0:
            centroids.append(points[rng.randrange(len(points))])
        else:
            r = rng.random() * total
            acc = 0.0
            for i, w in enumerate(d2):
                acc += w
                if acc >= r:
                    break
            centroids.append(points[i])
        d2 = [min(a, sq_dist(p, centroids[-1])) for a, p in zip(d2, points)]
    labels = None
    for _ in range(iterations):
        new_labels = [nearest(p, centroids)[0] for p in points]
        if new_labels == labels:
            break
        labels = new_labels
        dim = len(points[0])
        sums = [[0.0] * dim for _ in range(k)]
        counts = [0] * k
        for p, c in zip(points, labels):
            counts[c] += 1
            s = sums[c]
            for j in range(dim):
                s[j] += p[j]
        centroids = [[v / counts[c] for v in sums[c]] if counts[c] else centroids[c]
                     for c in range(k)]
    return centroids, inertia(points, centroids)


def sq_dist(a, b):
    return sum((x - y) ** 2 for x, y in zip(a, b))


def nearest(p, centroids):
    best, best_d = 0, float("inf")
    for c, centroid in enumerate(centroids):
        d = sq_dist(p, centroid)
        if d < best_d:
            best, best_d = c, d
    return best, best_d


def inertia(points, centroids):
    return sum(nearest(p, centroids)[1] for p in points)


def wait_converged(pipe, timeout):
    """Waits until every partition has re-scored against the current model and the model has not
    changed for a few refresh intervals; returns /v1/segments."""
    deadline = time.time() + timeout
    last, stable_since = None, None
    while time.time() < deadline:
        code, seg = pipe.get("/v1/segments")
        assert code == 200, seg
        if seg["model_version"] > 0 and seg["scored"]:
            if last == seg["model_version"]:
                if time.time() - stable_since >= 4:
                    return seg
            else:
                last, stable_since = seg["model_version"], time.time()
        else:
            last = None
        time.sleep(0.5)
    raise TimeoutError(f"segment model did not converge: {seg}")


def export(pipe):
    import http.client
    host, port = pipe.address.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    conn.request("GET", "/v1/export/customers.csv")
    r = conn.getresponse()
    body = r.read().decode()
    assert r.status == 200, body[:500]
    assert r.getheader("Content-Type").startswith("text/csv"), r.getheaders()
    rows = list(csv.reader(io.StringIO(body)))
    return rows[0], rows[1:]


def run_pipeline(procs, seg, csv_path, partitions, customers, summary):
    pipe = Pipeline(procs, seg, partitions=partitions, session_ms=6000).start()
    try:
        pipe.worker("w1")
        pipe.worker("w2")
        started = time.time()
        pipe.replay(csv_path)
        pipe.wait_drained(summary, 300)
        drained = time.time() - started
        segments = wait_converged(pipe, 300)
        header, rows = export(pipe)
        print(f"{partitions} partitions: drained in {drained:.1f}s, model v"
              f"{segments['model_version']} converged after {time.time() - started:.1f}s")
        return pipe, segments, header, rows
    except BaseException:
        pipe.dump()
        raise


def check_export(segments, header, rows, customers):
    features = segments["features"]
    assert header == ["customer_id", "segment"] + features, header
    k = segments["k"]
    ids = [r[0] for r in rows]
    assert len(ids) == len(set(ids)), "a customer exported twice"
    with_sale = {c for c, v in customers.items() if v["sale_checkouts"] > 0}
    assert set(ids) == with_sale, (f"{len(set(ids) - with_sale)} unexpected, "
                                   f"{len(with_sale - set(ids))} missing")
    centroids = [s["centroid_scaled"] for s in sorted(segments["segments"], key=lambda s: s["id"])]
    assert len(centroids) == k
    points = [[float(v) for v in r[2:]] for r in rows]
    labels = [int(r[1]) for r in rows]
    assert all(0 <= s < k for s in labels)
    agree = sum(1 for p, s in zip(points, labels) if nearest(p, centroids)[0] == s) / len(rows)
    # How much closer the nearest centroid is for those that are not in it (hysteresis keeps a
    # customer in its segment unless the new one is closer by the margin).
    gaps = sorted(1 - nearest(p, centroids)[1] ** 0.5 / sq_dist(p, centroids[s]) ** 0.5
                  for p, s in zip(points, labels) if nearest(p, centroids)[0] != s)
    if gaps:
        print(f"{len(gaps)} customers not in their nearest segment; nearest closer by "
              f"median {gaps[len(gaps) // 2]:.4f}, max {gaps[-1]:.4f}")
    model_inertia = inertia(points, centroids)
    best = min(lloyd(points, k, seed)[1] for seed in range(10))
    ratio = model_inertia / best
    print(f"nearest-centroid agreement {agree:.4f}; inertia {model_inertia:.1f} vs Lloyd best of "
          f"10 {best:.1f}: ratio {ratio:.4f}")
    assert agree >= 0.995, agree
    assert ratio <= 1.05, ratio
    return dict(zip(ids, labels))


def check_customers(pipe, customers, exported):
    """Features served for a sample of customers equal the ground truth (frequency, monetary)."""
    sample = sorted(exported)[::97]
    for cid in sample:
        code, body = pipe.get(f"/v1/customers/{cid}")
        assert code == 200, (cid, body)
        truth = customers[cid]
        assert body["segment"] == exported[cid], (cid, body)
        f = body["features"]
        assert f["frequency"] == truth["sale_checkouts"], (cid, f, truth)
        monetary = (truth["sales_micros"] - truth["returns_micros"]) / 1e6
        assert abs(f["monetary"] - monetary) < 1e-6, (cid, f, truth)
    code, body = pipe.get("/v1/customers/no-such-customer")
    assert code == 404, body
    print(f"/v1/customers: {len(sample)} customers' frequency and monetary exact")


def check_events(pipe, exported, dedup=False):
    """segment-changes against the export. Without `dedup` (no crash) every event id is unique and
    every customer has exactly one first assignment. With `dedup` (after crashes) records with one
    id must be identical copies, dropped as a consumer would; a replayed batch may also re-decide
    a change under a newer model (a different id), so there every customer needs at least one
    first assignment. The last event of every customer names its exported segment, crashes or
    not (see below)."""
    events = pipe.read_topic("segment-changes")
    by_id = {}
    for e in events:
        content = {k: v for k, v in e.items() if not k.startswith("_")}
        assert by_id.setdefault(e["event_id"], content) == content, (by_id[e["event_id"]], e)
    duplicates = len(events) - len(by_id)
    assert dedup or duplicates == 0, f"{duplicates} duplicate event ids"
    seen, unique = set(), []
    for e in sorted(events, key=lambda e: (e["_partition"], e["_offset"])):
        if e["event_id"] not in seen:
            seen.add(e["event_id"])
            unique.append(e)
    firsts, last, reasons = {}, {}, {}
    for e in unique:
        cid = e["customer_id"]
        assert e["_key"] == cid, e
        if e["from_segment"] == -1:
            firsts[cid] = firsts.get(cid, 0) + 1
        last[cid] = e["to_segment"]
        reasons[e["reason"]] = reasons.get(e["reason"], 0) + 1
    assert set(firsts) == set(exported), "first assignments do not cover the exported customers"
    again = sum(1 for n in firsts.values() if n > 1)
    assert dedup or again == 0, f"{again} customers assigned from -1 twice"
    wrong = [c for c in exported if last.get(c) != exported[c]]
    # A batch that produced X -> Y and died before its commit may be replayed under a newer model
    # that keeps the customer in X: the replay then sends a RESTATE event (from = to = X), so the
    # last event is never stale, crash or not (ingest/segmenter.h; before it, 1 customer of ~4,300
    # in one kill -9 run).
    print(f"segment-changes: {len(events)} records, {duplicates} duplicates by event_id, "
          f"{len(unique)} events {reasons}; {again} customers re-assigned from -1; "
          f"last event = segment for {len(exported) - len(wrong)} of {len(exported)}"
          + (f" (stale: {[(c, last.get(c), exported[c]) for c in wrong[:20]]})" if wrong else ""))
    assert not wrong, f"{len(wrong)} customers whose last event is not their segment: {wrong[:5]}"


def table(segments):
    for s in segments["segments"]:
        c = s["centroid"]
        print(f"  {s['id']} {s['label']:<13} size {s['size']:>5}  " +
              " ".join(f"{name}={c[name]:.2f}" for name in segments["features"]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--segstream", required=True)
    ap.add_argument("--csv", required=True)
    ap.add_argument("--partitions", type=int, default=6)
    ap.add_argument("--compare-partitions", type=int, default=None)
    args = ap.parse_args()
    customers = ground_truth.customer_truth(args.csv)
    _, summary = ground_truth.item_truth(args.csv)

    with Processes() as procs:
        pipe, segments, header, rows = run_pipeline(procs, args.segstream, args.csv,
                                                    args.partitions, customers, summary)
        try:
            print(f"model v{segments['model_version']} k {segments['k']} inertia "
                  f"{segments['inertia']:.1f}; transform: {segments['transform']['description']}")
            table(segments)
            exported = check_export(segments, header, rows, customers)
            check_customers(pipe, customers, exported)
            check_events(pipe, exported)
        except BaseException:
            pipe.dump()
            raise
        pipe.stop_all()
    if args.compare_partitions:
        with Processes() as procs:
            other, other_segments, _, other_rows = run_pipeline(
                procs, args.segstream, args.csv, args.compare_partitions, customers, summary)
            other.stop_all()
        theirs = {r[0]: int(r[1]) for r in other_rows}
        k = segments["k"]
        # Segment ids are names: match them by the renaming that agrees most.
        best, perm = max((sum(1 for c, s in exported.items() if perm[s] == theirs.get(c)), perm)
                         for perm in itertools.permutations(range(k)))
        share = best / len(exported)
        print(f"{args.partitions} vs {args.compare_partitions} partitions: same segment for "
              f"{share:.4f} of customers")
        table(other_segments)
        assert share >= 0.99, share
        ours = {s["id"]: s["label"] for s in segments["segments"]}
        other_labels = {s["id"]: s["label"] for s in other_segments["segments"]}
        assert all(ours[s] == other_labels[perm[s]] for s in range(k)), (ours, other_labels, perm)
    print("OK")


if __name__ == "__main__":
    sys.exit(main())
