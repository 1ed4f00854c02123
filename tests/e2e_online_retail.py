"""End to end over the real Online Retail file: `segstream run` replays all 541,909 lines through
the embedded broker and a real redis-server; every item's counts served over HTTP must equal the
ground truth computed independently here (ground_truth.py), as must the DLQ count."""
import argparse
import sys
import time
import urllib.parse

import ground_truth
from harness import Api, Processes, read_line_matching, stop, wait_for


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--segstream", required=True)
    ap.add_argument("--csv", required=True)
    args = ap.parse_args()

    truth, summary = ground_truth.item_truth(args.csv)
    with Processes() as procs:
        started = time.time()
        run = procs.start([args.segstream, "run", "--csv", args.csv, "--speed", "max",
                           "--http", "127.0.0.1:0"], "run")
        address = read_line_matching(run, r"dashboard=http://([0-9.:]+)/", 60).group(1)
        api = Api(address)

        def drained():
            code, st = api.get("/v1/status")
            return (code == 200 and st["replay"]["done"]
                    and st["events_processed"] + st["dlq_events"] == st["replay"]["events"]
                    and st["item_sales"]["applied"] == st["item_sales"]["produced"])

        wait_for(drained, 300, "the pipeline to process the whole file")
        elapsed = time.time() - started
        code, st = api.get("/v1/status")
        assert code == 200, st
        print(f"processed in {elapsed:.1f}s: {st['events_processed']} checkouts, "
              f"{st['dlq_events']} dead-lettered")
        assert st["replay"]["events"] == summary["checkouts"], (st, summary)
        assert st["events_processed"] == summary["processed"], (st, summary)
        assert st["dlq_events"] == summary["dlq"], (st, summary)
        assert st["dlq_by_reason"] == dict(summary["dlq_reasons"]), st

        # /metrics (Prometheus text format) reports the same totals.
        metrics = api.get_text("/metrics")
        assert metrics["content_type"].startswith("text/plain; version=0.0.4"), metrics
        samples = dict(line.rsplit(" ", 1) for line in metrics["body"].splitlines()
                       if line and not line.startswith("#"))
        assert float(samples["segstream_events_consumed_total"]) == summary["checkouts"], samples
        for reason, count in summary["dlq_reasons"].items():
            assert float(samples[f'segstream_dlq_total{{reason="{reason}"}}']) == count, samples
        assert float(samples["segstream_watermark_ms"]) == st["watermark_ms"], samples

        # Every item, one request each, against the independent counts.
        mismatches = []
        for sku, want in truth.items():
            code, got = api.get("/v1/items/" + urllib.parse.quote(sku, safe=""))
            if code != 200:
                mismatches.append((sku, code, got))
                continue
            for field, value in want.items():
                if got[field] != value:
                    mismatches.append((sku, field, got[field], value))
        assert not mismatches, f"{len(mismatches)} mismatches, e.g. {mismatches[:5]}"

        code, top = api.get("/v1/items/top?n=10&by=orders")
        want_top = sorted(truth.items(), key=lambda kv: (-kv[1]["orders"], kv[0]))[:10]
        assert [i["sku"] for i in top["items"]] == [sku for sku, _ in want_top], top
        code, missing = api.get("/v1/items/NO-SUCH-SKU")
        assert code == 404 and missing["error"]["code"] == 404, missing
        code, bad = api.get("/v1/items/top?n=0")
        assert code == 400, bad
        assert stop(run) == 0, procs.log(run)
        print(f"OK: {len(truth)} items exact, top 10 {[sku for sku, _ in want_top]}")


if __name__ == "__main__":
    sys.exit(main())
