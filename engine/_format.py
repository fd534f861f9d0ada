"""Tensor printing that is character-for-character identical to PyTorch 2.13.

``tensor_repr`` turns a host numpy array plus a little metadata (dtype name, device,
autograd state) into exactly the text ``repr(torch_tensor)`` would produce, so users who
move between the engine and PyTorch see the same output.  It re-implements the rules of
PyTorch's ``torch/_tensor_str.py`` for dense, real-valued tensors:

* one *formatter* per tensor decides a common cell width and the float style (integer
  style ``4.``, fixed point with ``precision`` digits, or scientific notation) from the
  nonzero finite values -- only the values that will be shown when summarizing;
* 1-D rows wrap at ``linewidth``; nested dims are joined with ``,`` and ``ndim - 1``
  newlines; tensors with more than ``threshold`` elements show ``edgeitems`` per side;
* suffixes (``device=``, ``size=``, ``dtype=``, ``grad_fn=``/``requires_grad=``) are
  appended in torch's order and moved to a new line when they would pass ``linewidth``.

Several quirks of the reference are reproduced on purpose (they are marked "torch quirk"
below); fixing them would break the byte-for-byte match.

This module depends on numpy and the standard library only.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["PRINT_OPTIONS", "get_printoptions", "set_printoptions", "tensor_repr"]

_DEFAULTS: dict[str, Any] = {
    "precision": 4,
    "threshold": 1000,
    "edgeitems": 3,
    "linewidth": 80,
    "sci_mode": None,
}

# Values each named profile resets; sci_mode is not part of a profile.
_PROFILES: dict[str, dict[str, Any]] = {
    "default": {"precision": 4, "threshold": 1000, "edgeitems": 3, "linewidth": 80},
    "short": {"precision": 2, "threshold": 1000, "edgeitems": 2, "linewidth": 80},
    "full": {"precision": 4, "threshold": math.inf, "edgeitems": 3, "linewidth": 80},
}

#: The live print options (mutated in place by :func:`set_printoptions`).
PRINT_OPTIONS: dict[str, Any] = dict(_DEFAULTS)

# Engine dtype names -> numpy dtypes used to hold their values on the host.
_NUMPY_DTYPES: dict[str, type[np.generic]] = {
    "float16": np.float16,
    "float32": np.float32,
    "float64": np.float64,
    "int8": np.int8,
    "int16": np.int16,
    "int32": np.int32,
    "int64": np.int64,
    "uint8": np.uint8,
    "bool": np.bool_,
}

# Non-float dtypes torch never names in the suffix (the default float is added per call).
_IMPLICIT_DTYPES = ("int64", "bool")

_PREFIX = "tensor("


def set_printoptions(
    precision: int | None = None,
    threshold: float | None = None,
    edgeitems: int | None = None,
    linewidth: int | None = None,
    profile: str | None = None,
    sci_mode: bool | None = None,
) -> None:
    """Set the print options, with the same semantics as ``torch.set_printoptions``.

    Args:
        precision: digits after the decimal point for floats (default 4).
        threshold: element count above which tensors are summarized (default 1000).
        edgeitems: items shown at each end of every dim when summarizing (default 3).
        linewidth: characters per line used for wrapping (default 80).
        profile: ``"default"``, ``"short"`` or ``"full"``; applied first, so the other
            arguments override it.  Unknown names are ignored, as in torch.
        sci_mode: ``True``/``False`` force scientific/fixed notation; ``None`` lets the
            formatter choose.  Like torch, this is *always* assigned, so any call that
            omits it resets it to ``None``.
    """
    if profile is not None:
        PRINT_OPTIONS.update(_PROFILES.get(profile, {}))
    if precision is not None:
        PRINT_OPTIONS["precision"] = precision
    if threshold is not None:
        PRINT_OPTIONS["threshold"] = threshold
    if edgeitems is not None:
        PRINT_OPTIONS["edgeitems"] = edgeitems
    if linewidth is not None:
        PRINT_OPTIONS["linewidth"] = linewidth
    PRINT_OPTIONS["sci_mode"] = sci_mode


def get_printoptions() -> dict[str, Any]:
    """Return a copy of the current print options; it can be passed back to
    :func:`set_printoptions` as keyword arguments."""
    return dict(PRINT_OPTIONS)


def tensor_repr(
    values: Any,
    *,
    dtype_name: str,
    default_float: str = "float32",
    device: str = "cpu",
    grad_fn: str | None = None,
    requires_grad: bool = False,
) -> str:
    """Return exactly what PyTorch prints for a tensor holding ``values``.

    Args:
        values: the tensor's data as a host numpy array (any ndim, including 0-d and
            shapes with a zero dim).  It is converted to ``dtype_name``'s numpy dtype, so
            pass values that are already representable in it.
        dtype_name: engine dtype name without ``torch.``: ``float32``, ``float64``,
            ``float16``, ``int64``, ``int32``, ``int16``, ``int8``, ``uint8`` or ``bool``.
        default_float: the current default float dtype name; a float tensor of another
            dtype gets a ``dtype=`` suffix.
        device: e.g. ``"cpu"`` or ``"cuda:0"``; shown as ``device='cuda:0'`` unless cpu.
        grad_fn: class name of the tensor's autograd node, e.g. ``"PowBackward0"``.
        requires_grad: shown as ``requires_grad=True`` only when there is no ``grad_fn``.

    Returns:
        The text of ``repr(tensor)`` (which equals ``str(tensor)``) under the current
        print options.
    """
    opts = dict(PRINT_OPTIONS)  # one consistent snapshot for the whole rendering
    np_dtype = _NUMPY_DTYPES.get(dtype_name)
    # Out-of-range values saturate (to inf for floats) on the cast, as they would in torch.
    with np.errstate(over="ignore", invalid="ignore"):
        arr = np.asarray(values) if np_dtype is None else np.asarray(values, dtype=np_dtype)
    if arr.dtype.kind == "c":
        raise NotImplementedError("complex tensors are not supported")

    indent = len(_PREFIX)
    suffixes = []
    if device != "cpu":
        suffixes.append(f"device='{device}'")

    size_suffix = f"size={tuple(int(n) for n in arr.shape)}"
    dtype_suffix = f"dtype=torch.{dtype_name}"
    if arr.size == 0:
        # Mirrors numpy: the shape is only implied for the plain 1-D empty tensor.
        if arr.ndim != 1:
            suffixes.append(size_suffix)
        # No elements to hint at the dtype, so anything but the default float is named.
        if dtype_name != default_float:
            suffixes.append(dtype_suffix)
        body = "[]"
    else:
        # torch quirk: edgeitems=0 always adds the size, even when nothing is summarized.
        if not opts["edgeitems"]:
            suffixes.append(size_suffix)
        if dtype_name != default_float and dtype_name not in _IMPLICIT_DTYPES:
            suffixes.append(dtype_suffix)
        body = _tensor_body(arr, indent, opts)

    if grad_fn is not None:
        suffixes.append(f"grad_fn=<{grad_fn}>")
    elif requires_grad:
        suffixes.append("requires_grad=True")

    return _add_suffixes(_PREFIX + body, suffixes, indent, opts["linewidth"])


class _Formatter:
    """Chooses one cell width and float style for every element of a tensor."""

    def __init__(self, sample: np.ndarray, precision: int, sci_mode: bool | None) -> None:
        self.floating = sample.dtype.kind == "f"
        self.precision = precision
        self.int_mode = True
        self.sci_mode = False
        self.max_width = 1

        # Widths depend only on the value, so each distinct value is measured once.
        if not self.floating:
            for value in np.unique(sample).tolist():
                self.max_width = max(self.max_width, len(str(value)))
            return

        flat = sample.ravel()
        shown = flat[np.isfinite(flat) & (flat != 0)]
        if shown.size == 0:
            # Only zeros/nan/inf: torch keeps integer style and width 1 (no alignment).
            return

        # Magnitudes in float64 (exact for every float dtype) so the ratio test cannot
        # overflow the storage dtype; Python floats avoid numpy overflow warnings.
        magnitudes = np.abs(shown.astype(np.float64))
        smallest, largest = float(magnitudes.min()), float(magnitudes.max())
        self.int_mode = bool(np.all(np.ceil(shown) == shown))
        if sci_mode is None:
            self.sci_mode = largest / smallest > 1000.0 or largest > 1.0e8 or smallest < 1.0e-4
        else:
            self.sci_mode = bool(sci_mode)

        for value in np.unique(shown).tolist():
            if self.sci_mode:
                width = len(f"{value:.{precision}e}")
            elif self.int_mode:
                width = len(f"{value:.0f}") + 1  # + 1 for the trailing "."
            else:
                width = len(f"{value:.{precision}f}")
            self.max_width = max(self.max_width, width)

    def format(self, value: float | int | bool) -> str:
        """Format one Python scalar, right-aligned to the common width."""
        if not self.floating:
            text = str(value)
        elif self.sci_mode:
            text = f"{value:.{self.precision}e}"
        elif self.int_mode:
            text = f"{value:.0f}"
            if math.isfinite(value):  # the "." marks a float; nan/inf need no marker
                text += "."
        else:
            text = f"{value:.{self.precision}f}"
        return text.rjust(self.max_width)


def _tensor_body(arr: np.ndarray, indent: int, opts: dict[str, Any]) -> str:
    """The bracketed element text of a non-empty tensor (without prefix or suffixes)."""
    summarize = arr.size > opts["threshold"]
    sample = _summarized_values(arr, opts["edgeitems"]) if summarize else arr
    formatter = _Formatter(sample, opts["precision"], opts["sci_mode"])
    return _render(arr, indent, summarize, formatter, opts)


def _summarized_values(arr: np.ndarray, edgeitems: int) -> np.ndarray:
    """The elements a summarized print shows, which alone decide the formatting."""
    if arr.ndim == 0:
        return arr
    if arr.ndim == 1:
        if arr.shape[0] <= 2 * edgeitems:
            return arr
        # torch quirk: with edgeitems=0 this is arr[:0] + arr[-0:], i.e. the whole row.
        return np.concatenate((arr[:edgeitems], arr[-edgeitems:]))
    if not edgeitems:
        return arr[(slice(0, 0),) * arr.ndim]
    index = [
        np.r_[0:edgeitems, n - edgeitems : n] if n > 2 * edgeitems else np.arange(n)
        for n in arr.shape
    ]
    return arr[np.ix_(*index)]


def _render(
    arr: np.ndarray, indent: int, summarize: bool, formatter: _Formatter, opts: dict[str, Any]
) -> str:
    """Recursively render ``arr`` whose opening bracket sits at column ``indent``."""
    if arr.ndim == 0:
        return formatter.format(arr.item())
    if arr.ndim == 1:
        return _render_row(arr, indent, summarize, formatter, opts)

    edgeitems = opts["edgeitems"]
    n = arr.shape[0]
    if summarize and n > 2 * edgeitems:
        rows = list(range(edgeitems)) + [None] + list(range(n - edgeitems, n))
    else:
        rows = list(range(n))
    blocks = [
        "..." if i is None else _render(arr[i], indent + 1, summarize, formatter, opts)
        for i in rows
    ]
    # One newline between rows of a matrix, one blank line more per extra dim.
    separator = "," + "\n" * (arr.ndim - 1) + " " * (indent + 1)
    return "[" + separator.join(blocks) + "]"


def _render_row(
    row: np.ndarray, indent: int, summarize: bool, formatter: _Formatter, opts: dict[str, Any]
) -> str:
    """Render a 1-D row, wrapping it so each line holds a whole number of cells."""
    cell_width = formatter.max_width + 2  # ", " between cells
    per_line = max(1, math.floor((opts["linewidth"] - indent) / cell_width))

    edgeitems = opts["edgeitems"]
    if summarize and not edgeitems:
        cells = ["..."]
    elif summarize and row.shape[0] > 2 * edgeitems:
        # The ellipsis is an ordinary cell (it counts towards per_line).
        cells = (
            [formatter.format(v) for v in row[:edgeitems].tolist()]
            + [" ..."]
            + [formatter.format(v) for v in row[-edgeitems:].tolist()]
        )
    else:
        cells = [formatter.format(v) for v in row.tolist()]

    lines = [", ".join(cells[i : i + per_line]) for i in range(0, len(cells), per_line)]
    return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"


def _add_suffixes(text: str, suffixes: list[str], indent: int, linewidth: int) -> str:
    """Append ``, suffix`` items and the closing parenthesis, wrapping like torch."""
    # torch quirk: this over-counts the last line by 2 until the first wrap.
    last_line_len = len(text) - text.rfind("\n") + 1
    parts = [text]
    for suffix in suffixes:
        if last_line_len + len(suffix) + 2 > linewidth:
            parts.append(",\n" + " " * indent + suffix)
            last_line_len = indent + len(suffix)
        else:
            parts.append(", " + suffix)
            last_line_len += len(suffix) + 2
    parts.append(")")
    return "".join(parts)
