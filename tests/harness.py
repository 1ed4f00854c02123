"""Process-level test harness: starts segstream commands and redis-server on free loopback ports,
talks HTTP to them, and always cleans up (even when a test fails)."""
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Processes:
    """Owns every child process of a test; kills what is left on exit."""

    def __init__(self):
        self.children = []
        self.tmp = tempfile.mkdtemp(prefix="segstream-test-")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for p in self.children:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=10)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def start(self, args, name, stdout=subprocess.PIPE, env=None):
        """Starts a child with stderr to a log file; `env` adds variables to ours."""
        log = open(os.path.join(self.tmp, name + ".log"), "wb")
        p = subprocess.Popen(args, stdout=stdout, stderr=log, stdin=subprocess.DEVNULL,
                             env=None if env is None else {**os.environ, **env})
        p.log_path = log.name
        self.children.append(p)
        return p

    def log(self, p):
        with open(p.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def broker(self, segstream, partitions):
        """`segstream broker` on a free port with the topics pre-created; returns (process,
        bootstrap address)."""
        p = self.start([segstream, "broker", "--port", "0", "--partitions", str(partitions)],
                       "broker")
        return p, read_line_matching(p, r"^bootstrap=(\S+)", 30).group(1)

    def redis(self):
        port = free_port()
        p = self.start(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                        "--save", "", "--appendonly", "no", "--dir", self.tmp], "redis",
                       stdout=subprocess.DEVNULL)
        wait_for(lambda: _redis_ping(port), 10, "redis-server to answer")
        return p, f"127.0.0.1:{port}"


    def redis_cluster(self, masters=3):
        """A Redis Cluster of `masters` masters (no replicas) on free loopback ports, created with
        `redis-cli --cluster create`; returns their "127.0.0.1:P" addresses."""
        addresses = []
        for i in range(masters):
            port = _free_cluster_port()
            node_dir = os.path.join(self.tmp, f"cluster-{port}")
            os.makedirs(node_dir)
            self.start(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                        "--appendonly", "no", "--dir", node_dir, "--cluster-enabled", "yes",
                        "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "3000"],
                       f"redis-cluster-{i}", stdout=subprocess.DEVNULL)
            wait_for(lambda: _redis_ping(port), 10, "redis-server to answer")
            addresses.append(f"127.0.0.1:{port}")
        subprocess.run(["redis-cli", "--cluster", "create", *addresses, "--cluster-replicas", "0",
                        "--cluster-yes"], check=True, capture_output=True, timeout=60)

        def ok(address):
            host, port = address.split(":")
            info = redis_cli(address, "CLUSTER", "INFO")
            return "cluster_state:ok" in info and "cluster_slots_ok:16384" in info

        for a in addresses:
            wait_for(lambda: ok(a), 30, f"cluster node {a} to report cluster_state:ok")
        return addresses


def _free_cluster_port():
    """A free port P whose cluster bus port P + 10000 is free too. Kernel-picked ports can be
    above 55535, where the bus port would not exist (redis-server refuses to start)."""
    import random
    for _ in range(200):
        port = random.randrange(20000, 45000)
        try:
            for p in (port, port + 10000):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", p))
            return port
        except OSError:
            continue
    raise RuntimeError("no free port pair for a cluster node")


def redis_cli(address, *args):
    """One command through Debian's redis-cli (not segstream's client); stdout as text."""
    host, port = address.split(":")
    return subprocess.run(["redis-cli", "-h", host, "-p", port, *args], check=True,
                          capture_output=True, timeout=60).stdout.decode()


def _redis_ping(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def read_line_matching(p, pattern, timeout):
    """Reads the child's stdout until a line matches `pattern`; returns the match."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        line = p.stdout.readline()
        if not line:
            if p.poll() is not None:
                raise RuntimeError(f"process exited with {p.returncode} before printing {pattern}")
            continue
        m = re.search(pattern, line.decode("utf-8", "replace"))
        if m:
            return m
    raise TimeoutError(f"no line matching {pattern} within {timeout}s")


def wait_for(predicate, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")


def wait_until_drained(api, timeout, what, checkouts=None):
    """Waits until the replay is done and every checkout (`checkouts`, else as many as the replay
    recorded) is processed or dead-lettered, and stage 2 applied all that stage 1 produced."""
    def drained():
        code, st = api.get("/v1/status")
        total = st["replay"]["events"] if checkouts is None and code == 200 else checkouts
        return (code == 200 and st["replay"]["done"]
                and st["events_processed"] + st["dlq_events"] == total
                and st["item_sales"]["applied"] == st["item_sales"]["produced"])

    wait_for(drained, timeout, what)


class Api:
    """A keep-alive JSON client for the segstream HTTP API."""

    def __init__(self, address):
        host, port = address.rsplit(":", 1)
        self.conn = http.client.HTTPConnection(host, int(port), timeout=30)

    def get(self, path):
        self.conn.request("GET", path)
        r = self.conn.getresponse()
        body = r.read()
        return r.status, json.loads(body) if body else None

    def get_text(self, path):
        """A non-JSON GET: {status, content_type, body}."""
        self.conn.request("GET", path)
        r = self.conn.getresponse()
        return {"status": r.status, "content_type": r.getheader("Content-Type", ""),
                "body": r.read().decode("utf-8")}


def stop(p, timeout=60):
    """SIGTERM, then wait; returns the exit code."""
    p.send_signal(signal.SIGTERM)
    return p.wait(timeout=timeout)


def item_mismatches(get, truth):
    """Asks `/v1/items/{sku}` for every item of `truth` (sku -> expected fields) through
    `get(path) -> (status, json)`; returns what differs, empty when every count is exact."""
    import urllib.parse
    mismatches = []
    for sku, want in truth.items():
        code, got = get("/v1/items/" + urllib.parse.quote(sku, safe=""))
        if code != 200:
            mismatches.append((sku, code, got))
            continue
        for field, value in want.items():
            if got[field] != value:
                mismatches.append((sku, field, got[field], value))
    return mismatches
