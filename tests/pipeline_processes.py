"""The pipeline as separate processes, the way it is deployed: `segstream broker`, a real
redis-server, two `segstream worker` processes in one group, `segstream replay`, `segstream serve`
and `segstream tail`. Checks exact counts against the independent ground truth, the DLQ records
with their reason headers, and that SIGTERM drains every process with exit code 0."""
import argparse
import json
import subprocess
import sys

import ground_truth
from harness import Api, Processes, read_line_matching, stop, wait_until_drained


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--segstream", required=True)
    ap.add_argument("--csv", required=True)
    args = ap.parse_args()
    seg = args.segstream
    truth, summary = ground_truth.item_truth(args.csv)

    with Processes() as procs:
        broker, bootstrap = procs.broker(seg, 3)
        _, redis = procs.redis()
        workers = [procs.start([seg, "worker", "--brokers", bootstrap, "--redis", redis,
                                "--session-timeout-ms", "6000"], f"worker{i}")
                   for i in range(2)]
        serve = procs.start([seg, "serve", "--redis", redis, "--http", "127.0.0.1:0",
                             "--brokers", bootstrap], "serve")
        address = read_line_matching(serve, r"dashboard=http://([0-9.:]+)/", 30).group(1)
        api = Api(address)

        replay = subprocess.run([seg, "replay", "--csv", args.csv, "--brokers", bootstrap,
                                 "--redis", redis], capture_output=True, timeout=300)
        assert replay.returncode == 0, replay.stderr.decode()
        assert b"25901 checkouts" in replay.stderr, replay.stderr.decode()

        wait_until_drained(api, 300, "two workers to process the file", checkouts=summary["checkouts"])
        code, st = api.get("/v1/status")
        assert st["events_processed"] == summary["processed"], st
        assert st["dlq_events"] == summary["dlq"], st
        assert st["brokers"] == bootstrap and st["redis"] == redis, st

        code, top = api.get("/v1/items/top?n=1000&by=orders")
        assert code == 200 and len(top["items"]) == 1000, code
        for item in top["items"]:
            want = truth[item["sku"]]
            got = {k: item[k] for k in want}
            assert got == want, (item["sku"], got, want)
        code, by_revenue = api.get("/v1/items/top?n=5&by=revenue")
        want_rev = sorted(truth.items(), key=lambda kv: (-kv[1]["revenue_micros"], kv[0]))[:5]
        assert [i["sku"] for i in by_revenue["items"]] == [s for s, _ in want_rev], by_revenue

        tail = subprocess.run([seg, "tail", "--brokers", bootstrap, "--topic", "checkouts.dlq",
                               "--from-beginning", "--max", "10", "--timeout-ms", "3000"],
                              capture_output=True, timeout=60)
        assert tail.returncode == 0, tail.stderr.decode()
        records = [json.loads(line) for line in tail.stdout.decode().splitlines()]
        assert len(records) == summary["dlq"], records
        for r in records:
            assert r["_headers"]["segstream.error.reason"] == "negative_price", r
            assert r["_headers"]["segstream.error.topic"] == "checkouts", r
            assert r["invoice_no"] in ("A563186", "A563187"), r
            assert r["_headers"]["segstream.error.partition"].isdigit(), r
            assert r["_headers"]["segstream.error.offset"].isdigit(), r
        for w in workers:
            assert stop(w) == 0, procs.log(w)
        assert stop(serve) == 0, procs.log(serve)
        assert stop(broker) == 0, procs.log(broker)
        print(f"OK: 2 workers, {st['events_processed']} checkouts, {len(records)} DLQ records")


if __name__ == "__main__":
    sys.exit(main())
