#!/usr/bin/env python3
"""Accuracy table for `segstream sketch` against exact ranks (DESIGN §4 targets at n = 10 M).

For each distribution (uniform, exponential, lognormal(0, 2)) and input order (shuffled, sorted,
reversed), writes the values as raw little-endian doubles, runs `segstream sketch` on one digest
and on the merge of 16 digests of contiguous slices, and prints the signed rank error of each
answered quantile in ppm: (rank of the answer - q n) / n, where the rank of a value that occurs
several times is taken as the nearest point of the ranks it occupies.

Usage: bench/tdigest_accuracy.py [--segstream build/release/segstream] [--n 10000000]
Pure standard library; needs ~2 GB of memory and a few minutes at n = 10 M.
"""
import argparse
import array
import bisect
import json
import os
import random
import subprocess
import tempfile

QUANTILES = ["0.001", "0.5", "0.999"]
TARGET_PPM = {"0.001": 10, "0.5": 250, "0.999": 30}


def generate(dist, n, seed):
    rng = random.Random(seed)
    if dist == "uniform":
        return [rng.random() for _ in range(n)]
    if dist == "exponential":
        return [rng.expovariate(1.0) for _ in range(n)]
    return [rng.lognormvariate(0.0, 2.0) for _ in range(n)]


def rank_error_ppm(sorted_values, value, q):
    n = len(sorted_values)
    lo = bisect.bisect_left(sorted_values, value)
    hi = bisect.bisect_right(sorted_values, value)
    r = float(q) * n
    rank = lo if r < lo else hi if r > hi else r
    return (rank - r) / n * 1e6


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--segstream", default="build/release/segstream")
    parser.add_argument("--n", type=int, default=10_000_000)
    args = parser.parse_args()
    print("| distribution | order | digests | q=0.001 ppm | q=0.5 ppm | q=0.999 ppm | centroids "
          "| bytes | ns/value (wall) | ns/value (cpu) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "values.f64")
        for seed, dist in enumerate(["uniform", "exponential", "lognormal"]):
            values = generate(dist, args.n, seed + 1)
            sorted_values = sorted(values)
            for order in ["shuffled", "sorted", "reversed"]:
                data = {"shuffled": values, "sorted": sorted_values,
                        "reversed": sorted_values[::-1]}[order]
                with open(path, "wb") as f:
                    array.array("d", data).tofile(f)  # native order: little-endian on x86
                for parts in [1, 16]:
                    out = json.loads(subprocess.run(
                        [args.segstream, "sketch", "--input", path, "--quantiles",
                         ",".join(QUANTILES), "--parts", str(parts)],
                        check=True, capture_output=True, text=True).stdout)
                    errors = [rank_error_ppm(sorted_values, out["quantiles"][q], q)
                              for q in QUANTILES]
                    over = [abs(e) > TARGET_PPM[q] for e, q in zip(errors, QUANTILES)]
                    failures += sum(over) + (out["centroids"] > 130)
                    cells = [f"{e:+.1f}{' (over)' if o else ''}" for e, o in zip(errors, over)]
                    print(f"| {dist} | {order} | {parts} | " + " | ".join(cells) +
                          f" | {out['centroids']} | {out['bytes']} | {out['ns_per_value']:.1f} "
                          f"| {out['cpu_ns_per_value']:.1f} |", flush=True)
    print(f"\n{failures} figure(s) over the DESIGN §4 targets "
          f"(10 / 250 / 30 ppm, 130 centroids).")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
