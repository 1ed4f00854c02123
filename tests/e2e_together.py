"""End to end "frequently bought together" (issue 12): `segstream run --speed max` replays a CSV,
and the served /v1/items/{sku}/together answers must equal an independent computation here from
the CSV (ground_truth.checkouts):

- a checkout's basket is its distinct skus with sale lines (quantity > 0); checkouts with more
  than BASKET_CAP of them (ingest::ItemSalesOptions::max_basket_for_pairs) count in orders and in
  the lift base but in no pair, and are counted in segstream_baskets_capped_total;
- for the TOP most popular skus (orders, window `all`; and the top skus of window 30d at the
  server's watermark), the top-10 partners and their counts are exact (ties at the boundary in
  any order), confidence and lift to 1e-9.

`--csv F`: the Online Retail file. `--generate`: a `segstream generate --basket-scale` stream of
huge baskets (hundreds of skus), run at two basket sizes: the cap's behaviour, and Redis memory
that grows with the sale lines, not with the pairs (doubling every basket doubles the sale lines and
about quadruples the pairs). Redis INFO memory used_memory is reported."""
import argparse
import os
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections import Counter, defaultdict

import ground_truth
from harness import (Api, Processes, read_line_matching, redis_cli, stop, wait_for,
                     wait_until_drained)

BASKET_CAP = 100
N = 10
HOUR_MS = 3_600_000


class Truth:
    """Independent counts over the valid checkouts of a CSV."""

    def __init__(self, path):
        self.orders = Counter()       # sku -> checkouts with a sale line of it
        self.sale_checkouts = 0
        self.capped = 0
        self.stored = 0
        self.sale_lines = 0           # Σ distinct sale skus over sale checkouts
        self.directed_pairs = 0       # Σ n(n-1): what pair counters would have to touch
        self.baskets = []             # (event_ms, frozenset) of the baskets that count in pairs
        self.sales = []               # (event_ms, frozenset) of every sale checkout
        for invoice, _customer, event_ms, lines in ground_truth.checkouts(path):
            if ground_truth.dead_letter_reason(invoice, event_ms, lines):
                continue
            basket = frozenset(sku for sku, _d, quantity, _p in lines if quantity > 0)
            if not basket:
                continue
            self.sale_checkouts += 1
            self.sale_lines += len(basket)
            self.directed_pairs += len(basket) * (len(basket) - 1)
            self.orders.update(basket)
            self.sales.append((event_ms, basket))
            if len(basket) > BASKET_CAP:
                self.capped += 1
            elif len(basket) >= 2:
                self.stored += 1
                self.baskets.append((event_ms, basket))

    def window(self, watermark_ms, duration_ms):
        """(orders, sale_checkouts, baskets) of `last duration` at the watermark (DESIGN §3)."""
        last = (watermark_ms // HOUR_MS) * HOUR_MS
        first = last - ((duration_ms + HOUR_MS - 1) // HOUR_MS - 1) * HOUR_MS
        inside = lambda t: first <= (t // HOUR_MS) * HOUR_MS <= last
        orders = Counter()
        sales = 0
        for t, basket in self.sales:
            if inside(t):
                orders.update(basket)
                sales += 1
        return orders, sales, [(t, b) for t, b in self.baskets if inside(t)]


def partners_of(sku, baskets):
    out = Counter()
    for _t, basket in baskets:
        if sku in basket:
            out.update(b for b in basket if b != sku)
    return out


def check_answer(api, sku, window, orders, sale_checkouts, baskets):
    """The served top N partners of `sku` in `window` against the truth; returns the rows."""
    quoted = urllib.parse.quote(sku, safe="")
    code, got = api.get(f"/v1/items/{quoted}/together?n={N}&window={window}")
    assert code == 200, (sku, window, code, got)
    want = partners_of(sku, baskets)
    assert len(got) == min(N, len(want)), (sku, window, len(got), len(want))
    # Ties at the boundary may be answered in any order: the counts must be the true top counts,
    # and every sku returned must carry its true count.
    want_counts = sorted(want.values(), reverse=True)[:N]
    assert [row["count"] for row in got] == want_counts, (sku, window, got, want_counts)
    for row in got:
        b = row["sku"]
        assert row["count"] == want[b], (sku, window, b, row, want[b])
        confidence = want[b] / orders[sku]
        lift = confidence / (orders[b] / sale_checkouts)
        assert abs(row["confidence"] - confidence) <= 1e-9, (sku, window, row, confidence)
        assert abs(row["lift"] - lift) <= 1e-9 * max(1.0, lift), (sku, window, row, lift)
    # Documented order: count desc, then lift desc, then sku.
    keys = [(-row["count"], -row["lift"], row["sku"]) for row in got]
    assert keys == sorted(keys), (sku, window, got)
    return got


def used_memory(address):
    info = redis_cli(address, "INFO", "memory")
    fields = dict(line.split(":", 1) for line in info.splitlines() if ":" in line)
    return int(fields["used_memory"])


# Keys matching ARGV[1] and their exact MEMORY USAGE (every field counted: SAMPLES 0).
KEY_BYTES_LUA = """
local cursor, keys, bytes = '0', 0, 0
repeat
  local r = redis.call('SCAN', cursor, 'MATCH', ARGV[1], 'COUNT', 1000)
  cursor = r[1]
  for _, k in ipairs(r[2]) do
    keys = keys + 1
    bytes = bytes + redis.call('MEMORY', 'USAGE', k, 'SAMPLES', 0)
  end
until cursor == '0'
return {keys, bytes}
"""


def together_bytes(address):
    """(keys, bytes) of the bought-together state: basket hashes and basket-ref strings."""
    keys = total = 0
    for pattern in ("{checkouts:*}:baskets", "{item-sales:*}:basket_refs:*"):
        out = redis_cli(address, "EVAL", KEY_BYTES_LUA, "0", pattern).split()
        keys += int(out[0])
        total += int(out[1])
    return keys, total


def run_and_check(segstream, csv, truth, top_n, windows):
    """Runs the pipeline over `csv`, checks every answer; returns (seconds, memory, status)."""
    with Processes() as procs:
        started = time.time()
        run = procs.start([segstream, "run", "--csv", csv, "--speed", "max",
                           "--http", "127.0.0.1:0"], "run")
        address = read_line_matching(run, r"dashboard=http://([0-9.:]+)/", 60).group(1)
        api = Api(address)
        wait_for(lambda: api.get("/v1/status")[0] == 200, 60, "a first snapshot")
        memory_start = used_memory(api.get("/v1/status")[1]["redis"])
        wait_until_drained(api, 500, "the pipeline to process the whole file")
        seconds = time.time() - started
        time.sleep(0.6)  # one more snapshot refresh after the last commit
        code, st = api.get("/v1/status")
        assert code == 200, st
        memory_end = used_memory(st["redis"])
        state_keys, state_bytes = together_bytes(st["redis"])
        print(f"bought-together state: {state_keys} keys, {state_bytes / 2**20:.1f} MiB "
              f"({state_bytes / truth.sale_lines:.1f} B per sale line)")
        together = st["together"]
        assert together["sale_checkouts"] == truth.sale_checkouts, (together, truth.sale_checkouts)
        assert together["baskets_capped"] == truth.capped, (together, truth.capped)
        assert together["baskets_stored"] == truth.stored, (together, truth.stored)
        metrics = api.get_text("/metrics")["body"]
        samples = dict(line.rsplit(" ", 1) for line in metrics.splitlines()
                       if line and not line.startswith("#"))
        assert float(samples["segstream_baskets_capped_total"]) == truth.capped, samples
        assert float(samples["segstream_sale_checkouts_total"]) == truth.sale_checkouts, samples

        top = [s for s, _ in sorted(truth.orders.items(), key=lambda kv: (-kv[1], kv[0]))[:top_n]]
        for sku in top:
            check_answer(api, sku, "all", truth.orders, truth.sale_checkouts, truth.baskets)
        print(f"window all: top {N} partners of the {top_n} most popular skus exact")
        for name, hours in windows:
            orders, sales, baskets = truth.window(st["watermark_ms"], hours * HOUR_MS)
            wtop = [s for s, _ in sorted(orders.items(), key=lambda kv: (-kv[1], kv[0]))[:5]]
            for sku in wtop:
                check_answer(api, sku, name, orders, sales, baskets)
            print(f"window {name}: {sales} sale checkouts, top {N} partners of its top 5 exact")

        # Validation (DESIGN §6): never clamped, 400 with the error body; unknown sku 404.
        quoted = urllib.parse.quote(top[0], safe="")
        for query in ("n=0", "n=1001", "n=abc", "window=week", "m=1", "n=1&n=2"):
            code, body = api.get(f"/v1/items/{quoted}/together?{query}")
            assert code == 400 and body["error"]["code"] == 400, (query, code, body)
        code, body = api.get("/v1/items/NO-SUCH-SKU/together")
        assert code == 404 and body["error"]["code"] == 404, body
        code, one = api.get(f"/v1/items/{quoted}/together?n=1")
        assert code == 200 and len(one) == 1 and one[0]["description"] is not None, one
        assert stop(run) == 0, procs.log(run)
    return seconds, (memory_start, memory_end), state_bytes


def describe(truth):
    return (f"{truth.sale_checkouts} sale checkouts, {truth.sale_lines} sale lines, "
            f"{truth.stored} baskets stored, {truth.capped} capped (> {BASKET_CAP} skus), "
            f"{truth.directed_pairs} directed pairs")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--segstream", required=True)
    ap.add_argument("--csv", help="the Online Retail CSV")
    ap.add_argument("--generate", action="store_true",
                    help="huge generated baskets at two sizes instead of --csv")
    ap.add_argument("--top", type=int, default=20, help="most popular skus checked")
    args = ap.parse_args()

    if args.csv:
        truth = Truth(args.csv)
        print(describe(truth))
        seconds, (m0, m1), _state = run_and_check(args.segstream, args.csv, truth, args.top,
                                             [("30d", 30 * 24), ("7d", 7 * 24)])
        print(f"processed in {seconds:.1f}s; redis used_memory {m0 / 2**20:.1f} MiB at the first "
              f"snapshot, {m1 / 2**20:.1f} MiB at the end")
    if args.generate:
        rows = []
        with tempfile.TemporaryDirectory() as tmp:
            for scale in (6, 12):
                path = os.path.join(tmp, f"huge_{scale}.csv")
                subprocess.run([args.segstream, "generate", "--out", path, "--customers", "600",
                                "--days", "20", "--seed", "7", "--basket-scale", str(scale),
                                "--items", "3000"], check=True, capture_output=True, timeout=120)
                truth = Truth(path)
                print(f"generated, --basket-scale {scale}: {describe(truth)}")
                assert truth.capped > 0 and truth.stored > 0, "the stream must exercise the cap"
                seconds, (m0, m1), state = run_and_check(args.segstream, path, truth, 10,
                                                         [("7d", 7 * 24)])
                print(f"  processed in {seconds:.1f}s; redis used_memory {m0 / 2**20:.1f} MiB at "
                      f"the first snapshot, {m1 / 2**20:.1f} MiB at the end "
                      f"({(m1 - m0) / truth.sale_lines:.1f} B per sale line, whole pipeline)")
                rows.append((truth, state))
        # Linear in the sale lines: the state is baskets (one sku string per sale line of a stored
        # basket, at most BASKET_CAP of them) and refs (12 bytes per sale line; Redis's APPEND
        # preallocation adds up to as much again), so it costs a bounded number of bytes per sale
        # line; doubling the baskets about doubles it, while the pairs (what pair counters would
        # have to store) about quadruple.
        for truth, state in rows:
            assert state <= 64 * truth.sale_lines, (state, truth.sale_lines)
        (t1, s1), (t2, s2) = rows
        growth = s2 / s1
        lines = t2.sale_lines / t1.sale_lines
        pairs = t2.directed_pairs / t1.directed_pairs
        print(f"2x basket size: sale lines x{lines:.2f}, directed pairs x{pairs:.2f}, "
              f"bought-together state x{growth:.2f}")
        assert pairs > 1.5 * lines, "the two streams must tell linear from quadratic"
        assert growth <= 1.25 * lines, (growth, lines)
    if not args.csv and not args.generate:
        ap.error("give --csv or --generate")
    print("OK")


if __name__ == "__main__":
    sys.exit(main())
