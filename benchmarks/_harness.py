"""Interleaved, one-library-per-process timing (DESIGN.md, "Benchmarks").

Each contender runs in a fresh Python process that imports only its own library (loading
torch changes numpy's speed), contenders alternate A B A B ..., and a figure is the median
over rounds of the per-round ratio. Workers print one JSON line: {"seconds": ...}.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys

THREADS = os.environ.get("GRADVIZ_BENCH_THREADS", "1")


def run_worker(script: str, contender: str, *args: str) -> float:
    env = dict(os.environ)
    # One BLAS thread for every contender by default (GRADVIZ_BENCH_THREADS changes it): on
    # these 2-core machines a multi-threaded BLAS spin-waits whenever anything else runs and
    # timings swing by 100x. The same for every contender, so the ratios stay fair.
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = THREADS
    root = os.path.dirname(os.path.dirname(os.path.abspath(script)))
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run(
        [sys.executable, script, "--worker", contender, *args],
        capture_output=True, text=True, env=env, check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"worker {contender} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])["seconds"]


def interleaved(script: str, contenders: list[str], rounds: int, *args: str) -> dict:
    """{contender: [seconds per round]} with contenders alternating inside each round."""
    times: dict[str, list[float]] = {c: [] for c in contenders}
    for _ in range(rounds):
        for c in contenders:
            times[c].append(run_worker(script, c, *args))
    return times


def median_ratio(times: dict, a: str, b: str) -> float:
    return statistics.median(x / y for x, y in zip(times[a], times[b]))


def report(seconds: float) -> None:
    print(json.dumps({"seconds": seconds}))
