"""End to end over the real Online Retail file: `segstream run` replays all 541,909 lines through
the embedded broker and a real redis-server; every item's counts served over HTTP must equal the
ground truth computed independently here (ground_truth.py), as must the DLQ count."""
import argparse
import http.client
import json
import threading
import sys
import time
import urllib.parse

import ground_truth
from harness import (item_mismatches, Api, Processes, read_line_matching, stop,
                     wait_until_drained)


def listen_events(address):
    """Collects `/v1/events` (Server-Sent Events) lines on a thread while the file replays."""
    lines = []

    def read():
        host, port = address.rsplit(":", 1)
        conn = http.client.HTTPConnection(host, int(port), timeout=120)
        conn.request("GET", "/v1/events")
        r = conn.getresponse()
        assert r.status == 200 and r.getheader("Content-Type").startswith("text/event-stream")
        try:
            for raw in r:
                lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
        except (OSError, http.client.HTTPException):
            pass

    threading.Thread(target=read, daemon=True).start()
    return lines


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
        events = listen_events(address)

        wait_until_drained(api, 300, "the pipeline to process the whole file")
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
        mismatches = item_mismatches(api.get, truth)
        assert not mismatches, f"{len(mismatches)} mismatches, e.g. {mismatches[:5]}"

        # Percentiles of window `all` against the exact mid-rank ones.
        want_pct = ground_truth.mid_rank_percentiles(truth)
        for sku in list(truth)[:400]:
            code, got = api.get("/v1/items/" + urllib.parse.quote(sku, safe=""))
            if sku in want_pct:
                assert abs(got["percentile"] - want_pct[sku]) <= 0.5, (sku, got, want_pct[sku])
            else:
                assert got["percentile"] is None and got["orders"] == 0, got

        # Popularity quantiles and the top 10% from the merged t-digests vs the exact ones.
        code, qs = api.get("/v1/popularity/quantiles?q=0.5,0.9,0.99")
        assert code == 200 and qs["items"] == len(want_pct), qs
        orders = sorted(v["orders"] for v in truth.values() if v["orders"] >= 1)
        for q in ("0.5", "0.9", "0.99"):
            # The served value's exact rank fraction is within half a percentile point of q.
            served = qs["quantiles"][q]
            rank = sum(1 for o in orders if o <= served) / len(orders)
            assert abs(rank - float(q)) <= 0.005, (q, served, rank)
        code, top10 = api.get("/v1/popularity/top-percent?p=10")
        threshold = ground_truth.exact_quantile(truth, 0.9)
        want_set = {sku for sku, v in truth.items() if v["orders"] >= threshold}
        assert top10["threshold"] == threshold, top10["threshold"]
        assert {i["sku"] for i in top10["items"]} == want_set, len(top10["items"])
        print(f"quantiles {qs['quantiles']}, top 10%: {len(want_set)} items exact")

        # Event-time windows at the watermark the server reports.
        watermark = st["watermark_ms"]
        for name, duration in (("24h", 24), ("7d", 24 * 7), ("30d", 24 * 30)):
            want_window = ground_truth.window_truth(args.csv, watermark, duration * 3_600_000)
            assert want_window, name
            bad = []
            for sku, want in want_window.items():
                code, got = api.get(f"/v1/items/{urllib.parse.quote(sku, safe='')}?window={name}")
                if code != 200 or any(got[f] != v for f, v in want.items()):
                    bad.append((sku, code, got, want))
            assert not bad, f"window {name}: {len(bad)} mismatches, e.g. {bad[:3]}"
            code, top_w = api.get(f"/v1/items/top?n=5&window={name}")
            want_top_w = sorted(want_window.items(), key=lambda kv: (-kv[1]["orders"], kv[0]))[:5]
            assert [i["sku"] for i in top_w["items"]] == [s for s, _ in want_top_w], (name, top_w)
            print(f"window {name}: {len(want_window)} items exact")

        # The live feed saw the top items move while the file replayed; its last word is the final top.
        tops = [json.loads(line[len("data: "):]) for i, line in enumerate(events)
                if line.startswith("data: ") and i > 0 and events[i - 1] == "event: top-items"]
        assert len(tops) >= 2, events[:10]
        code, top = api.get("/v1/items/top?n=10&by=orders")
        assert [i["sku"] for i in tops[-1]["items"]] == [i["sku"] for i in top["items"]], tops[-1]
        print(f"/v1/events: {len(tops)} top-items updates")

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
