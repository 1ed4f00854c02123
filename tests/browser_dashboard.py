"""Browser test of the dashboard (ctest label `browser`): Debian's headless chromium loads `/` of a
running `segstream run` over the real Online Retail file, and the rendered DOM (after JavaScript)
must show the top item and its order count computed independently from the CSV
(ground_truth.py), the status strip's processed count, and, when /v1/segments is served, every
segment label, and the bought-together panel the top item's partners as the API ranks them (the
API's counts are checked against the CSV by e2e_together.py). Panels whose endpoint is not served yet must say so instead of breaking the page.
A second pass puts a contract fixture (dashboard_fixture.py) in front of the server so every
panel is also checked against DESIGN §6 shapes. Screenshots and DOM dumps are saved under
--artifacts and their paths printed.

Needs chromium: `bash deploy/install-deps.sh --browser`. Without it the test is skipped (77)."""
import argparse
import html.parser
import os
import sys
import time
import urllib.parse

import ground_truth
import headless
from dashboard_fixture import FixtureProxy
from harness import Api, Processes, read_line_matching, stop, wait_until_drained

SKIP = 77
PANELS = ["top-items", "popularity", "segments", "feed", "drift", "together"]
# The endpoint behind each panel other than top items, to know whether it may say "not available".
PANEL_ENDPOINTS = {
    "popularity": "/v1/popularity/quantiles?q=0.5",
    "segments": "/v1/segments",
    "drift": "/v1/drift",
    "feed": "/v1/events",
}
SETTLED = ("['%s'].every(id => { const s = document.getElementById(id).dataset.state; "
           "return s && s !== 'loading'; })" % "','".join(PANELS))
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}


class Dom(html.parser.HTMLParser):
    """The dumped DOM, read back independently of the browser: text and attributes per id, and
    the attributes of the top-items bars in order."""

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.stack = []  # [(tag, id or None)]
        self.text = {}  # id -> text of the element and its descendants
        self.attrs = {}  # id -> attributes
        self.bars = []  # attributes of <g class="bar">
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "g" and "bar" in (a.get("class") or "").split():
            self.bars.append(a)
        if a.get("id"):
            self.text.setdefault(a["id"], "")
            self.attrs[a["id"]] = a
        if tag not in VOID:
            self.stack.append((tag, a.get("id")))

    def handle_endtag(self, tag):
        while self.stack:
            t, _ = self.stack.pop()
            if t == tag:
                break

    def handle_data(self, data):
        for _, ident in self.stack:
            if ident:
                self.text[ident] += data

    def state(self, ident):
        return self.attrs[ident].get("data-state")


def fetch_code(address, path):
    """Status of a GET without reading an endless body (for /v1/events)."""
    import http.client
    host, port = address.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.request("GET", path)
    code = conn.getresponse().status
    conn.close()
    return code


def check_unserved_panels(dom, address, where):
    """A panel whose endpoint answers 404 must say 'not available yet' and nothing else breaks."""
    for panel, endpoint in PANEL_ENDPOINTS.items():
        if fetch_code(address, endpoint) == 404:
            assert dom.state(panel) == "unavailable", (where, panel, dom.state(panel))
            assert "not available yet" in dom.text[panel + "-note"].lower(), (where, dom.text[panel])


def save(artifacts, name, browser, dom_text=None):
    shot = browser.screenshot(os.path.join(artifacts, name + ".png"))
    full = browser.screenshot(os.path.join(artifacts, name + "-full.png"), full_page=True)
    with open(os.path.join(artifacts, name + ".html"), "w", encoding="utf-8") as f:
        f.write(dom_text if dom_text is not None else browser.dom())
    print(f"screenshot: {os.path.abspath(shot)}\n"
          f"screenshot (full page): {os.path.abspath(full)}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--segstream", required=True)
    ap.add_argument("--csv", required=True)
    ap.add_argument("--artifacts", required=True, help="where screenshots and DOM dumps go")
    args = ap.parse_args()

    chromium = headless.find_chromium()
    if not chromium:
        print("SKIP: chromium not installed (bash deploy/install-deps.sh --browser)")
        return SKIP
    os.makedirs(args.artifacts, exist_ok=True)

    truth, summary = ground_truth.item_truth(args.csv)
    ranked = sorted(truth.items(), key=lambda kv: (-kv[1]["orders"], kv[0]))
    top_sku, top = ranked[0]
    top_revenue_sku = sorted(truth.items(), key=lambda kv: (-kv[1]["revenue_micros"], kv[0]))[0][0]
    quoted_top = urllib.parse.quote(top_sku, safe="")
    PANEL_ENDPOINTS["together"] = f"/v1/items/{quoted_top}/together"
    print(f"ground truth: top item {top_sku} with {top['orders']} orders; "
          f"{summary['processed']} checkouts processed")

    with Processes() as procs:
        run = procs.start([args.segstream, "run", "--csv", args.csv, "--speed", "max",
                           "--http", "127.0.0.1:0"], "run")
        address = read_line_matching(run, r"dashboard=http://([0-9.:]+)/", 60).group(1)
        api = Api(address)

        wait_until_drained(api, 300, "the pipeline to process the whole file")

        # 1. The real server, as a store manager would open it.
        with headless.Chromium(chromium) as browser:
            browser.navigate(f"http://{address}/")
            browser.wait_for(SETTLED, 30, "every panel to leave 'loading'")
            browser.wait_for("document.querySelectorAll('#top-items .bar').length > 0", 30,
                             "top items bars")
            dom_text = browser.dom()
            dom = Dom(dom_text)
            assert dom.state("top-items") == "ok", dom.text["top-items"]
            first = dom.bars[0]
            assert first["data-sku"] == top_sku, (first, top_sku)
            assert first["data-value"] == str(top["orders"]), (first, top)
            assert top_sku in dom.text["top-items-chart"], dom.text["top-items-chart"]
            assert f"{top['orders']:,}" in dom.text["top-items-chart"], dom.text["top-items-chart"]
            assert dom.text["status-processed"].strip() == f"{summary['processed']:,}", \
                dom.text["status-processed"]
            assert dom.text["status-dlq"].strip() == f"{summary['dlq']:,}", dom.text["status-dlq"]
            code, segs = api.get("/v1/segments")
            if code == 200 and not segs["segments"]:  # no model yet: "warming up"
                assert dom.state("segments") == "empty", dom.text["segments"]
                print("segments: warming up (no model yet)")
            elif code == 200:
                assert dom.state("segments") == "ok", dom.text["segments"]
                for s in segs["segments"]:
                    assert s["label"] in dom.text["segments"], (s["label"], dom.text["segments"])
                print(f"segments shown: {[s['label'] for s in segs['segments']]}")
            else:
                print(f"/v1/segments answers {code}: checking the panel says so")
            # Bought together: the top item's partners, as the API ranks them.
            code, partners = api.get(f"/v1/items/{quoted_top}/together?n=8")
            assert code == 200 and partners, (code, partners)
            assert dom.state("together") == "ok", dom.text["together"]
            assert top_sku in dom.text["together-meta"], dom.text["together-meta"]
            shown = dom.text["together-table"]
            at = -1
            for p in partners:  # every row, in the API's order, with its count
                assert shown.find(p["sku"] + " ", at + 1) > at, (p, shown)
                at = shown.find(p["sku"] + " ", at + 1)
                assert f"{p['count']:,}" in shown[at:], (p, shown)
            print(f"bought together with {top_sku}: "
                  f"{[(p['sku'], p['count']) for p in partners]}")
            check_unserved_panels(dom, address, "real server")
            save(args.artifacts, "dashboard", browser, dom_text)

            # Switching the window: a window the server does not serve yet (501) must only affect
            # the top-items panel.
            code, _ = api.get("/v1/items/top?window=7d")
            browser.evaluate("document.querySelector('#top-items-window [data-window=\"7d\"]')"
                             ".click()")
            want = "unavailable" if code == 501 else "ok"
            browser.wait_for(f"document.getElementById('top-items').dataset.state === '{want}'",
                             15, f"top items to show window 7d as {want}")
            dom = Dom(browser.dom())
            assert dom.state("status") == "ok", dom.attrs["status"]
            if code == 501:
                assert "not available yet" in dom.text["top-items-note"].lower(), dom.text["top-items"]
            browser.evaluate("document.querySelector('#top-items-metric [data-by=\"revenue\"]')"
                             ".click()")
            browser.evaluate("document.querySelector('#top-items-window [data-window=\"all\"]')"
                             ".click()")
            browser.wait_for("document.getElementById('top-items').dataset.state === 'ok' && "
                             "document.querySelector('#top-items .bar').dataset.sku === "
                             f"'{top_revenue_sku}'",
                             15, "top items by revenue")
            errors = [m for m in browser.console if m.startswith("uncaught")]
            assert not errors, errors

        # 2. Every panel against the DESIGN §6 shapes: endpoints not served yet come from the
        # contract fixture, the others pass through.
        orders = [v["orders"] for v in truth.values()]
        with FixtureProxy(address, orders) as proxy, headless.Chromium(chromium) as browser:
            browser.navigate(f"http://{proxy.address}/")
            # A real endpoint may legitimately have nothing to show yet ('empty'); a faked one
            # always has data.
            browser.wait_for("['%s'].every(id => ['ok', 'empty'].includes("
                             "document.getElementById(id).dataset.state))" % "','".join(PANELS),
                             30, "every panel to show data")
            time.sleep(0.6)
            dom_text = browser.dom()
            dom = Dom(dom_text)
            faked_panels = {p for p, e in PANEL_ENDPOINTS.items() if e.split("?")[0] in proxy.faked}
            for panel in faked_panels | {"top-items"}:
                assert dom.state(panel) == "ok", (panel, dom.state(panel), dom.text[panel])
            code, segs = Api(proxy.address).get("/v1/segments")
            for s in segs["segments"]:
                assert s["label"] in dom.text["segments"], (s["label"], dom.text["segments"])
            assert dom.bars[0]["data-sku"] == top_sku, dom.bars[0]
            assert "top 10%" in dom.text["popularity"], dom.text["popularity"]
            if "/v1/events" in proxy.faked:
                assert "17850" in dom.text["feed-list"], dom.text["feed-list"]
            if "/v1/drift" in proxy.faked:
                assert "alert" in dom.text["drift-table"].lower(), dom.text["drift-table"]
            errors = [m for m in browser.console if m.startswith("uncaught")]
            assert not errors, errors
            print(f"contract pass: fixtures for {sorted(proxy.faked) or 'nothing'}")
            save(args.artifacts, "dashboard-contract", browser, dom_text)

        assert stop(run) == 0, procs.log(run)
    print(f"OK: dashboard shows {top_sku} with {top['orders']:,} orders first")
    return 0


if __name__ == "__main__":
    sys.exit(main())
