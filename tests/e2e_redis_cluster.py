"""Online Retail through a 3-master Redis Cluster (issue 11): `segstream broker`, three
`redis-server --cluster-enabled yes` joined by `redis-cli --cluster create`, two workers, serve
and replay, all given `--redis-cluster`. Mid-stream, `redis-cli --cluster reshard` moves the
slots of every partition held by one master to another while the workers commit. Every item's
counts must still equal the independent ground truth, and keys must have lived on every master."""
import argparse
import subprocess
import sys
import threading
import time

import ground_truth
from harness import (item_mismatches, Api, Processes, read_line_matching, redis_cli, stop,
                     wait_for, wait_until_drained)

PARTITIONS = 6


def slot_of(address, key):
    return int(redis_cli(address, "CLUSTER", "KEYSLOT", key).strip())


def masters_by_slot(address):
    """slot -> "host:port" of its master, and node id -> address, from CLUSTER NODES."""
    owner, ids = {}, {}
    for line in redis_cli(address, "CLUSTER", "NODES").splitlines():
        fields = line.split()
        node_id, addr = fields[0], fields[1].split("@")[0]
        ids[node_id] = addr
        for r in fields[8:]:
            if r.startswith("["):
                continue  # a slot being imported/migrated
            lo, _, hi = r.partition("-")
            for s in range(int(lo), int(hi or lo) + 1):
                owner[s] = addr
    return owner, ids


def segstream_keys(address):
    keys = redis_cli(address, "--scan", "--pattern", "{*").split()
    return [k for k in keys if k.startswith(("{checkouts:", "{item-sales:", "{model}"))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--segstream", required=True)
    ap.add_argument("--csv", required=True)
    args = ap.parse_args()
    seg = args.segstream
    truth, summary = ground_truth.item_truth(args.csv)

    with Processes() as procs:
        broker, bootstrap = procs.broker(seg, PARTITIONS)
        masters = procs.redis_cluster(3)
        seeds = ",".join(masters)
        workers = [procs.start([seg, "worker", "--brokers", bootstrap, "--redis-cluster", seeds],
                               f"worker{i}") for i in range(2)]
        serve = procs.start([seg, "serve", "--redis-cluster", seeds, "--http", "127.0.0.1:0"],
                            "serve")
        address = read_line_matching(serve, r"dashboard=http://([0-9.:]+)/", 30).group(1)
        api = Api(address)
        # Played at a pace (about 40 s for the year) so the reshard below meets a live stream.
        replay = procs.start([seg, "replay", "--csv", args.csv, "--brokers", bootstrap,
                              "--redis-cluster", seeds, "--speed", "800000"], "replay")

        def processed():
            code, st = api.get("/v1/status")
            return st["events_processed"] + st["dlq_events"] if code == 200 else 0

        wait_for(lambda: processed() >= summary["checkouts"] // 5, 300,
                 "a fifth of the file to be processed")

        # Keys on every master: the partitions' hash tags spread over the slots.
        holding = {m: len(segstream_keys(m)) for m in masters}
        assert all(n > 0 for n in holding.values()), holding

        # Reshard: every slot of the master holding {item-sales:0}, up to the last one a
        # partition of ours uses, moves to the next master (redis-cli takes a source's slots in
        # ascending order).
        owner, ids = masters_by_slot(masters[0])
        source = owner[slot_of(masters[0], "{item-sales:0}")]
        target = next(m for m in masters if m != source)
        ours = [slot_of(masters[0], f"{{{t}:{p}}}") for t in ("checkouts", "item-sales")
                for p in range(PARTITIONS)] + [slot_of(masters[0], "{model}")]
        source_slots = sorted(s for s, a in owner.items() if a == source)
        moving = [s for s in ours if owner[s] == source]
        count = source_slots.index(max(moving)) + 1
        id_of = {a: i for i, a in ids.items()}
        before = processed()
        started = time.time()
        subprocess.run(["redis-cli", "--cluster", "reshard", masters[0], "--cluster-from",
                        id_of[source], "--cluster-to", id_of[target], "--cluster-slots",
                        str(count), "--cluster-yes"], check=True, capture_output=True, timeout=300)
        after = processed()
        reshard_s = time.time() - started
        owner_after, _ = masters_by_slot(masters[0])
        assert all(owner_after[s] == target for s in moving), "reshard did not move our slots"
        assert after < summary["checkouts"], (
            "the stream ended before the reshard did: it proved nothing", before, after)
        print(f"reshard: {count} slots ({len(moving)} of segstream's) {source} -> {target} "
              f"in {reshard_s:.1f} s while {after - before} checkouts were processed")

        assert replay.wait(timeout=300) == 0, procs.log(replay)

        wait_until_drained(api, 300, "the workers to process the file", checkouts=summary["checkouts"])
        code, st = api.get("/v1/status")
        assert st["events_processed"] == summary["processed"], st
        assert st["dlq_events"] == summary["dlq"], st
        mismatches = item_mismatches(api.get, truth)
        assert not mismatches, f"{len(mismatches)} mismatches, e.g. {mismatches[:5]}"
        code, segments = api.get("/v1/segments")
        assert code == 200 and segments["model_version"] > 0, segments

        for w in workers:
            assert stop(w) == 0, procs.log(w)
        assert stop(serve) == 0, procs.log(serve)
        assert stop(broker) == 0, procs.log(broker)
        print(f"OK: {len(truth)} items exact over a 3-master cluster; keys per master before the "
              f"reshard {holding}")


if __name__ == "__main__":
    sys.exit(main())
