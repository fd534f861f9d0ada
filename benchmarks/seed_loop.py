"""Seed Example 2 (500 steps, N=64, D_in=1000, H=100, D_out=10, float32): the engine against
the same math written directly in numpy, against PyTorch on the CPU, and the engine with a
listener attached that records every event against the engine alone.

    python benchmarks/seed_loop.py [--rounds 5]

Targets (issue: engine): engine/numpy <= 1.25, engine/torch <= 1.35, listener <= 1.25.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _harness import interleaved, median_ratio, report  # noqa: E402

N, D_IN, H, D_OUT, STEPS, LR = 64, 1000, 100, 10, 500, 1e-6


def numpy_loop() -> float:
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, D_IN), dtype=np.float32)
    y = rng.standard_normal((N, D_OUT), dtype=np.float32)
    w1 = rng.standard_normal((D_IN, H), dtype=np.float32)
    w2 = rng.standard_normal((H, D_OUT), dtype=np.float32)
    lr = np.float32(LR)
    t0 = time.perf_counter()
    for _ in range(STEPS):
        h = x @ w1
        hr = np.maximum(h, 0)
        d = hr @ w2 - y
        loss = float((d * d).sum())
        g = 2.0 * d
        gw2 = hr.T @ g
        gh = g @ w2.T
        gh *= h > 0
        gw1 = x.T @ gh
        w1 -= lr * gw1
        w2 -= lr * gw2
    elapsed = time.perf_counter() - t0
    assert loss == loss
    return elapsed


def torch_like_loop(torch, listener=None) -> float:
    torch.manual_seed(0)
    dtype = torch.float
    device = torch.device("cpu")
    x = torch.randn(N, D_IN, device=device, dtype=dtype)
    y = torch.randn(N, D_OUT, device=device, dtype=dtype)
    w1 = torch.randn(D_IN, H, device=device, dtype=dtype, requires_grad=True)
    w2 = torch.randn(H, D_OUT, device=device, dtype=dtype, requires_grad=True)
    t0 = time.perf_counter()
    for _ in range(STEPS):
        y_pred = x.mm(w1).clamp(min=0).mm(w2)
        loss = (y_pred - y).pow(2).sum()
        loss.item()
        loss.backward()
        with torch.no_grad():
            w1 -= LR * w1.grad
            w2 -= LR * w2.grad
            w1.grad.zero_()
            w2.grad.zero_()
    return time.perf_counter() - t0


class RecordEverything:
    """A listener that records every event it is sent, arguments included, in a ring buffer of
    the most recent ones (a debugger keeps a bounded window of arrays; keeping every step's
    400 KB gradients alive would measure the allocator, not the engine)."""

    wants_source = True

    def __init__(self):
        self.events = []

    def __getattr__(self, name):
        if name.endswith(("_record", "_start", "_execute", "_accumulate", "_zero", "_inplace",
                          "_finish", "_fail")):
            def keep(*args, _name=name):
                self.events.append((_name, args))
                if len(self.events) > 512:
                    del self.events[:256]
            return keep
        raise AttributeError(name)


def worker(contender: str) -> None:
    if contender == "numpy":
        report(numpy_loop())
    elif contender == "torch":
        import torch

        torch.set_num_threads(int(os.environ.get("OPENBLAS_NUM_THREADS", "1")))  # as numpy's
        report(torch_like_loop(torch))
    elif contender == "engine":
        import engine

        report(torch_like_loop(engine))
    elif contender == "engine+listener":
        import engine
        from engine.events import listening

        with listening(RecordEverything()):
            report(torch_like_loop(engine))
    else:
        raise SystemExit(f"unknown contender {contender}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--worker")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--no-torch", action="store_true")
    args = ap.parse_args()
    if args.worker:
        worker(args.worker)
        return
    contenders = ["engine", "numpy", "engine+listener"] + ([] if args.no_torch else ["torch"])
    times = interleaved(__file__, contenders, args.rounds)
    for c in contenders:
        ms = sorted(t * 1000 for t in times[c])
        print(f"{c:>16}: median {ms[len(ms) // 2]:7.1f} ms over {len(ms)} runs "
              f"(min {ms[0]:.1f}, max {ms[-1]:.1f})")
    print(f"engine / numpy loop      = {median_ratio(times, 'engine', 'numpy'):.3f}  "
          "(target <= 1.25)")
    if not args.no_torch:
        print(f"engine / PyTorch CPU     = {median_ratio(times, 'engine', 'torch'):.3f}  "
              "(target <= 1.35)")
    print(f"engine+listener / engine = {median_ratio(times, 'engine+listener', 'engine'):.3f}  "
          "(target <= 1.25)")


if __name__ == "__main__":
    main()
