#!/usr/bin/env bash
# The GPU check of issue 6, one command, under 5 minutes, on a machine with an NVIDIA GPU and
# CuPy (e.g. Python 3.12, numpy 2.5, cupy-cuda13x), no network and no PySide6:
#
#     bash benchmarks/gpu_check.sh
#
# Runs from this checkout with PYTHONPATH set to it and installs nothing:
#   1. the environment: Python, numpy, CuPy, the device, what CuPy lacks of the engine's needs
#   2. the gpu-marked tests, tests/engine/test_gpu.py (with pytest when it is installed,
#      else as a plain script; both print how many passed and failed)
#   3. benchmarks/gpu_scaled_loop.py: the seed loop scaled up (N=4096, D_in=8192, H=4096,
#      D_out=1024, 100 steps): GPU engine vs the same loop in CuPy, GPU vs CPU engine,
#      first and last losses
# Without CuPy or a GPU every step says so and the script exits 0. Exit status 1 when a
# test fails or the benchmark reports a failure (a loss that does not fall).
# PYTHON=/path/to/python picks the interpreter (default: python3, else python).
set -u
cd "$(dirname "$0")/.." || exit 2
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
PY="${PYTHON:-$(command -v python3 || command -v python)}"
status=0
start=$(date +%s)

echo "== environment"
"$PY" - <<'EOF'
import sys

import numpy

print(f"python {sys.version.split()[0]} | numpy {numpy.__version__}")
try:
    import cupy

    rt = cupy.cuda.runtime
    print(f"cupy {cupy.__version__} | CUDA runtime {rt.runtimeGetVersion()} | driver "
          f"{rt.driverGetVersion()} | devices {rt.getDeviceCount()}")
except Exception as exc:  # noqa: BLE001 - report and go on
    print(f"cupy: not usable here ({type(exc).__name__}: {exc})")
import engine
from engine import _device

if engine.cuda.is_available():
    backend = _device._load_cuda()
    print(f"engine device: {engine.cuda.get_device_name()}")
    print(f"CuPy lacks: {', '.join(backend.missing) or 'nothing the engine uses'}")
else:
    print(f"engine.cuda.is_available() is False: {_device._cuda_error}")
EOF

echo
echo "== gpu tests (tests/engine/test_gpu.py)"
if "$PY" -c "import pytest" 2>/dev/null; then
    timeout 170 "$PY" -m pytest tests/engine/test_gpu.py -m gpu -q -rs -p no:cacheprovider \
        -o addopts="" -W ignore::pytest.PytestConfigWarning || status=1
else
    echo "(pytest is not installed: running the tests as a plain script)"
    timeout 170 "$PY" tests/engine/test_gpu.py || status=1
fi

echo
echo "== benchmark (benchmarks/gpu_scaled_loop.py)"
timeout 110 "$PY" benchmarks/gpu_scaled_loop.py || status=1

echo
echo "== gpu_check: $([ $status -eq 0 ] && echo ok || echo FAILED) in $(( $(date +%s) - start )) s"
exit $status
