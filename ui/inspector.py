"""The inspector: everything about the selected graph node, the way a debugger's variables
pane shows a variable. Its tensor's data and grad (a table when small, a heatmap when a
matrix), their statistics, its ``grad_fn`` and inputs, saved tensors, version counter and
the source line that created it.

Values come from ``controller.trace.values_at(step)``: the values the debugger asked for
(the recorder sends every node's at the end of a run, and the inspector asks for the
selected node's when the script is paused) and, for the last ``STEPS_WITH_VALUES`` steps,
the gradients right after each step's backward (a leaf's ``.grad``, the gradient that
flowed into an autograd node). An older step shows its summaries and says its values were
not kept.
"""

from __future__ import annotations

import html
import linecache
import math
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHeaderView,
    QLabel,
    QScrollArea,
    QSizePolicy,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from gradviz.session import AFTER_BACKWARD, NOW, STEPS_WITH_VALUES, ShownValues
from gradviz.trace import LEAF, ROOT, Graph, GraphNode, TensorSummary

from .heatmap import Heatmap

TABLE_MAX = 256  # elements: up to this a table of numbers, beyond it a heatmap
NO_VALUES = "Values are kept for the latest step; run or pause to see them."
DATA_NOT_KEPT = ("Tensor values are kept for the latest step only; gradients for the last "
                 f"{STEPS_WITH_VALUES} steps.")


def not_kept_text(step: int, kept: list[int]) -> str:
    """The note for a step whose values are gone: which steps still have theirs."""
    text = (f"Values not kept for step {step}: full gradients are kept for the last "
            f"{STEPS_WITH_VALUES} steps")
    if kept:
        text += f" (now {kept[0]}–{kept[-1]})" if len(kept) > 1 else f" (now {kept[0]})"
    return text + "; every step keeps its loss and the leaves' gradient norms."
STAT_ROWS = ("min", "max", "mean", "std", "norm", "NaN / Inf")


def shape_text(shape) -> str:
    return "(" + ", ".join(str(int(d)) for d in shape) + ")"


def fmt(v) -> str:
    """A number for the stats table: 4 significant digits, '—' where there is none."""
    if v is None:
        return "—"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    return f"{v:.4g}"


def array_stats(a) -> dict:
    """min, max, mean, std, norm over the finite elements, and how many are NaN or Inf."""
    a = np.asarray(a, dtype=np.float64).ravel()
    finite = np.isfinite(a)
    bad = int(a.size - np.count_nonzero(finite))
    good = a[finite] if bad else a
    if good.size == 0:
        return {"min": None, "max": None, "mean": None, "std": None, "norm": None,
                "NaN / Inf": bad}
    return {"min": float(good.min()), "max": float(good.max()), "mean": float(good.mean()),
            "std": float(good.std()), "norm": float(math.sqrt(float(np.dot(good, good)))),
            "NaN / Inf": bad}


def summary_stats(s: TensorSummary) -> dict:
    """The same rows from a summary (large tensors are sent as summaries only): no std."""
    return {"min": s.min, "max": s.max, "mean": s.mean, "std": None, "norm": s.norm,
            "NaN / Inf": s.nonfinite}


class _ValuePane(QStackedWidget):
    """One tensor's values: a message, a table of numbers, or a heatmap."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.message.setContentsMargins(6, 6, 6, 6)
        self.table = QTableWidget()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setFont(QFont("monospace"))
        self.table.horizontalHeader().setSectionResizeMode(
            QHeaderView.ResizeMode.ResizeToContents)
        self.table.verticalHeader().setDefaultSectionSize(20)
        self.heatmap = Heatmap()
        for w in (self.message, self.table, self.heatmap):
            self.addWidget(w)
        self.setMinimumHeight(150)
        self._shown = None  # the array shown, by identity

    def show_message(self, text: str) -> None:
        self._shown = None
        self.message.setText(text)
        self.heatmap.set_array(None)
        self.setCurrentWidget(self.message)

    def show_array(self, a) -> None:
        if a is self._shown:
            return  # the same values again (a refresh while the run goes on): nothing to redo
        self._shown = a
        a = np.asarray(a)
        if a.size <= TABLE_MAX and a.ndim <= 2:
            self._fill_table(a)
            self.heatmap.set_array(None)
            self.setCurrentWidget(self.table)
        else:
            self.heatmap.set_array(a)
            self.setCurrentWidget(self.heatmap)

    def _fill_table(self, a: np.ndarray) -> None:
        m = a.reshape(1, 1) if a.ndim == 0 else a.reshape(-1, 1) if a.ndim == 1 else a
        rows, cols = m.shape
        t = self.table
        t.clear()
        t.setRowCount(rows)
        t.setColumnCount(cols)
        t.setVerticalHeaderLabels([str(i) for i in range(rows)])
        t.setHorizontalHeaderLabels([str(j) for j in range(cols)] if a.ndim == 2 else ["value"])
        right = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        for i in range(rows):
            for j in range(cols):
                v = m[i, j]
                item = QTableWidgetItem(f"{v:.6g}" if m.dtype.kind in "fc" else str(v))
                item.setTextAlignment(right)
                t.setItem(i, j, item)


class Inspector(QScrollArea):
    """Shows the node in ``selection.node`` for the step ``selection.step`` (or the latest).

    ``source_requested(file, line)``: the user clicked the source link; the main window
    shows that line in the script panel.
    """

    source_requested = Signal(str, int)

    def __init__(self, controller, selection, parent=None):
        super().__init__(parent)
        self.controller = controller
        self.selection = selection
        self._source = None
        self._shown: int | None = None
        self._stats_memo: dict[int, tuple] = {}
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        body = QWidget()
        lay = QVBoxLayout(body)
        lay.setContentsMargins(10, 8, 10, 10)
        lay.setSpacing(6)

        self._placeholder = QLabel("Select a node in the graph to inspect it.")
        self._placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._placeholder.setWordWrap(True)
        self._placeholder.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self._placeholder.setMinimumHeight(80)
        lay.addWidget(self._placeholder)

        self._details = QWidget()
        dl = QVBoxLayout(self._details)
        dl.setContentsMargins(0, 0, 0, 0)
        dl.setSpacing(6)
        self._title = QLabel()
        title_font = self._title.font()
        title_font.setPointSizeF(title_font.pointSizeF() * 1.3)
        title_font.setBold(True)
        self._title.setFont(title_font)
        self._title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._subtitle = self._rich_label()
        self._facts = self._rich_label()
        dl.addWidget(self._title)
        dl.addWidget(self._subtitle)
        dl.addWidget(self._facts)

        dl.addWidget(self._heading("Statistics"))
        self._stats = QTableWidget(len(STAT_ROWS), 2)
        self._stats.setHorizontalHeaderLabels(["data", "grad"])
        self._stats.setVerticalHeaderLabels(list(STAT_ROWS))
        self._stats.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self._stats.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self._stats.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self._stats.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self._stats.verticalHeader().setDefaultSectionSize(20)
        self._stats.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._stats.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._stats.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        dl.addWidget(self._stats)
        self._note = self._rich_label()
        dl.addWidget(self._note)

        dl.addWidget(self._heading("Values"))
        self._tabs = QTabWidget()
        self._data_pane = _ValuePane()
        self._grad_pane = _ValuePane()
        self._tabs.addTab(self._data_pane, "data")
        self._tabs.addTab(self._grad_pane, "grad")
        self._tabs.setMinimumHeight(230)
        dl.addWidget(self._tabs, 1)

        dl.addWidget(self._heading("Graph"))
        self._relations = self._rich_label()
        dl.addWidget(self._relations)
        lay.addWidget(self._details, 1)
        lay.addStretch(0)
        self.setWidget(body)
        self._fit_stats_height()

        controller.trace_replaced.connect(self.refresh)
        controller.steps_recorded.connect(self._on_steps_recorded)
        controller.values_changed.connect(self.refresh)
        controller.state_changed.connect(self._on_state_changed)
        selection.node_changed.connect(self._on_node_changed)
        selection.step_changed.connect(self.refresh)
        self.refresh()

    # --- building blocks ----------------------------------------------------------------------
    def _rich_label(self) -> QLabel:
        label = QLabel()
        label.setWordWrap(True)
        label.setTextFormat(Qt.TextFormat.RichText)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        label.setOpenExternalLinks(False)
        label.linkActivated.connect(self._on_link)
        return label

    def _heading(self, text: str) -> QLabel:
        label = QLabel(text.upper())
        font = label.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 0.85)
        font.setLetterSpacing(QFont.SpacingType.PercentageSpacing, 108)
        label.setFont(font)
        label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        label.setContentsMargins(0, 6, 0, 0)
        return label

    def _muted(self) -> str:
        # rich text has no palette() colours: resolve the theme's secondary text colour here
        return self.palette().color(QPalette.ColorRole.PlaceholderText).name()

    def _fit_stats_height(self) -> None:
        t = self._stats
        h = t.horizontalHeader().sizeHint().height() + sum(
            t.rowHeight(i) for i in range(t.rowCount())) + 2 * t.frameWidth()
        t.setFixedHeight(h)

    # --- reading the trace --------------------------------------------------------------------
    def _graph(self) -> Graph | None:
        trace = self.controller.trace
        index = self.selection.step
        if index is not None and 0 <= index < len(trace.steps):
            graph = trace.graph_of(trace.steps[index])
            if graph is not None:
                return graph
        graph = trace.latest_graph
        if graph is None and trace.graphs:
            graph = next(reversed(trace.graphs.values()))
        return graph

    def _step_index(self) -> int | None:
        trace = self.controller.trace
        if self.selection.step is not None:
            return self.selection.step
        return trace.latest_step.index if trace.latest_step is not None else None

    def _entry(self, graph: Graph, node_id: int) -> tuple[dict | None, ShownValues | None]:
        """The node's values for the step shown, and where they come from. Kept gradients
        and the values asked for complete each other when they are the same step's: the
        tensor from the one, the gradient that flowed in from the other."""
        trace = self.controller.trace
        shown = trace.values_at(self.selection.step)
        if shown is None:
            return None, None
        if shown.structure and shown.structure != graph.structure_hash:
            return None, None  # node ids of another structure
        entry = shown.values.get(node_id)
        if shown.kind == NOW:
            kept = trace.step_values.get(shown.step)
            if trace.live is not None and trace.live.step == shown.step:
                kept = trace.live  # paused inside this step's backward: what ran so far
            other = kept.values.get(node_id) if kept is not None else None
            if other is not None and "grad_in" in other:
                entry = {**(entry or {}), "grad_in": other["grad_in"]}
        elif trace.values is not None and trace.values.step == shown.step:
            other = trace.values.values.get(node_id)
            if other is not None:  # the tensor itself (and its version), not its later .grad
                extra = {k: other[k] for k in ("data", "data_summary", "version") if k in other}
                entry = {**(entry or {}), **extra}
        return entry, shown

    def _gradient_reaching(self, node_id: int) -> TensorSummary | None:
        """The gradient that flowed into an op node in the step shown (detailed steps only):
        what the inspector shows for nodes that keep no ``.grad``."""
        trace = self.controller.trace
        index = self._step_index()
        if index is None or not 0 <= index < len(trace.steps):
            return None
        detail = trace.steps[index].detail
        for run in detail or ():
            if run.node == node_id:
                return next((g for g in run.grads_in if g is not None), None)
        return None

    # --- events -------------------------------------------------------------------------------
    def _on_node_changed(self, node_id) -> None:
        self._request_if_paused()
        self.refresh()

    def _on_state_changed(self, state: str) -> None:
        if state == "paused":
            self._request_if_paused()

    def _on_steps_recorded(self, latest: int) -> None:
        if self.selection.step is None and self.selection.node is not None:
            self.refresh()

    def _request_if_paused(self) -> None:
        node = self.selection.node
        if node is None or self.controller.state != "paused":
            return
        trace = self.controller.trace
        values = trace.values
        latest = trace.latest_step.index if trace.latest_step is not None else None
        if values is None or node not in values.values or values.step != latest:
            self.controller.request_values([node])

    def _on_link(self, link: str) -> None:
        kind, _, rest = link.partition(":")
        if kind == "node":
            self.selection.select_node(int(rest))
        elif kind == "source" and self._source is not None:
            self.source_requested.emit(self._source.file, self._source.line)

    # --- showing ------------------------------------------------------------------------------
    @property
    def node_id(self) -> int | None:
        """The node shown (None when nothing is selected or it is not in the graph)."""
        return self._shown

    def refresh(self, *args) -> None:
        """Re-read the selected node from the trace."""
        graph, node_id = self._graph(), self.selection.node
        node = None
        if graph is not None and node_id is not None:
            try:
                node = graph.node(node_id)
            except KeyError:
                node = None
        self._shown = node.id if node is not None else None
        if node is None:
            self._placeholder.setText("Select a node in the graph to inspect it." if graph
                                      else "The graph appears when the script calls backward(); "
                                      "then select a node to inspect it.")
            self._placeholder.show()
            self._details.hide()
            return
        self._placeholder.hide()
        self._details.show()
        self._show_node(graph, node)

    def _show_node(self, graph: Graph, node: GraphNode) -> None:
        self._title.setText(node.name)
        self._source = node.source
        self._subtitle.setText(self._describe(node))
        entry, shown = self._entry(graph, node.id)
        facts = [("shape", shape_text(node.shape)), ("dtype", node.dtype or "?"),
                 ("device", node.device)]
        if entry is not None and "version" in entry:
            facts.append(("version", str(entry["version"])))
        if node.kind == LEAF:
            facts.append(("requires_grad", str(node.requires_grad)))
        if node.module:
            facts.append(("module", node.module))
        self._facts.setText(" &nbsp;·&nbsp; ".join(
            f"<span style='color:{self._muted()}'>{k}</span>&nbsp;"
            f"<b>{html.escape(v)}</b>" for k, v in facts))

        data_stats = grad_stats = None
        data, grad = (entry.get("data"), entry.get("grad")) if entry else (None, None)
        flowing = entry.get("grad_in") if entry and node.kind != LEAF else None
        if data is not None:
            data_stats = self._array_stats(data)
        elif entry and entry.get("data_summary") is not None:
            data_stats = summary_stats(entry["data_summary"])
        reaching = None
        if grad is not None:
            grad_stats = self._array_stats(grad)
        elif entry and entry.get("grad_summary") is not None:
            grad_stats = summary_stats(entry["grad_summary"])
        elif flowing is not None:
            grad_stats = self._array_stats(flowing)
        elif node.kind != LEAF:
            reaching = self._gradient_reaching(node.id)
            if reaching is not None:
                grad_stats = summary_stats(reaching)
        inflow = grad is None and (flowing is not None or reaching is not None)
        self._stats.setHorizontalHeaderLabels(["data", "grad flowing in" if inflow else "grad"])
        self._tabs.setTabText(1, "grad flowing in" if inflow else "grad")
        for col, stats in enumerate((data_stats, grad_stats)):
            for row, key in enumerate(STAT_ROWS):
                item = QTableWidgetItem(fmt(stats[key]) if stats else "—")
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if key == "NaN / Inf" and stats and stats[key]:
                    item.setForeground(Qt.GlobalColor.red)
                self._stats.setItem(row, col, item)

        trace = self.controller.trace
        asked = self.selection.step
        latest = trace.latest_step.index if trace.latest_step is not None else None
        not_kept = None
        if entry is None and asked is not None and asked != latest:
            not_kept = not_kept_text(asked, trace.steps_with_values())
        notes = []
        if not_kept is not None:
            notes.append(not_kept)
        elif entry is None:
            notes.append(NO_VALUES)
        elif shown.kind == AFTER_BACKWARD:
            notes.append(f"Gradients right after step {shown.step}'s backward().")
        elif self.controller.state == "paused":
            notes.append(f"Values now, paused in step {shown.step}.")
        elif shown.step != self._step_index():
            notes.append(f"Values are from step {shown.step}: values are kept for the "
                         "latest step only.")
        self._note.setText("<br>".join(f"<i>{html.escape(n, quote=False)}</i>" for n in notes))
        self._note.setVisible(bool(notes))

        if data is not None:
            self._data_pane.show_array(data)
        elif not_kept is not None:
            self._data_pane.show_message(f"Values not kept for step {asked}.")
        elif entry is None:
            self._data_pane.show_message(NO_VALUES)
        elif data_stats:
            self._data_pane.show_message("Too large to transfer: statistics only.")
        elif shown.kind == AFTER_BACKWARD:
            self._data_pane.show_message(DATA_NOT_KEPT)
        else:
            self._data_pane.show_message("No value recorded.")
        if grad is not None:
            self._grad_pane.show_array(grad)
        elif entry is not None and entry.get("grad_summary") is not None:
            self._grad_pane.show_message("Too large to transfer: statistics only.")
        elif flowing is not None:
            self._grad_pane.show_array(flowing)
        elif not_kept is not None:
            self._grad_pane.show_message(
                f"Values not kept for step {asked}."
                + ("\nThe statistics show the gradient that flowed into this node in that "
                   "step (its summary)." if reaching is not None else ""))
        elif node.kind == LEAF and not node.requires_grad:
            self._grad_pane.show_message("requires_grad=False: this tensor gets no gradient.")
        elif node.kind == LEAF:
            self._grad_pane.show_message(".grad is None: no backward() has reached this leaf "
                                         "yet, or the grad was set to None.")
        else:
            text = ("Only leaf tensors keep .grad (PyTorch frees the others after backward)."
                    "\nThe statistics show the gradient that flowed into this node in the "
                    "step shown." if reaching is not None else
                    "Only leaf tensors keep .grad (PyTorch frees the others after backward).")
            self._grad_pane.show_message(text)
        self._relations.setText(self._relations_html(graph, node))

    def _array_stats(self, a) -> dict:
        # refreshes come with every step while a run goes on, but values only change when a
        # Values message replaces them: keep the statistics of the arrays shown
        key = id(a)
        hit = self._stats_memo.get(key)
        if hit is None or hit[0] is not a:
            if len(self._stats_memo) > 8:
                self._stats_memo.clear()
            hit = self._stats_memo[key] = (a, array_stats(a))
        return hit[1]

    def _describe(self, node: GraphNode) -> str:
        if node.kind == LEAF:
            what = ("leaf tensor · <code>grad_fn</code> is None; gradients accumulate in "
                    "<code>.grad</code> through AccumulateGrad" if node.requires_grad else
                    "leaf tensor · requires_grad=False (a constant for autograd)")
        elif node.kind == ROOT:
            what = (f"root · <code>loss.grad_fn = &lt;{html.escape(node.name)}&gt;</code>, "
                    "where backward() starts")
        elif node.name == "AccumulateGrad":
            what = "autograd node · adds the incoming gradient into its leaf's <code>.grad</code>"
        else:
            what = f"autograd node · <code>grad_fn = &lt;{html.escape(node.name)}&gt;</code>"
        if node.source is not None:
            code = linecache.getline(node.source.file, node.source.line).strip()
            where = f"{html.escape(Path(node.source.file).name)}:{node.source.line}"
            what += f"<br>created at <a href='source:'>{where}</a>"
            if code:
                what += f" &nbsp;<code>{html.escape(code)}</code>"
        return what

    def _relations_html(self, graph: Graph, node: GraphNode) -> str:
        muted = self._muted()

        def link(i: int) -> str:
            n = graph.node(i)
            return (f"<a href='node:{i}'>{html.escape(n.name)}</a> "
                    f"<span style='color:{muted}'>{shape_text(n.shape)}</span>")

        rows = []
        inputs = graph.inputs_of(node.id)
        if node.name == "AccumulateGrad" and inputs:
            rows.append("<b>variable</b>: " + ", ".join(link(i) for i in inputs))
        elif node.kind != LEAF:
            rows.append("<b>next_functions</b>: "
                        + (", ".join(link(i) for i in inputs) if inputs else "()"))
        users = graph.consumers_of(node.id)
        if users:
            rows.append("<b>used by</b>: " + ", ".join(link(i) for i in users))
        if node.saved:
            rows.append("<b>saved for backward</b>: " + ", ".join(
                f"{html.escape(label)} {shape_text(shape)}" for label, shape in node.saved))
        elif node.kind != LEAF:
            rows.append("<b>saved for backward</b>: nothing")
        return "<br>".join(rows)
