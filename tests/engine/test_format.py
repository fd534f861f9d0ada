"""Differential tests: ``engine._format.tensor_repr`` against real PyTorch's ``repr``.

Every case builds a torch tensor from the very same numpy values (and, for autograd
suffixes, a tensor that really has a ``grad_fn`` / ``requires_grad``) and demands that our
text equals torch's character for character.
"""

from __future__ import annotations

import contextlib
import math
import subprocess
import sys
from unittest import mock

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine._format import PRINT_OPTIONS, get_printoptions, set_printoptions, tensor_repr

torch = pytest.importorskip("torch")


class VeryLongCustomFunctionNameToForceSuffixWrapping(torch.autograd.Function):
    """Identity op whose grad_fn name is long enough to push the suffix onto a new line."""

    @staticmethod
    def forward(ctx, x):
        return x.clone()

    @staticmethod
    def backward(ctx, grad):
        return grad


# Ways to give a float tensor autograd state without changing any value (not even -0.0).
_GRAD_OPS = {
    "mul": lambda t: t * 1,
    "clone": torch.clone,
    "view": lambda t: t.view(t.shape),
    "custom": VeryLongCustomFunctionNameToForceSuffixWrapping.apply,
}
_AUTOGRAD_MODES = [None, "leaf", *_GRAD_OPS]

_FLOAT_DTYPES = ["float16", "float32", "float64"]
_INT_DTYPES = ["int8", "int16", "int32", "int64", "uint8"]
_ALL_DTYPES = [*_FLOAT_DTYPES, *_INT_DTYPES, "bool"]

# A device name as long as "cpu", so the wrapping of our output matches torch's exactly.
_FAKE_DEVICE = "xyz"


@pytest.fixture(autouse=True)
def _restore_defaults():
    """Every test leaves torch's and our global printing state at the defaults."""
    yield
    torch.set_printoptions(profile="default")
    set_printoptions(profile="default")
    torch.set_default_dtype(torch.float32)


@contextlib.contextmanager
def _print_options(**options):
    """Apply the same print options to torch and to us, restoring the defaults after."""
    torch.set_printoptions(**options)
    set_printoptions(**options)
    try:
        yield
    finally:
        torch.set_printoptions(profile="default")
        set_printoptions(profile="default")


def _check(values, autograd=None, default_float="float32", show_device=False):
    """Assert that our repr of ``values`` equals torch's; return it.

    ``show_device`` makes torch believe its default device is elsewhere, so it prints
    ``device='cpu'``; we render a same-length fake device and swap the name back.
    """
    values = np.array(values)  # own copy; torch.from_numpy needs a writable array
    torch.set_default_dtype(getattr(torch, default_float))
    t = torch.from_numpy(values.copy())
    grad_fn, requires_grad = None, False
    if autograd is not None:
        t.requires_grad_()
        requires_grad = True  # a tensor with a grad_fn also requires grad
        if autograd != "leaf":
            t = _GRAD_OPS[autograd](t)
            grad_fn = type(t.grad_fn).__name__

    patch = (
        mock.patch.object(torch._C, "_get_default_device", return_value="meta")
        if show_device
        else contextlib.nullcontext()
    )
    with patch:
        expected = repr(t)
    actual = tensor_repr(
        values,
        dtype_name=str(t.dtype).removeprefix("torch."),
        default_float=default_float,
        device=_FAKE_DEVICE if show_device else "cpu",
        grad_fn=grad_fn,
        requires_grad=requires_grad,
    )
    if show_device:
        actual = actual.replace(f"device='{_FAKE_DEVICE}'", "device='cpu'")
    assert actual == expected, f"\nours:\n{actual}\ntorch:\n{expected}"
    return actual


# ---------------------------------------------------------------------------------------
# Hand-picked cases
# ---------------------------------------------------------------------------------------

_rng = np.random.default_rng(1234)


def _randn(*shape, dtype=np.float32):
    return _rng.standard_normal(shape).astype(dtype)


def _with_specials(arr, *specials):
    arr = arr.copy()
    arr.flat[: len(specials)] = specials
    return arr


_f32 = np.float32
_nan, _inf = math.nan, math.inf

_CASES = {
    # seed examples
    "pair": np.array([2.0, 4.0], _f32),
    "squares": np.array([4.0, 16.0], _f32),
    "scalar_10": np.array(10.0, _f32),
    # matrices and higher dims
    "randn_3x3": _randn(3, 3),
    "randn_64x10": _randn(64, 10),
    "randn_100x100_summarized": _randn(100, 100),
    "randn_2x3x4": _randn(2, 3, 4),
    "randn_2x2x2x2": _randn(2, 2, 2, 2),
    "randn_20x20x20_summarized": _randn(20, 20, 20),
    "randn_5x5x5x10_summarized": _randn(5, 5, 5, 10),
    "randn_3x40_row_wrap": _randn(3, 40),
    "randn_1x1x1": _randn(1, 1, 1),
    "row_200_wrap": _randn(200),
    "row_1001_summarized": _randn(1001),
    "row_1001_wide_values_summarized": _randn(1001) * 1e5,
    "float64_randn": _randn(4, 3, dtype=np.float64),
    "float16_randn": _randn(3, 5, dtype=np.float16),
    "float16_extremes": np.array([65504.0, -65504.0, 6e-8, 1.0], np.float16),
    "mixed_negative": np.array([-1.5, 2.25, -300.125, 0.0], _f32),
    "negative_integral": np.array([-1.0, -20.0, 300.0], _f32),
    # style switches
    "tiny": _randn(4) * 1e-6,
    "huge": _randn(2, 3) * 1e10,
    "ratio_just_over_1000": np.array([1.0, 1000.5], _f32),
    "ratio_1000_exactly": np.array([1.0, 1000.0], _f32),
    "integral_over_1e8": np.array([1e9, 2.0], _f32),
    "min_just_below_1e-4": np.array([9e-5, 0.5], np.float64),
    "mixed_magnitudes": np.array([[1e-5, 1.0], [1e5, -3.0]], _f32),
    "large_integral_fixed": np.array([123456.0, 7.0], np.float64),
    # nan / inf / zeros
    "nan_inf": np.array([_nan, 1.0, _inf, -_inf], _f32),
    "nan_fraction": np.array([_nan, 1.5, -_inf], _f32),
    "all_nan": np.array([_nan, _nan], _f32),
    "zero_nan_inf": np.array([0.0, _nan, _inf], _f32),
    "zeros_2x2": np.zeros((2, 2), _f32),
    "nan_inf_matrix": _with_specials(_randn(3, 3), _nan, _inf, -_inf),
    "nan_inf_sci": np.array([_nan, 1e-7, 3.0, _inf], _f32),
    "negative_zero": np.array([-0.0, 1.0], _f32),
    "negative_zero_fraction": np.array([-0.0, 0.5], _f32),
    "only_negative_zero": np.array([-0.0, 0.0], _f32),
    # ints and bools
    "int64_matrix": np.arange(12).reshape(3, 4),
    "int64_wide": np.array([1, -100000, 42]),
    "int32_negative": np.array([-5, 3, 10], np.int32),
    "int16": np.array([[-32768, 32767], [0, 1]], np.int16),
    "int8_extremes": np.array([-128, 127, 0], np.int8),
    "uint8": np.array([0, 255, 7], np.uint8),
    "int64_row_wrap": np.arange(-60, 60) * 1001,
    "int64_summarized": np.arange(5000).reshape(50, 100),
    "bool_matrix": np.array([[True, False, True], [False, False, True]]),
    "bool_all_true": np.array([True, True]),
    # 0-d
    "scalar_int": np.array(7),
    "scalar_int32": np.array(-7, np.int32),
    "scalar_bool": np.array(True),
    "scalar_nan": np.array(_nan, _f32),
    "scalar_tiny": np.array(1e-8, _f32),
    "scalar_negative_zero": np.array(-0.0, np.float64),
    # empty
    "empty_1d": np.zeros((0,), _f32),
    "empty_0x3": np.zeros((0, 3), _f32),
    "empty_2x0x4": np.zeros((2, 0, 4), _f32),
    "empty_int64": np.zeros((0,), np.int64),
    "empty_bool_3x0": np.zeros((3, 0), bool),
    "empty_float64": np.zeros((0,), np.float64),
    "empty_float16_0x2": np.zeros((0, 2), np.float16),
}


@pytest.mark.parametrize("name", list(_CASES))
def test_matches_torch(name):
    _check(_CASES[name])


@pytest.mark.parametrize("autograd", _AUTOGRAD_MODES[1:])
@pytest.mark.parametrize(
    "name",
    [
        "pair",
        "scalar_10",
        "randn_3x3",
        "randn_100x100_summarized",
        "row_200_wrap",
        "float64_randn",
        "float16_randn",
        "empty_0x3",
        "empty_float64",
        "nan_inf",
    ],
)
def test_autograd_suffixes_match_torch(name, autograd):
    _check(_CASES[name], autograd=autograd)


@pytest.mark.parametrize("autograd", [None, "leaf", "custom"])
@pytest.mark.parametrize("name", ["pair", "randn_3x3", "float64_randn", "empty_1d"])
def test_device_suffix_matches_torch(name, autograd):
    _check(_CASES[name], autograd=autograd, show_device=True)


@pytest.mark.parametrize("name", ["int64_matrix", "empty_int64", "bool_matrix"])
def test_device_suffix_on_non_float_matches_torch(name):
    _check(_CASES[name], show_device=True)


@pytest.mark.parametrize(
    "name", ["pair", "scalar_10", "float64_randn", "float16_randn", "empty_1d", "empty_float64"]
)
def test_default_float64_matches_torch(name):
    _check(_CASES[name], default_float="float64")
    _check(_CASES[name], autograd="leaf", default_float="float64")


def test_seed_examples_literally():
    def ours(values, **kwargs):
        return tensor_repr(np.array(values, _f32), dtype_name="float32", **kwargs)

    assert ours([4.0, 16.0], grad_fn="PowBackward0") == "tensor([ 4., 16.], grad_fn=<PowBackward0>)"
    assert ours(10.0, grad_fn="MulBackward0") == "tensor(10., grad_fn=<MulBackward0>)"
    assert ours([2.0, 4.0]) == "tensor([2., 4.])"
    # grad_fn wins over requires_grad; cuda devices are named first
    assert (
        ours([1.0], device="cuda:0", grad_fn="AddBackward0", requires_grad=True)
        == "tensor([1.], device='cuda:0', grad_fn=<AddBackward0>)"
    )
    # and the real torch ops behind the first two
    x = torch.tensor([2.0, 4.0], requires_grad=True)
    assert repr(x**2) == ours([4.0, 16.0], grad_fn="PowBackward0")
    assert repr(x.sum() * 10 / 6) == ours(10.0, grad_fn="DivBackward0")


def test_suffixes_wrap_after_a_long_last_line():
    # A row that ends close to the line width, so each suffix has to move to a new line.
    values = np.arange(1, 20, dtype=np.float64) * 1.5
    text = _check(values, autograd="custom")
    assert "\n       grad_fn=" in text
    _check(values[:9], autograd="custom")


# ---------------------------------------------------------------------------------------
# Print options
# ---------------------------------------------------------------------------------------

_OPTION_SETS = [
    {"precision": 2},
    {"precision": 0},
    {"precision": 8},
    {"sci_mode": True},
    {"sci_mode": False},
    {"sci_mode": True, "precision": 1},
    {"threshold": 5},
    {"threshold": 5, "edgeitems": 1},
    {"threshold": 5, "edgeitems": 0},
    {"edgeitems": 0},
    {"linewidth": 40},
    {"linewidth": 1},
    {"profile": "short"},
    {"profile": "full"},
    {"profile": "full", "precision": 6},
]


@pytest.mark.parametrize("options", _OPTION_SETS, ids=str)
@pytest.mark.parametrize(
    "name",
    [
        "randn_3x3",
        "randn_100x100_summarized",
        "randn_2x3x4",
        "row_200_wrap",
        "huge",
        "tiny",
        "nan_inf",
        "zero_nan_inf",
        "int64_matrix",
        "bool_matrix",
        "scalar_10",
        "empty_0x3",
    ],
)
def test_print_options_match_torch(options, name):
    with _print_options(**options):
        _check(_CASES[name])
        if _CASES[name].dtype.kind == "f":
            _check(_CASES[name], autograd="mul")


@pytest.mark.parametrize("options", _OPTION_SETS, ids=str)
def test_get_printoptions_matches_torch(options):
    torch.set_printoptions(**options)
    set_printoptions(**options)
    assert get_printoptions() == torch._tensor_str.get_printoptions()
    assert get_printoptions() is not PRINT_OPTIONS  # a copy, not the live dict


def test_set_printoptions_resets_sci_mode_and_defaults_restore():
    set_printoptions(sci_mode=True)
    set_printoptions(precision=3)  # like torch, omitting sci_mode resets it
    assert get_printoptions() == {
        "precision": 3,
        "threshold": 1000,
        "edgeitems": 3,
        "linewidth": 80,
        "sci_mode": None,
    }
    set_printoptions(profile="default")
    assert PRINT_OPTIONS["precision"] == 4


def test_module_does_not_import_torch():
    code = "import sys, engine._format; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


# ---------------------------------------------------------------------------------------
# Property-based: random shapes, values, dtypes, suffixes and print options
# ---------------------------------------------------------------------------------------

_REGIMES = ["normal", "integral", "tiny", "huge", "wide", "decimals", "special", "zeros"]
_SPECIALS = [math.nan, math.inf, -math.inf, 0.0, -0.0, 1.0, -2.5, 1e-5, 3e9, 0.1]


def _make_values(shape, dtype_name, regime, seed):
    rng = np.random.default_rng(seed)
    if dtype_name == "bool":
        return rng.random(shape) < 0.5
    if dtype_name in _INT_DTYPES:
        info = np.iinfo(dtype_name)
        low, high = {"normal": (-10, 10), "huge": (info.min, info.max), "zeros": (0, 0)}.get(
            regime, (-1000, 1000)
        )
        low, high = max(low, info.min), min(high, info.max)
        return rng.integers(low, high, size=shape, endpoint=True).astype(dtype_name)

    normal = rng.standard_normal(shape)
    values = {
        "normal": normal,
        "integral": np.round(normal * 10),
        "tiny": normal * 1e-6,
        "huge": normal * 1e10,
        "wide": np.sign(normal) * 10.0 ** rng.uniform(-12, 12, shape),
        "decimals": np.round(normal, 2),
        "special": rng.choice(_SPECIALS, size=shape),
        "zeros": np.zeros(shape),
    }[regime]
    with np.errstate(over="ignore", under="ignore"):  # float16 saturates to inf: fine
        return np.asarray(values).astype(dtype_name)


@st.composite
def _tensor_cases(draw, max_side):
    dtype_name = draw(st.sampled_from(_ALL_DTYPES))
    shape = tuple(draw(st.lists(st.integers(0, max_side), max_size=4)))
    regime = draw(st.sampled_from(_REGIMES))
    values = _make_values(shape, dtype_name, regime, draw(st.integers(0, 2**32 - 1)))
    autograd = draw(st.sampled_from(_AUTOGRAD_MODES)) if dtype_name in _FLOAT_DTYPES else None
    return {
        "values": values,
        "autograd": autograd,
        "default_float": draw(st.sampled_from(["float32", "float64"])),
        "show_device": draw(st.booleans()),
    }


_HYPOTHESIS = settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=500,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@_HYPOTHESIS
@given(case=_tensor_cases(max_side=5))
def test_random_tensors_match_torch(case):
    _check(**case)


_options = st.fixed_dictionaries(
    {},
    optional={
        "precision": st.integers(0, 8),
        "threshold": st.sampled_from([0, 1, 5, 20, 100, math.inf]),
        "edgeitems": st.integers(0, 4),
        "linewidth": st.integers(1, 120),
        "profile": st.sampled_from(["default", "short", "full"]),
        "sci_mode": st.sampled_from([True, False]),
    },
)


@_HYPOTHESIS
@given(case=_tensor_cases(max_side=7), options=_options)
def test_random_tensors_with_print_options_match_torch(case, options):
    with _print_options(**options):
        _check(**case)
