"""A chain of 1,500 small ops (16-element float32 tensor: mul, add, tanh, repeated), forward +
backward, per op: the engine's Python overhead with nothing to hide it. Target <= 4 us per op
(PyTorch CPU about 6.9 us here).

    python benchmarks/op_chain.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _harness import interleaved, report  # noqa: E402

OPS = 1500
REPEATS = 20


def chain(torch) -> float:
    torch.manual_seed(0)
    x0 = torch.randn(16, requires_grad=True)
    best = float("inf")
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        x = x0
        for _ in range(OPS // 3):
            x = x * 0.999
            x = x + 0.001
            x = x.tanh()
        x.sum().backward()
        best = min(best, time.perf_counter() - t0)
        x0.grad = None
    return best / OPS


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--worker")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--no-torch", action="store_true")
    args = ap.parse_args()
    if args.worker:
        import importlib

        report(chain(importlib.import_module(args.worker)))
        return
    contenders = ["engine"] + ([] if args.no_torch else ["torch"])
    times = interleaved(__file__, contenders, args.rounds)
    for c in contenders:
        print(f"{c:>8}: {statistics.median(times[c]) * 1e6:6.2f} us per op "
              f"(median of {args.rounds} processes, best of {REPEATS} chains each)")
    print(f"engine per op = {statistics.median(times['engine']) * 1e6:.2f} us  (target <= 4 us)")


if __name__ == "__main__":
    main()
