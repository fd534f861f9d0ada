"""What the isolated runner costs: seed Example 2's training loop run by ``gradviz.runner``
(recorder attached, events streamed to a parent process) against the same loop on the plain
engine, both timed inside the process that trains (start-up excluded); and the start-up
itself, wall time of ``python -m gradviz.child square_sum`` and of a Runner on it.

    python benchmarks/runner_overhead.py [--rounds 5]

Target (issue 3): runner / engine <= 1.25. Contenders alternate (engine runner engine ...),
each in a fresh process, and a ratio is the median of the per-round ratios (DESIGN.md,
"Benchmarks"); the CPU-time ratio is the steadier one on a busy machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _worker_env() -> dict:
    """One BLAS thread for both contenders (and the runner's child, which inherits it): a
    multi-threaded BLAS spin-waits against the debugger's other process on 2 cores and
    measures the contention, not the runner (the same rule as _harness.THREADS)."""
    env = dict(os.environ, PYTHONPATH=ROOT)
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = "1"
    return env

# Seed Example 2, verbatim apart from the seed and the clock around the loop.
LOOP = '''\
import json, time
import torch

torch.manual_seed(0)
dtype = torch.float
device = torch.device("cpu")
N, D_in, H, D_out = 64, 1000, 100, 10
x = torch.randn(N, D_in, device=device, dtype=dtype)
y = torch.randn(N, D_out, device=device, dtype=dtype)
w1 = torch.randn(D_in, H, device=device, dtype=dtype, requires_grad=True)
w2 = torch.randn(H, D_out, device=device, dtype=dtype, requires_grad=True)
learning_rate = 1e-6
started, cpu = time.perf_counter(), time.process_time()
for t in range(500):
    y_pred = x.mm(w1).clamp(min=0).mm(w2)
    loss = (y_pred - y).pow(2).sum()
    if t % 100 == 99:
        print(f"Loss of Epoch %d: \\t%f3"%(t, loss.item()))
    loss.backward()
    with torch.no_grad():
        w1 -= learning_rate * w1.grad
        w2 -= learning_rate * w2.grad
        w1.grad.zero_()
        w2.grad.zero_()
print(json.dumps({"seconds": time.perf_counter() - started, "cpu": time.process_time() - cpu}))
'''


def _loop_file() -> str:
    fd, path = tempfile.mkstemp(prefix="gradviz-bench-", suffix=".py")
    with os.fdopen(fd, "w") as f:
        f.write(LOOP)
    return path


def _timings_from(stdout: str) -> str:
    """The loop's own JSON line (wall and CPU seconds of the process that trained)."""
    return stdout.strip().splitlines()[-1]


def worker(contender: str) -> None:
    path = _loop_file()
    try:
        if contender == "engine":  # the same script, in this process, no listener
            import contextlib
            import io

            from gradviz import torch_alias

            torch_alias.install()
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                exec(compile(LOOP, path, "exec"), {"__name__": "__main__"})
            print(_timings_from(out.getvalue()))
        elif contender == "runner":
            from gradviz.runner import Runner

            chunks: list[str] = []
            messages = []
            runner = Runner(path, stdio="pipe", on_message=messages.append,
                            on_output=lambda stream, text: chunks.append(text)
                            if stream == "stdout" else None)
            runner.start()
            result = runner.wait(600)
            if result.status != "ok":
                raise SystemExit(f"runner: {result}")
            print(_timings_from("".join(chunks)))
        else:
            raise SystemExit(f"unknown contender {contender}")
    finally:
        os.unlink(path)


def start_up(rounds: int) -> dict[str, float]:
    """Median wall seconds from command to exit."""
    env = dict(os.environ, PYTHONPATH=ROOT)
    commands = {
        "python -m gradviz.child square_sum": [sys.executable, "-m", "gradviz.child",
                                               "square_sum"],
        "Runner('square_sum') start to exit": [
            sys.executable, "-c",
            "from gradviz.runner import Runner; r = Runner('square_sum'); r.start(); "
            "raise SystemExit(r.wait().exit_code)"],
    }
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(rounds):
        for name, command in commands.items():
            started = time.perf_counter()
            subprocess.run(command, env=env, stdout=subprocess.DEVNULL, check=True)
            times[name].append(time.perf_counter() - started)
    return {name: statistics.median(t) for name, t in times.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--worker")
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    if args.worker:
        worker(args.worker)
        return
    contenders = ["engine", "runner"]
    runs: dict[str, list[dict]] = {c: [] for c in contenders}
    for _ in range(args.rounds):  # interleaved: engine runner engine runner ...
        for c in contenders:
            proc = subprocess.run([sys.executable, __file__, "--worker", c],
                                  capture_output=True, text=True,
                                  env=_worker_env(), check=False)
            if proc.returncode != 0:
                raise SystemExit(f"worker {c} failed:\n{proc.stderr}")
            runs[c].append(json.loads(proc.stdout.strip().splitlines()[-1]))
    for c in contenders:
        ms = sorted(r["seconds"] * 1000 for r in runs[c])
        print(f"{c:>8}: training loop median {ms[len(ms) // 2]:7.1f} ms over {len(ms)} runs "
              f"(min {ms[0]:.1f}, max {ms[-1]:.1f})")
    for key, label in (("seconds", "wall"), ("cpu", "CPU ")):
        ratio = statistics.median(r[key] / e[key] for r, e in zip(runs["runner"], runs["engine"]))
        print(f"runner / engine, {label} time of the loop = {ratio:.3f}  (target <= 1.25)")
    for name, seconds in start_up(args.rounds).items():
        print(f"start-up, {name}: {seconds * 1000:.0f} ms (median of {args.rounds})")


if __name__ == "__main__":
    main()
