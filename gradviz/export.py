"""Export a recorded graph as ``.svg``, ``.png``, ``.pdf`` or ``.dot``, styled as the view.

Pictures are rendered from the same ``Layout`` the view draws (``layout_graph``, cached), by
handing its positions back to Graphviz with ``-Kneato -n2`` (use the given node positions and
edge splines, lay out nothing). So an export looks exactly like the screen, costs a render and
no second layout, and a degraded layout (dot too slow) exports as well as a normal one.
``.dot`` export writes the plain DOT source instead (labels and styles, no positions), for
anyone who wants to lay it out again with their own Graphviz options.

The format comes from the file suffix. A ``.json`` trace is another module's job
(``gradviz.trace_io``): pass its writer as ``json_writer`` to route it through here.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from gradviz.collapse import CollapseOptions, collapse
from gradviz.layout import (
    EDGE_FONT_SIZE,
    FONT,
    FONT_SIZE,
    Layout,
    layout_graph,
    quote,
    run_graphviz,
    to_dot,
)
from gradviz.trace import Graph

EXPORT_TIMEOUT = 30.0  # the user asked for a file and waits for it: longer than the view's
FORMATS = {".svg": "svg", ".png": "png", ".pdf": "pdf", ".dot": "dot", ".gv": "dot"}


def export_graph(graph: Graph, path: str | Path, options: CollapseOptions | None = None, *,
                 rankdir: str = "TB", timeout: float = EXPORT_TIMEOUT,
                 json_writer: Callable[[Graph, Path], None] | None = None) -> Path:
    """Write ``graph`` (collapsed per ``options``) to ``path``; the suffix picks the format.

    Raises ValueError for an unknown suffix (or ``.json`` without ``json_writer``) and
    ``GraphvizMissing`` when a picture is asked for and ``dot`` is not installed.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".json":
        if json_writer is None:
            raise ValueError("a .json export is a trace, not a picture: write it with "
                             "gradviz.trace_io (or pass json_writer=)")
        json_writer(graph, path)
        return path
    fmt = FORMATS.get(suffix)
    if fmt is None:
        known = ", ".join(sorted(FORMATS) + [".json"])
        raise ValueError(f"cannot export to {path.name!r}: unknown suffix {suffix or '(none)'}"
                         f"; use one of {known}")
    if fmt == "dot":
        path.write_text(to_dot(collapse(graph, options), rankdir), encoding="utf-8")
    else:
        layout = layout_graph(graph, options, rankdir=rankdir, timeout=timeout)
        path.write_bytes(render_layout(layout, fmt, timeout=timeout))
    return path


def render_layout(layout: Layout, fmt: str, *, timeout: float = EXPORT_TIMEOUT) -> bytes:
    """``layout`` drawn by Graphviz as ``fmt`` ("svg", "png", "pdf"), positions unchanged."""
    return run_graphviz(positioned_dot(layout), ["-Kneato", "-n2", f"-T{fmt}"], timeout)


def positioned_dot(layout: Layout) -> str:
    """DOT of ``layout`` with every position fixed, in Graphviz's points with y up."""
    h = layout.height

    def pt(p: tuple[float, float]) -> str:
        return f"{p[0]:.3f},{h - p[1]:.3f}"

    out = [
        "digraph gradviz {",
        f'  graph [bb="0,0,{layout.width:.3f},{h:.3f}", fontname={quote(FONT)}];',
        f"  node [shape=box, fixedsize=true, fontname={quote(FONT)}, fontsize={FONT_SIZE:g}];",
        f"  edge [fontname={quote(FONT)}, fontsize={EDGE_FONT_SIZE:g}, arrowsize=0.7];",
    ]
    for b in layout.boxes:
        s = b.style
        styles = ["filled"] + (["rounded"] if s.rounded else []) + (["dashed"] if s.dashed
                                                                     else [])
        out.append(
            f"  {quote(b.id)} [label={quote(chr(10).join(b.lines))}, pos=\"{pt((b.x, b.y))}\", "
            f"width={b.width / 72:.4f}, height={b.height / 72:.4f}, "
            f"fillcolor={quote(s.fill)}, color={quote(s.border)}, fontcolor={quote(s.text)}, "
            f"style={quote(','.join(styles))}, penwidth={s.pen:g}];")
    for e in layout.edges:
        spline = " ".join(pt(p) for p in e.points)
        if e.arrow_tip is not None:
            spline = f"e,{pt(e.arrow_tip)} {spline}"
        attrs = [f"pos={quote(spline)}"]
        if e.label:
            attrs += [f"label={quote(e.label)}", "penwidth=1.5"]
            if e.label_pos is not None:
                attrs.append(f"lp={quote(pt(e.label_pos))}")
        if not e.arrow:
            attrs += ["dir=none", "style=dashed"]
        out.append(f"  {quote(e.src)} -> {quote(e.dst)} [{', '.join(attrs)}];")
    out.append("}")
    return "\n".join(out) + "\n"


__all__ = ["EXPORT_TIMEOUT", "FORMATS", "export_graph", "positioned_dot", "render_layout"]
