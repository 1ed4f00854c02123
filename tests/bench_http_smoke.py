"""Smoke test of `segstream bench http` (issue 8): a small keep-alive load on the embedded stack
after it processed part of Online Retail. Asserts that every request was answered with a 2xx and
the report's counts add up, never a timing."""
import argparse
import json
import subprocess


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--segstream", required=True)
    ap.add_argument("--csv", required=True)
    args = ap.parse_args()
    clients, requests, events = 8, 2000, 3000
    cmd = [args.segstream, "bench", "http", "--csv", args.csv, "--events", str(events),
           "--partitions", "3", "--clients", str(clients), "--requests", str(requests),
           "--prepare-timeout-s", "120"]
    result = subprocess.run(cmd, capture_output=True, timeout=300)
    table = result.stderr.decode()
    assert result.returncode == 0, table
    report = json.loads(result.stdout)
    assert "requests/s" in table, table
    assert report["server"] == "embedded", report
    assert report["prepared"]["checkouts"] == events, report
    assert report["requests"] == requests, report
    assert report["answered"] == requests, report
    assert report["errors"] == 0 and report["transport_errors"] == 0, report
    assert report["non_2xx"] == 0, report
    assert sum(report["status_counts"].values()) == requests, report
    assert set(report["status_counts"]) == {"200"}, report
    # Keep-alive: one connection per client, never re-opened.
    assert report["connections"] == clients, report
    # Requests cycle through the default targets, so each got its share.
    targets = report["targets"]
    assert len(targets) == 7, targets
    assert sum(t["requests"] for t in targets) == requests, targets
    for i, t in enumerate(targets):
        expected = requests // len(targets) + (1 if i < requests % len(targets) else 0)
        assert t["requests"] == expected and t["errors"] == 0, t
    assert "{sku}" not in json.dumps(targets) and report["sku"], report
    lat = report["latency_ms"]
    assert 0 < lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["max"], lat
    print("bench http smoke: ok")


if __name__ == "__main__":
    main()
