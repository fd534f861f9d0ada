"""The seed's two-layer ReLU loop scaled up, on the GPU (issue 6, "Performance").

    N=4096, D_in=8192, H=4096, D_out=1024, 100 steps, float32,
    weights ~ N(0, 1) / sqrt(fan_in), learning rate 2 / (N * H), loss = sum of squares

Figures printed (first and last loss of every run included):

- GPU engine (``device='cuda'``, the seed's loop verbatim) against the same loop written
  directly in CuPy (the DESIGN's numpy reference with ``cupy`` for ``numpy``): rounds
  alternate engine / CuPy after a warm-up that compiles the kernels; the figure is the
  median of the per-round ratios. Target: <= 1.10.
- GPU engine against CPU engine: the CPU engine times only ``--cpu-steps`` steps (default 2;
  one step is ~650 GFLOP) and the figure is extrapolated to 100 steps, as the output says.

Why 2 / (N * H): with the summed loss the curvature along the mean ReLU feature grows like
0.32 * N * H, so steps above about 6 / (N * H) diverge (the seed's lr of 1e-6 gives NaN within
3 steps at this size); 2 / (N * H) falls at every step. ``--verify-lr`` checks that on the CPU
at a reduced size (N=512, D_in=1024, H=512, D_out=128) with the same rule, and that the
engine and the hand-written loop agree.

    PYTHONPATH=. python benchmarks/gpu_scaled_loop.py [--rounds 3] [--cpu-steps 2]
    PYTHONPATH=. python benchmarks/gpu_scaled_loop.py --verify-lr

Without CuPy or a CUDA device it says so and exits 0 (nothing to time). Exit status 1 when
a loss is not finite or does not fall.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

N, D_IN, H, D_OUT, STEPS = 4096, 8192, 4096, 1024, 100
SMALL = (512, 1024, 512, 128)
TARGET = 1.10


def lr_for(n: int, h: int) -> float:
    return 2.0 / (n * h)


def host_data(n: int, d_in: int, h: int, d_out: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {
        "x": rng.standard_normal((n, d_in), dtype=np.float32),
        "y": rng.standard_normal((n, d_out), dtype=np.float32),
        "w1": rng.standard_normal((d_in, h), dtype=np.float32) / np.float32(math.sqrt(d_in)),
        "w2": rng.standard_normal((h, d_out), dtype=np.float32) / np.float32(math.sqrt(h)),
    }


def engine_loop(torch, device: str, data: dict, steps: int, lr: float):
    """The seed's loop, verbatim but for the data: (seconds, first loss, last loss)."""
    x = torch.tensor(data["x"], device=device)
    y = torch.tensor(data["y"], device=device)
    w1 = torch.tensor(data["w1"], device=device, requires_grad=True)
    w2 = torch.tensor(data["w2"], device=device, requires_grad=True)
    learning_rate = lr
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    first = None
    for t in range(steps):
        y_pred = x.mm(w1).clamp(min=0).mm(w2)
        loss = (y_pred - y).pow(2).sum()
        if t == 0:
            first = loss.detach()  # read after the clock stops: no sync inside the loop
        loss.backward()
        with torch.no_grad():
            w1 -= learning_rate * w1.grad
            w2 -= learning_rate * w2.grad
            w1.grad.zero_()
            w2.grad.zero_()
    torch.cuda.synchronize()
    elapsed = time.perf_counter() - t0
    return elapsed, first.item(), loss.item()


def array_loop(xp, data: dict, steps: int, lr: float, sync=lambda: None):
    """The same math written directly in an array library (CuPy on the GPU; numpy for
    ``--verify-lr``): (seconds, first loss, last loss)."""
    x, y = xp.asarray(data["x"]), xp.asarray(data["y"])
    w1, w2 = xp.array(data["w1"], copy=True), xp.array(data["w2"], copy=True)
    lr = np.float32(lr)
    sync()
    t0 = time.perf_counter()
    first = None
    for t in range(steps):
        h = x @ w1
        hr = xp.maximum(h, 0)
        d = hr @ w2 - y
        loss = (d * d).sum()
        if t == 0:
            first = loss
        g = 2.0 * d
        gw2 = hr.T @ g
        gh = g @ w2.T
        gh *= h > 0
        gw1 = x.T @ gh
        w1 -= lr * gw1
        w2 -= lr * gw2
    sync()
    elapsed = time.perf_counter() - t0
    return elapsed, float(first), float(loss)


def falls(first: float, last: float) -> bool:
    return math.isfinite(first) and math.isfinite(last) and last < first


def verify_lr() -> int:
    """The lr rule at a reduced size on the CPU: the engine's loss falls at every step, and
    the hand-written loop gives the same losses."""
    import engine as torch

    n, d_in, h, d_out = SMALL
    lr = lr_for(n, h)
    data = host_data(n, d_in, h, d_out)
    x, y = torch.tensor(data["x"]), torch.tensor(data["y"])
    w1 = torch.tensor(data["w1"], requires_grad=True)
    w2 = torch.tensor(data["w2"], requires_grad=True)
    losses = []
    for _ in range(STEPS):
        loss = (x.mm(w1).clamp(min=0).mm(w2) - y).pow(2).sum()
        losses.append(loss.item())
        loss.backward()
        with torch.no_grad():
            w1 -= lr * w1.grad
            w2 -= lr * w2.grad
            w1.grad.zero_()
            w2.grad.zero_()
    _, ref_first, ref_last = array_loop(np, data, STEPS, lr)
    monotone = all(b < a for a, b in zip(losses, losses[1:]))
    print(f"verify-lr on the CPU: N={n} D_in={d_in} H={h} D_out={d_out}, {STEPS} steps, "
          f"lr = 2/(N*H) = {lr:.3g}")
    print(f"  engine loss: first {losses[0]:.6g}, last {losses[-1]:.6g} "
          f"({losses[-1] / losses[0]:.3f} of the first); falls at every step: {monotone}")
    print(f"  numpy loop:  first {ref_first:.6g}, last {ref_last:.6g}")
    agree = (math.isclose(ref_first, losses[0], rel_tol=1e-4)
             and math.isclose(ref_last, losses[-1], rel_tol=1e-3))
    ok = monotone and falls(losses[0], losses[-1]) and losses[-1] < 0.5 * losses[0] and agree
    print("  OK" if ok else "  FAILED: the loss must fall at every step and both loops agree")
    return 0 if ok else 1


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="engine/CuPy rounds (default 3)")
    parser.add_argument("--steps", type=int, default=STEPS)
    parser.add_argument("--cpu-steps", type=int, default=2,
                        help="CPU engine steps timed, extrapolated to --steps (default 2)")
    parser.add_argument("--verify-lr", action="store_true",
                        help="check the learning-rate rule on the CPU at a reduced size")
    parser.add_argument("--sizes", default=f"{N},{D_IN},{H},{D_OUT}",
                        help="N,D_in,H,D_out (default the issue's)")
    parser.add_argument("--strict-standin", action="store_true",
                        help="test this script without a GPU: the strict test backend stands "
                             "in for CUDA and numpy for CuPy (figures meaningless)")
    args = parser.parse_args(argv)
    if args.verify_lr:
        return verify_lr()
    n, d_in, h, d_out = (int(v) for v in args.sizes.split(","))

    import engine as torch

    if args.strict_standin:
        import types

        from engine._backend_strict import StrictBackend
        from engine._device import register_test_backend

        register_test_backend(StrictBackend("cuda"))
        cp = types.SimpleNamespace(
            __version__="(numpy standing in)", asarray=np.asarray, array=np.array,
            maximum=np.maximum, cuda=types.SimpleNamespace(Device=lambda: types.SimpleNamespace(
                synchronize=lambda: None)))
    try:
        if not args.strict_standin:
            import cupy as cp
    except ImportError as exc:
        print(f"gpu_scaled_loop: CuPy is not installed here ({exc}); no GPU to time, nothing "
              "done. Run it on a machine with an NVIDIA GPU and cupy-cuda12x / cupy-cuda13x "
              "(benchmarks/gpu_check.sh).")
        return 0
    if not torch.cuda.is_available():
        from engine import _device

        print(f"gpu_scaled_loop: CuPy is installed but the engine cannot use a CUDA device "
              f"({_device._cuda_error}); nothing to time.")
        return 0

    steps = args.steps
    lr = lr_for(n, h)
    print(f"device: {torch.cuda.get_device_name()} | CuPy {cp.__version__} | numpy "
          f"{np.__version__} | Python {sys.version.split()[0]} | {os.cpu_count()} CPU cores")
    print(f"loop: N={n} D_in={d_in} H={h} D_out={d_out}, {steps} steps, float32, weights "
          f"N(0,1)/sqrt(fan_in), lr = 2/(N*H) = {lr:.4g}")
    t0 = time.perf_counter()
    data = host_data(n, d_in, h, d_out)
    print(f"data made on the host in {time.perf_counter() - t0:.1f} s", flush=True)

    def sync():
        cp.cuda.Device().synchronize()

    t0 = time.perf_counter()
    engine_loop(torch, "cuda", data, 2, lr)  # warm-up: CuPy compiles its kernels once
    array_loop(cp, data, 2, lr, sync)
    print(f"warm-up (kernel compilation) {time.perf_counter() - t0:.1f} s", flush=True)

    ok = True
    ratios, e_times, c_times = [], [], []
    for r in range(args.rounds):
        e_s, e_first, e_last = engine_loop(torch, "cuda", data, steps, lr)
        c_s, c_first, c_last = array_loop(cp, data, steps, lr, sync)
        e_times.append(e_s)
        c_times.append(c_s)
        ratios.append(e_s / c_s)
        print(f"round {r + 1}: GPU engine {e_s:.3f} s (loss {e_first:.6g} -> {e_last:.6g}) | "
              f"CuPy {c_s:.3f} s (loss {c_first:.6g} -> {c_last:.6g}) | ratio "
              f"{e_s / c_s:.3f}", flush=True)
        ok &= falls(e_first, e_last) and falls(c_first, c_last)
        ok &= math.isclose(e_first, c_first, rel_tol=1e-3)
    ratio = statistics.median(ratios)
    gpu_s = statistics.median(e_times)

    cpu_steps = max(1, min(args.cpu_steps, steps))
    cpu_s, cpu_first, cpu_last = engine_loop(torch, "cpu", data, cpu_steps, lr)
    cpu_extrapolated = cpu_s / cpu_steps * steps
    print(f"CPU engine: {cpu_steps} of {steps} steps timed, {cpu_s:.2f} s "
          f"({cpu_s / cpu_steps:.2f} s/step), extrapolated to {steps} steps: "
          f"{cpu_extrapolated:.1f} s (loss {cpu_first:.6g} -> {cpu_last:.6g} after "
          f"{cpu_steps} steps)", flush=True)
    ok &= math.isclose(cpu_first, e_first, rel_tol=1e-3)

    print()
    print(f"first loss: GPU engine {e_first:.6g} | CuPy {c_first:.6g} | CPU engine "
          f"{cpu_first:.6g}")
    print(f"last loss after {steps} steps: GPU engine {e_last:.6g} | CuPy {c_last:.6g}")
    print(f"GPU engine {gpu_s:.3f} s for {steps} steps ({gpu_s / steps * 1e3:.2f} ms/step); "
          f"CuPy {statistics.median(c_times):.3f} s")
    print(f"GPU engine / CuPy: {ratio:.3f}x (median of {len(ratios)} rounds; target <= "
          f"{TARGET:.2f}: {'met' if ratio <= TARGET else 'NOT MET'})")
    print(f"GPU engine vs CPU engine: {cpu_extrapolated / gpu_s:.1f}x faster (CPU "
          f"extrapolated from {cpu_steps} of {steps} steps)")
    if not ok:
        print("FAILED: a loss did not fall, is not finite, or the three runs disagree on the "
              "first loss")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
