"""What the gradient diagnostics cost: seed Example 2's training loop (500 steps), in the
process that trains, with the recorder attached as in the debugger's child, against the same
with the diagnostician attached beside it; the plain engine is timed too, for scale.

    python benchmarks/diagnostics_overhead.py [--rounds 7]

Each contender runs in a fresh process, contenders alternate within a round (engine,
recorder, recorder+diagnostics, ...), one BLAS thread each, and a ratio is the median of the
per-round ratios (DESIGN.md, "Benchmarks"). The recorder's messages go to a list, as the
child's go to a pipe; the diagnostician's budget is what the recorder leaves of the
runner's 1.25x.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _harness import interleaved, median_ratio, report  # noqa: E402

N, D_IN, H, D_OUT, STEPS, LR = 64, 1000, 100, 10, 500, 1e-6


def loop(torch) -> float:
    """Seed Example 2, verbatim apart from the seed and the clock."""
    torch.manual_seed(0)
    x = torch.randn(N, D_IN)
    y = torch.randn(N, D_OUT)
    w1 = torch.randn(D_IN, H, requires_grad=True)
    w2 = torch.randn(H, D_OUT, requires_grad=True)
    t0 = time.perf_counter()
    for _ in range(STEPS):
        y_pred = x.mm(w1).clamp(min=0).mm(w2)
        loss = (y_pred - y).pow(2).sum()
        loss.backward()
        with torch.no_grad():
            w1 -= LR * w1.grad
            w2 -= LR * w2.grad
            w1.grad.zero_()
            w2.grad.zero_()
    return time.perf_counter() - t0


def worker(contender: str) -> None:
    import engine
    from engine import events

    if contender == "engine":
        report(loop(engine))
        return
    from gradviz.diagnostics import Diagnostician
    from gradviz.recorder import Recorder

    sent: list = []
    if contender == "recorder":
        recorder = Recorder(sent.append)
        with events.listening(recorder):
            seconds = loop(engine)
    elif contender == "diagnostics":
        diag = Diagnostician(sent.append)
        recorder = Recorder(diag.relay)
        diag.follow(recorder)
        events.add_listener(recorder)
        diag.attach()
        try:
            seconds = loop(engine)
        finally:
            diag.detach()
            events.remove_listener(recorder)
        if diag.diagnostics:
            raise SystemExit(f"false alarm on Example 2: {diag.diagnostics}")
    else:
        raise SystemExit(f"unknown contender {contender}")
    report(seconds)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--worker")
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    if args.worker:
        worker(args.worker)
        return
    contenders = ["engine", "recorder", "diagnostics"]
    times = interleaved(__file__, contenders, args.rounds)
    for c in contenders:
        ms = sorted(t * 1000 for t in times[c])
        print(f"{c:>12}: loop median {ms[len(ms) // 2]:7.1f} ms over {len(ms)} runs "
              f"(min {ms[0]:.1f}, max {ms[-1]:.1f})")
    print(f"diagnostics / recorder = {median_ratio(times, 'diagnostics', 'recorder'):.3f}"
          "  (what the detectors add)")
    print(f"recorder / engine      = {median_ratio(times, 'recorder', 'engine'):.3f}")
    print(f"diagnostics / engine   = {median_ratio(times, 'diagnostics', 'engine'):.3f}")


if __name__ == "__main__":
    main()
