"""Independent ground truth for the Online Retail CSV (DESIGN §2, §3), computed with Python's own
csv and decimal modules: it shares no code with segstream, so it can judge segstream's answers."""
import csv
import datetime
import decimal
import gzip
from collections import defaultdict

MICROS = decimal.Decimal(1_000_000)


def _open(path):
    return gzip.open(path, "rt", newline="", encoding="utf-8") if path.endswith(".gz") else open(
        path, newline="", encoding="utf-8")


def _column(header, *names):
    lowered = [h.strip().lower() for h in header]
    for name in names:
        if name.lower() in lowered:
            return lowered.index(name.lower())
    raise ValueError(f"missing column {names} in {header}")


def _event_ms(text):
    text = text.strip()
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%m/%d/%Y %H:%M"):
        try:
            dt = datetime.datetime.strptime(text, fmt).replace(tzinfo=datetime.timezone.utc)
            return int(dt.timestamp() * 1000)
        except ValueError:
            pass
    raise ValueError(text)


def checkouts(path):
    """Yields (invoice, customer, event_ms, [(sku, description, quantity, price_micros)]) for each
    run of consecutive rows with the same invoice number."""
    with _open(path) as f:
        reader = csv.reader(f)
        header = next(reader)
        inv, sku, desc, qty, date, price, cust = (
            _column(header, "InvoiceNo", "Invoice"), _column(header, "StockCode"),
            _column(header, "Description"), _column(header, "Quantity"),
            _column(header, "InvoiceDate"), _column(header, "UnitPrice", "Price"),
            _column(header, "CustomerID", "Customer ID"))
        current = None
        for row in reader:
            if not row:
                continue
            if current is None or row[inv] != current[0]:
                if current is not None:
                    yield current
                customer = row[cust].strip()
                if customer.endswith(".0"):
                    customer = customer[:-2]
                current = (row[inv], customer, _event_ms(row[date]), [])
            micros = int((decimal.Decimal(row[price]) * MICROS).to_integral_exact())
            current[3].append((row[sku], row[desc], int(row[qty]), micros))
        if current is not None:
            yield current


def dead_letter_reason(invoice, event_ms, lines):
    """The DESIGN §2 rules that can apply to a checkout read from the CSV."""
    if not invoice:
        return "empty_invoice_no"
    if not lines:
        return "no_lines"
    if len(lines) > 10_000:
        return "too_many_lines"
    if event_ms <= 0:
        return "bad_event_time"
    for sku, _, quantity, price in lines:
        if not sku:
            return "empty_sku"
        if quantity == 0:
            return "zero_quantity"
        if price < 0:
            return "negative_price"
    return None


def _count_lines(items, lines):
    """Adds one valid checkout's lines to per-item counts (DESIGN §3); True if it sold anything."""
    sold = set()
    for sku, _, quantity, price in lines:
        item = items[sku]
        if quantity > 0:
            item["units"] += quantity
            item["revenue_micros"] += quantity * price
            sold.add(sku)
        else:
            item["returned_units"] += -quantity
    for sku in sold:
        items[sku]["orders"] += 1
    return bool(sold)


def item_truth(path, limit=None):
    """Returns (items, summary): items[sku] = dict(orders, units, returned_units, revenue_micros).
    With `limit`, only the first `limit` checkouts count (as `segstream replay --limit`)."""
    items = defaultdict(lambda: {"orders": 0, "units": 0, "returned_units": 0,
                                 "revenue_micros": 0})
    summary = {"checkouts": 0, "processed": 0, "dlq": 0, "dlq_reasons": defaultdict(int),
               "with_sale": 0}
    for invoice, _customer, event_ms, lines in checkouts(path):
        if limit is not None and summary["checkouts"] >= limit:
            break
        summary["checkouts"] += 1
        reason = dead_letter_reason(invoice, event_ms, lines)
        if reason:
            summary["dlq"] += 1
            summary["dlq_reasons"][reason] += 1
            continue
        summary["processed"] += 1
        if _count_lines(items, lines):
            summary["with_sale"] += 1
    return dict(items), summary


if __name__ == "__main__":
    import sys
    truth, summary = item_truth(sys.argv[1])
    print(summary["checkouts"], summary["processed"], summary["dlq"], dict(summary["dlq_reasons"]),
          len(truth), summary["with_sale"])
    top = sorted(truth.items(), key=lambda kv: (-kv[1]["orders"], kv[0]))[:5]
    print([(sku, v["orders"]) for sku, v in top])


HOUR_MS = 3_600_000


def window_truth(path, watermark_ms, duration_ms, pane_ms=HOUR_MS):
    """Item counts of window `last duration` at `watermark_ms` (DESIGN §3): the duration/pane most
    recent event-time panes up to and including the pane holding the watermark."""
    last = (watermark_ms // pane_ms) * pane_ms
    first = last - ((duration_ms + pane_ms - 1) // pane_ms - 1) * pane_ms
    items = defaultdict(lambda: {"orders": 0, "units": 0, "returned_units": 0,
                                 "revenue_micros": 0})
    for invoice, _customer, event_ms, lines in checkouts(path):
        pane = (event_ms // pane_ms) * pane_ms
        if not first <= pane <= last or dead_letter_reason(invoice, event_ms, lines):
            continue
        _count_lines(items, lines)
    return dict(items)


def mid_rank_percentiles(items):
    """Exact percentile of each item with orders >= 1 (DESIGN §3, RedisBloom TDIGEST.CDF)."""
    values = sorted(v["orders"] for v in items.values() if v["orders"] >= 1)
    import bisect
    out = {}
    for sku, v in items.items():
        if v["orders"] >= 1:
            below = bisect.bisect_left(values, v["orders"])
            equal = bisect.bisect_right(values, v["orders"]) - below
            out[sku] = 100.0 * (below + 0.5 * equal) / len(values)
    return out


def exact_quantile(items, q):
    """Smallest orders value v with #{orders <= v} >= q * n over items with orders >= 1."""
    import math
    values = sorted(v["orders"] for v in items.values() if v["orders"] >= 1)
    rank = max(1, math.ceil(q * len(values)))
    return values[rank - 1]


def customer_truth(path, limit=None):
    """Per known customer over the valid checkouts (DESIGN §3 customer features, before the
    event-time recency): sale_checkouts, sales_micros, returns_micros, units, returned_units,
    distinct_items (Σ distinct sold skus per sale checkout), last_sale_ms. Only customers with at
    least one sale line are segmented; return-only customers are in the dict with 0 sale_checkouts.
    """
    out = {}
    seen = 0
    for invoice, customer, event_ms, lines in checkouts(path):
        if limit is not None and seen >= limit:
            break
        seen += 1
        if not customer or dead_letter_reason(invoice, event_ms, lines):
            continue
        c = out.setdefault(customer, {"sale_checkouts": 0, "sales_micros": 0, "returns_micros": 0,
                                      "units": 0, "returned_units": 0, "distinct_items": 0,
                                      "last_sale_ms": 0})
        sold = set()
        for sku, _, quantity, price in lines:
            if quantity > 0:
                c["units"] += quantity
                c["sales_micros"] += quantity * price
                sold.add(sku)
            else:
                c["returned_units"] += -quantity
                c["returns_micros"] += -quantity * price
        if sold:
            c["sale_checkouts"] += 1
            c["distinct_items"] += len(sold)
            c["last_sale_ms"] = max(c["last_sale_ms"], event_ms)
    return out
