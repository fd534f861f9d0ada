"""The bundled examples run with ``import torch`` resolving to the engine and print what
PyTorch prints (Example 1 exactly; Example 2 in format and trend)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from gradviz.examples import all_examples, find

ROOT = Path(__file__).resolve().parents[2]
RUNNER = (
    "import runpy, sys; from gradviz import torch_alias; torch_alias.install(); "
    "sys.argv = [sys.argv[1]]; runpy.run_path(sys.argv[0], run_name='__main__')"
)


def run_example(name: str) -> subprocess.CompletedProcess:
    path = find(name).path
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-c", RUNNER, str(path)], capture_output=True,
                          text=True, env=env, timeout=300, check=False)


def test_every_example_has_a_description():
    examples = all_examples()
    assert {"square_sum", "two_layer_net", "two_layer_net_module"} <= {e.name for e in examples}
    for ex in examples:
        assert ex.description, ex.name


def test_example_1_prints_exactly_what_pytorch_prints():
    proc = run_example("square_sum")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        " y =   tensor([ 4., 16.], grad_fn=<PowBackward0>)",
        " o =   tensor(10., grad_fn=<MulBackward0>)",
        "gradients:  tensor([2., 4.])",
    ]
    assert proc.stderr == ""


def _losses(stdout: str, pattern: str) -> list[tuple[int, float]]:
    return [(int(m.group(1)), float(m.group(2))) for m in re.finditer(pattern, stdout)]


def test_example_2_loss_falls_below_1e_2_in_pytorch_format():
    proc = run_example("two_layer_net")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 5
    for line in lines:
        # PyTorch's own output: "Loss of Epoch 99: \t1047.2076423" (the %f then a literal 3)
        assert re.fullmatch(r"Loss of Epoch \d+: \t\d+\.\d{6}3", line), line
    losses = _losses(proc.stdout, r"Loss of Epoch (\d+): \t([\d.]+)")
    assert [s for s, _ in losses] == [99, 199, 299, 399, 499]
    values = [v for _, v in losses]
    assert values == sorted(values, reverse=True)
    assert values[-1] < 1e-2


@pytest.mark.slow
def test_module_version_trains():
    proc = run_example("two_layer_net_module")
    assert proc.returncode == 0, proc.stderr
    values = [v for _, v in _losses(proc.stdout, r"step (\d+): loss ([\d.e+-]+)")]
    assert len(values) == 5
    assert values[-1] < values[0] / 100
