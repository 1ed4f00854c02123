"""Smoke test of `segstream bench e2e` (issue 10): a small pre-filled topic read by the bare
consumer and by the pipeline, and a short latency run. Asserts the report's shape and exact counts
(every pre-filled or sent checkout accounted for), never a timing."""
import argparse
import json
import subprocess


def run(cmd):
    result = subprocess.run(cmd, capture_output=True, timeout=300)
    assert result.returncode == 0, result.stderr.decode()
    return json.loads(result.stdout), result.stderr.decode()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--segstream", required=True)
    ap.add_argument("--csv", required=True)
    args = ap.parse_args()
    events = 3000
    report, table = run([args.segstream, "bench", "e2e", "--csv", args.csv, "--events",
                         str(events), "--partitions", "3", "--threads", "2", "--timeout-s", "60"])
    assert "ratio pipeline/raw" in table, table
    assert report["mode"] == "throughput"
    assert report["prefill"]["events"] == events, report
    assert report["raw"]["events"] == events, report
    assert report["pipeline"]["events"] == events, report
    assert report["events_processed"] + report["dlq_events"] == events, report
    assert report["item_sales_applied"] == report["item_sales_produced"] > 0, report
    assert report["raw"]["events_per_second"] > 0, report
    assert report["pipeline"]["events_per_second"] > 0, report
    assert report["ratio"] > 0, report
    # The repartition floor splits the same checkouts: as many item-sales as the pipeline made.
    assert report["repartition"]["checkouts"] == events, report
    assert report["repartition"]["item_sales"] == report["item_sales_produced"], report

    rate, seconds = 400, 2
    report, table = run([args.segstream, "bench", "e2e", "--latency", "--csv", args.csv,
                         "--rate", str(rate), "--duration-s", str(seconds), "--partitions", "2",
                         "--threads", "1", "--no-serve"])
    assert report["mode"] == "latency"
    assert report["produced"] == rate * seconds, report
    assert report["measured"] == rate * seconds, report
    assert report["offsets_consistent"] is True, report
    lat = report["latency_ms"]
    assert 0 < lat["p50"] <= lat["p99"] <= lat["max"], report
    print("bench e2e smoke: ok")


if __name__ == "__main__":
    main()
