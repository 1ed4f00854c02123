"""Shared by the process-level fault tests (label `fault`): the deployed pipeline as separate
processes — `segstream broker`, a real redis-server, `segstream worker` processes in one group,
`segstream replay --redis` in the background and `segstream serve` — plus the exact checks every
fault test ends with: every item's four counters, the processed/DLQ totals and the DLQ topic,
against ground_truth.py (independent of segstream)."""
import http.client
import json
import os
import re
import signal
import subprocess
import time
import urllib.parse

from harness import Api, item_mismatches, read_line_matching, wait_for


class Pipeline:
    def __init__(self, procs, seg, partitions=4, session_ms=3000, worker_args=()):
        self.procs = procs
        self.worker_args = list(worker_args)
        self.seg = seg
        self.partitions = partitions
        self.session_ms = session_ms
        self.workers = {}  # name -> Popen, every worker ever started (restarts get new names)
        self.replay_proc = None

    def start(self):
        self.broker, self.bootstrap = self.procs.broker(self.seg, self.partitions)
        self.redis_proc, self.redis = self.procs.redis()
        self.serve = self.procs.start([self.seg, "serve", "--redis", self.redis, "--http",
                                       "127.0.0.1:0"], "serve")
        self.address = read_line_matching(self.serve, r"dashboard=http://([0-9.:]+)/",
                                          30).group(1)
        self.api = Api(self.address)
        return self

    def get(self, path):
        """GET with one reconnect: serve closes keep-alive connections idle for too long."""
        try:
            return self.api.get(path)
        except (http.client.HTTPException, OSError):
            self.api = Api(self.address)
            return self.api.get(path)

    def worker(self, name, extra_args=(), env=None):
        # spdlog writes to stdout, librdkafka to stderr: keep both.
        out = open(os.path.join(self.procs.tmp, name + ".out"), "wb")
        p = self.procs.start([self.seg, "worker", "--brokers", self.bootstrap, "--redis",
                              self.redis, "--session-timeout-ms", str(self.session_ms)] +
                             self.worker_args + list(extra_args), name,
                             stdout=out, env=env)
        p.out_path = out.name
        self.workers[name] = p
        return p

    def replay(self, csv, limit=None, speed="max"):
        args = [self.seg, "replay", "--csv", csv, "--brokers", self.bootstrap, "--redis",
                self.redis, "--speed", str(speed)]
        if limit is not None:
            args += ["--limit", str(limit)]
        self.replay_proc = self.procs.start(args, "replay", stdout=subprocess.DEVNULL)
        return self.replay_proc

    def status(self):
        code, st = self.get("/v1/status")
        assert code == 200, st
        return st

    def processed(self):
        code, st = self.get("/v1/status")
        if code == 503:  # nothing committed yet
            return 0
        assert code == 200, st
        return st["events_processed"] + st["dlq_events"]

    def dump(self, tail_bytes=6000):
        """Prints what a failed run needs: the status and the end of every worker's log."""
        try:
            print("status:", json.dumps(self.get("/v1/status")[1]))
        except Exception as e:  # the report must not hide the original failure
            print("status unavailable:", e)
        for name, p in self.workers.items():
            print(f"===== {name} (exit {p.poll()}) =====")
            print(self.log(name)[-tail_bytes:])

    def log(self, name):
        p = self.workers[name]
        with open(p.out_path, "rb") as f:
            return f.read().decode("utf-8", "replace") + self.procs.log(p)

    def count_in_logs(self, pattern):
        """Occurrences of `pattern` over every worker log so far."""
        return sum(len(re.findall(pattern, self.log(name))) for name in self.workers)

    def alive(self):
        return {name: p for name, p in self.workers.items() if p.poll() is None}

    def wait_drained(self, summary, timeout):
        """Replay finished and every checkout and item-sale record committed."""
        def drained():
            st = self.status()
            return (st["replay"]["done"]
                    and st["events_processed"] + st["dlq_events"] == summary["checkouts"]
                    and st["item_sales"]["applied"] == st["item_sales"]["produced"]
                    and st["lag"] == 0)
        wait_for(drained, timeout, "the pipeline to drain")
        assert self.replay_proc.wait(timeout=30) == 0, self.procs.log(self.replay_proc)

    def check_exact(self, truth, summary):
        """Exact totals, every item's counters and the DLQ topic; returns the final status."""
        st = self.status()
        assert st["replay"]["events"] == summary["checkouts"], (st, summary)
        assert st["events_processed"] == summary["processed"], (st, summary)
        assert st["dlq_events"] == summary["dlq"], (st, summary)
        assert st["dlq_by_reason"] == dict(summary["dlq_reasons"]), st
        assert st["items"] == len(truth), (st["items"], len(truth))
        mismatches = item_mismatches(self.get, truth)
        assert not mismatches, f"{len(mismatches)} of {len(truth)} items wrong, e.g. {mismatches[:5]}"
        # The DLQ topic may repeat a record after a crash (DESIGN §2): dedup by source position.
        dlq = self.read_topic("checkouts.dlq")
        unique = {(r["_headers"]["segstream.error.partition"],
                   r["_headers"]["segstream.error.offset"]): r for r in dlq}
        reasons = {}
        for r in unique.values():
            reason = r["_headers"]["segstream.error.reason"]
            reasons[reason] = reasons.get(reason, 0) + 1
            assert r["_headers"]["segstream.error.topic"] == "checkouts", r
        assert reasons == dict(summary["dlq_reasons"]), (reasons, summary["dlq_reasons"])
        return st

    def read_topic(self, topic):
        tail = subprocess.run([self.seg, "tail", "--brokers", self.bootstrap, "--topic", topic,
                               "--from-beginning", "--timeout-ms", "2000"],
                              capture_output=True, timeout=120)
        assert tail.returncode == 0, tail.stderr.decode()
        return [json.loads(line) for line in tail.stdout.decode().splitlines()]

    def stop_all(self):
        """SIGTERM every live worker: each must finish its batch, leave the group and exit 0."""
        live = self.alive()
        for p in live.values():
            p.send_signal(signal.SIGTERM)
        for name, p in live.items():
            code = p.wait(timeout=60)
            assert code == 0, (name, code, self.log(name)[-2000:])


def wait_new_assignment(pipeline, before, timeout):
    """Waits until the workers log more 'assigned' lines than `before`; returns the seconds."""
    started = time.time()
    wait_for(lambda: pipeline.count_in_logs(r"assigned \S+ generation") > before, timeout,
             "partitions to be reassigned")
    return time.time() - started


def csv_path(args):
    return os.path.abspath(args.csv)
