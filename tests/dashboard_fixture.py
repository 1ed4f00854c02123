"""A contract fixture for the dashboard: an HTTP proxy in front of a running segstream that passes
every request through, except that the DESIGN §6 endpoints the server does not serve yet (it
answers 404) are answered from fixture data written here by hand in the shapes of DESIGN §6.
So the dashboard's JavaScript can be checked against the contract for every panel before the
endpoints exist, and each endpoint is checked for real as soon as it lands (the proxy then stops
faking it).

Standalone, for looking at the page: python3 tests/dashboard_fixture.py --upstream 127.0.0.1:8080
"""
import argparse
import http.client
import http.server
import json
import threading
import time
import urllib.parse

# Hand-written, DESIGN §6 shapes. Labels follow DESIGN §3.
FEATURES = ["recency_days", "frequency", "monetary", "mean_basket_value", "mean_distinct_items",
            "return_rate"]
_CENTROIDS = [  # (label, size, original units in FEATURES order, model units)
    ("Champions", 412, [9.5, 28.0, 11840.0, 423.0, 24.1, 0.021], [-1.2, 2.1, 2.3, 1.1, 0.9, -0.4]),
    ("Loyal", 1107, [24.0, 7.5, 2650.0, 353.0, 21.7, 0.018], [-0.6, 0.9, 0.8, 0.7, 0.6, -0.5]),
    ("New", 688, [18.0, 1.2, 310.0, 258.0, 17.0, 0.004], [-0.8, -0.9, -0.7, 0.1, 0.2, -0.6]),
    ("At risk", 903, [96.0, 3.4, 980.0, 288.0, 18.9, 0.035], [0.4, 0.1, 0.0, 0.3, 0.4, 0.1]),
    ("Lapsed", 1064, [248.0, 1.4, 350.0, 250.0, 14.2, 0.011], [1.6, -0.8, -0.6, 0.0, -0.1, -0.3]),
    ("Big spenders", 198, [31.0, 4.1, 8900.0, 2170.0, 9.8, 0.062],
     [-0.4, 0.3, 2.0, 3.1, -0.7, 0.8]),
]
SEGMENTS = {
    "model_version": 42,
    "k": 6,
    "features": FEATURES,
    "transform": {
        "description": "signed log1p on the first five features; then (x - median) / IQR",
        "per_feature": {f: {"log1p": f != "return_rate", "center": 0.0, "scale": 1.0}
                        for f in FEATURES},
    },
    "inertia": 1873.4,
    "as_of_ms": 1323400000000,
    "watermark_ms": 1323400000000,
    "scored": True,
    "customers": 4372,
    "segmented": 4372,
    "segments": [
        {"id": i, "label": label, "size": size, "centroid": dict(zip(FEATURES, original)),
         "centroid_scaled": scaled}
        for i, (label, size, original, scaled) in enumerate(_CENTROIDS)
    ],
}
DRIFT = {
    "segments": [
        {"id": 0, "label": "Champions", "centroid_shift": 0.21, "cost_ratio": 1.04, "psi": 0.012,
         "state": "ok"},
        {"id": 1, "label": "Loyal", "centroid_shift": 0.35, "cost_ratio": 1.10, "psi": 0.031,
         "state": "ok"},
        {"id": 2, "label": "New", "centroid_shift": 0.62, "cost_ratio": 1.21, "psi": 0.142,
         "state": "warn"},
        {"id": 3, "label": "At risk", "centroid_shift": 2.41, "cost_ratio": 1.86, "psi": 0.291,
         "state": "alert"},
        {"id": 4, "label": "Lapsed", "centroid_shift": 0.18, "cost_ratio": 0.97, "psi": 0.020,
         "state": "ok"},
        {"id": 5, "label": "Big spenders", "centroid_shift": 0.44, "cost_ratio": 1.07,
         "psi": 0.047, "state": "ok"},
    ],
    "alerts": [
        {"segment": 3, "kind": "CENTROID_SHIFT", "value": 2.41, "threshold": 2.0,
         "event_time_ms": 1322092800000, "model_version": 41, "label": "At risk"},
        {"segment": 3, "kind": "SHARE_PSI", "value": 0.291, "threshold": 0.25,
         "event_time_ms": 1322179200000, "model_version": 42, "label": "At risk"},
    ],
}
# SegmentChange and DriftAlert as `segstream tail` prints them (proto field names, snake_case).
CHANGES = [
    {"event_id": "c-1", "customer_id": "17850", "from_segment": 1, "to_segment": 3,
     "from_label": "Loyal", "to_label": "At risk", "distance": 0.8,
     "event_time_ms": 1323400000000, "model_version": 42, "reason": "LAPSE"},
    {"event_id": "c-2", "customer_id": "13047", "from_segment": 2, "to_segment": 1,
     "from_label": "New", "to_label": "Loyal", "distance": 0.5,
     "event_time_ms": 1323410000000, "model_version": 42, "reason": "PURCHASE"},
    {"event_id": "c-3", "customer_id": "12583", "from_segment": -1, "to_segment": 2,
     "from_label": "", "to_label": "New", "distance": 0.4,
     "event_time_ms": 1323420000000, "model_version": 42, "reason": "PURCHASE"},
    {"event_id": "c-4", "customer_id": "14688", "from_segment": 1, "to_segment": 0,
     "from_label": "Loyal", "to_label": "Champions", "distance": 0.6,
     "event_time_ms": 1323425000000, "model_version": 42, "reason": "PURCHASE"},
]
ALERT_EVENT = {"segment": 3, "kind": "SHARE_PSI", "value": 0.291, "threshold": 0.25,
               "event_time_ms": 1323428000000, "model_version": 42, "label": "At risk"}


def quantile_fixture(orders, qs):
    """Nearest-rank quantiles of the items' order counts (items with orders >= 1)."""
    values = sorted(v for v in orders if v >= 1)
    out = {}
    for q in qs:
        i = min(int(q * len(values)), len(values) - 1)
        out[q] = values[i]
    return len(values), out


class FixtureProxy:
    """Serves on 127.0.0.1:<free port>; `orders` (a list of per-item order counts, e.g. from
    ground_truth.item_truth) feeds the popularity fixtures."""

    def __init__(self, upstream, orders, events_stay_open=True):
        self.upstream = upstream
        self.orders = orders
        self.events_stay_open = events_stay_open
        self.faked = set()  # paths answered from fixtures, for the test's report
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                proxy.handle(self)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.address = "%s:%d" % self.server.server_address
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def _upstream(self, handler):
        host, port = self.upstream.rsplit(":", 1)
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        conn.request("GET", handler.path, headers={"Accept": handler.headers.get("Accept", "*/*")})
        r = conn.getresponse()
        return r.status, r.getheader("Content-Type", ""), r.read()

    def handle(self, handler):
        path = urllib.parse.urlsplit(handler.path).path
        if path == "/v1/events":
            return self._events(handler)
        status, ctype, body = self._upstream(handler)
        if status == 404 and path.startswith("/v1/"):
            fake = self._fixture(handler.path)
            if fake is not None:
                self.faked.add(path)
                status, ctype, body = 200, "application/json", json.dumps(fake).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", ctype)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def _fixture(self, target):
        parts = urllib.parse.urlsplit(target)
        query = dict(urllib.parse.parse_qsl(parts.query))
        window = query.get("window", "all")
        if parts.path == "/v1/segments":
            return SEGMENTS
        if parts.path == "/v1/drift":
            return DRIFT
        if parts.path == "/v1/popularity/quantiles":
            qs = [float(q) for q in query.get("q", "0.5,0.9,0.99").split(",")]
            n, values = quantile_fixture(self.orders, qs)
            keys = query.get("q", "0.5,0.9,0.99").split(",")
            return {"window": window, "items": n,
                    "quantiles": {k: values[float(k)] for k in keys}}
        if parts.path == "/v1/popularity/top-percent":
            p = float(query.get("p", "10"))
            _, values = quantile_fixture(self.orders, [1 - p / 100])
            threshold = values[1 - p / 100]
            top = sorted((o for o in self.orders if o >= threshold), reverse=True)
            return {"threshold": threshold,
                    "items": [{"sku": f"fixture-{i}", "orders": o} for i, o in enumerate(top)]}
        return None

    def _events(self, handler):
        # Pass a real event stream through untouched once the server has one (its heartbeat is
        # every 15 s, so the read timeout is longer).
        host, port = self.upstream.rsplit(":", 1)
        conn = http.client.HTTPConnection(host, int(port), timeout=60)
        conn.request("GET", "/v1/events", headers={"Accept": "text/event-stream"})
        r = conn.getresponse()
        if r.status != 404:
            handler.send_response(r.status)
            handler.send_header("Content-Type", r.getheader("Content-Type", ""))
            handler.send_header("Cache-Control", "no-cache")
            handler.end_headers()
            try:
                while True:
                    chunk = r.read1(65536)
                    if not chunk:
                        break
                    handler.wfile.write(chunk)
                    handler.wfile.flush()
            except OSError:
                pass
            handler.close_connection = True
            return
        r.read()
        self.faked.add("/v1/events")
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream")
        handler.send_header("Cache-Control", "no-cache")
        handler.send_header("Connection", "close")
        handler.end_headers()
        frames = ["retry: 600000\n\n"]
        frames += ["event: segment-change\ndata: %s\n\n" % json.dumps(c) for c in CHANGES]
        frames.append("event: drift-alert\ndata: %s\n\n" % json.dumps(ALERT_EVENT))
        try:
            handler.wfile.write("".join(frames).encode())
            handler.wfile.flush()
            while self.events_stay_open:
                time.sleep(1)
                handler.wfile.write(b": keep-alive\n\n")
                handler.wfile.flush()
        except OSError:
            pass
        handler.close_connection = True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--upstream", required=True, help="segstream HTTP address HOST:PORT")
    ap.add_argument("--csv", help="Online Retail CSV for the popularity fixtures")
    args = ap.parse_args()
    orders = [1, 1, 1, 2, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233]
    if args.csv:
        import ground_truth
        truth, _ = ground_truth.item_truth(args.csv)
        orders = [v["orders"] for v in truth.values()]
    with FixtureProxy(args.upstream, orders) as proxy:
        print(f"dashboard with fixtures: http://{proxy.address}/", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
