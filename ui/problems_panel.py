"""The Problems panel: what ``gradviz.diagnostics`` found in the run, one row per finding.

One click on a row takes a person from the message to the culprit: the node is selected in
the shared ``Selection`` (every view that shows the graph follows it; the step shown changes
to the finding's own when another step is shown, or the latest graph is another) and
``source_requested(file, line)`` asks the script view to show the line, which the main
window then marks as a problem's. The full message of the current row is shown under the
list.

It only reads ``controller.trace.diagnostics``. What badges on the graph need is here as well:
``badges(structure)`` maps node ids to their findings, ``diagnostics_changed(list)`` says
when to redraw them, and ``severity(kind)`` how bad each is (the graph view draws the same
marker as the row's icon). A click on a badge on the graph shows its finding's row
(``select_diagnostic(d)``) and then does what a click on the row does (``reveal(d)``).
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QLabel,
    QScrollArea,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gradviz.diagnostics import Diagnostic, by_node

from .graph_items import ERROR, WARNING, problem_icon

# What each kind is called in the panel (the report keeps DESIGN.md's identifiers).
TITLES = {
    "missing-zero-grad": "Gradient never zeroed",
    "nan-or-inf": "NaN or Inf",
    "gradcheck-failed": "Wrong custom backward",
    "inplace-modified": "Saved value changed in place",
    "backward-twice": "Backward through a freed graph",
    "dead-relu": "Dead ReLU",
    "exploding-gradient": "Exploding gradient",
    "vanishing-gradient": "Vanishing gradient",
    "no-gradient": "No gradient",
}
# Errors: the run fails or its numbers are wrong. Warnings: it runs, but does not learn as
# it should.
ERROR_KINDS = frozenset({"nan-or-inf", "gradcheck-failed", "inplace-modified",
                         "backward-twice"})
KIND, WHERE, MESSAGE = range(3)


def severity(kind: str) -> str:
    """"error" or "warning" (an unknown kind, from a newer gradviz, is a warning)."""
    return ERROR if kind in ERROR_KINDS else WARNING


def worst(diagnostics) -> str:
    """The severity of the worst of ``diagnostics``."""
    return ERROR if any(severity(d.kind) == ERROR for d in diagnostics) else WARNING


def title(kind: str) -> str:
    """What ``kind`` is called in the panel."""
    return TITLES.get(kind, kind)
_ROLE = Qt.ItemDataRole.UserRole


class ProblemsPanel(QWidget):
    """Signals: ``source_requested(str, int)`` (file, line) when a row with a line is
    clicked; ``diagnostic_revealed(object)`` with the ``Diagnostic`` after a click has
    selected its node and requested its line (the main window centres the graph on the node
    and marks the line); ``diagnostics_changed(list)`` with every ``Diagnostic`` of the run
    whenever the list changes (a new run clears it)."""

    source_requested = Signal(str, int)
    diagnostic_revealed = Signal(object)
    diagnostics_changed = Signal(list)

    def __init__(self, controller, selection, parent=None):
        super().__init__(parent)
        self.controller = controller
        self.selection = selection
        self._shown: list[Diagnostic] = []
        self._trace = None

        self._summary = QLabel()
        self._tree = QTreeWidget()
        self._tree.setColumnCount(3)
        self._tree.setHeaderLabels(["Problem", "Where", "Message"])
        self._tree.setRootIsDecorated(False)
        self._tree.setUniformRowHeights(True)
        self._tree.setAlternatingRowColors(True)
        self._tree.itemClicked.connect(self._on_item_clicked)
        self._tree.itemActivated.connect(self._on_item_clicked)  # Enter on the keyboard
        self._tree.currentItemChanged.connect(self._on_current_changed)
        self._detail = QLabel()
        self._detail.setWordWrap(True)
        self._detail.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self._detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._detail.setContentsMargins(4, 2, 4, 2)
        # the messages are several sentences: in a short dock they scroll rather than being
        # cut off
        detail = QScrollArea()
        detail.setWidget(self._detail)
        detail.setWidgetResizable(True)
        detail.setFrameShape(QFrame.Shape.NoFrame)
        detail.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._summary)
        layout.addWidget(self._tree, 1)
        layout.addWidget(detail, 1)

        controller.trace_replaced.connect(self._on_trace_replaced)
        controller.steps_recorded.connect(self.refresh)
        controller.finished.connect(self.refresh)
        self._on_trace_replaced()

    # --- reading --------------------------------------------------------------------------------
    @property
    def diagnostics(self) -> list[Diagnostic]:
        """The findings listed, in the order they were found."""
        return list(self._shown)

    def badges(self, structure: str | None = None) -> dict[int, list[Diagnostic]]:
        """{node id: findings} for the graph of ``structure`` (a ``Graph.structure_hash``),
        or for every graph when None: what a graph view draws as badges."""
        return by_node(self._shown, structure)

    def row_count(self) -> int:
        return self._tree.topLevelItemCount()

    def item(self, row: int) -> QTreeWidgetItem:
        return self._tree.topLevelItem(row)

    def current_diagnostic(self) -> Diagnostic | None:
        """The finding of the current row, or None."""
        item = self._tree.currentItem()
        return None if item is None else item.data(KIND, _ROLE)

    def select_diagnostic(self, d: Diagnostic) -> bool:
        """Make ``d``'s row the current one and scroll to it (without selecting its node or
        requesting its line again); False if it is not listed."""
        for row in range(self._tree.topLevelItemCount()):
            item = self._tree.topLevelItem(row)
            if item.data(KIND, _ROLE) == d:
                self._tree.setCurrentItem(item)
                self._tree.scrollToItem(item, QAbstractItemView.ScrollHint.EnsureVisible)
                return True
        return False

    # --- following the run ----------------------------------------------------------------------
    def _on_trace_replaced(self) -> None:
        if self._trace is not None:
            self._trace.unsubscribe(self._on_trace_event)
        self._trace = self.controller.trace
        # Diagnosed messages are applied on the GUI thread (SessionController.pump): show
        # each at once rather than at the next step
        self._trace.subscribe(self._on_trace_event)
        self._tree.clear()
        self._shown = []
        self._detail.clear()
        self._update_summary()
        self.diagnostics_changed.emit([])
        self.refresh()

    def _on_trace_event(self, what: str, payload) -> None:
        if what in ("diagnostic", "finished"):
            self.refresh()

    def refresh(self, *_args) -> None:
        """Add the findings the trace has that are not listed yet."""
        found = self.controller.trace.diagnostics
        if len(found) == len(self._shown):
            return
        for d in found[len(self._shown):]:
            self._tree.addTopLevelItem(self._item_for(d))
            self._shown.append(d)
        for column in (KIND, WHERE):
            self._tree.resizeColumnToContents(column)
        self._update_summary()
        self.diagnostics_changed.emit(list(self._shown))

    def _update_summary(self) -> None:
        n = len(self._shown)
        self._summary.setText("No problems found" if n == 0 else
                              f"{n} problem{'s' if n != 1 else ''} found")

    def _item_for(self, d: Diagnostic) -> QTreeWidgetItem:
        where = []
        if d.node_name:
            where.append(d.node_name)
        if d.line is not None:
            where.append(f"line {d.line}")
        item = QTreeWidgetItem([title(d.kind), ", ".join(where), d.message])
        item.setData(KIND, _ROLE, d)
        item.setIcon(KIND, problem_icon(severity(d.kind), self.palette()))
        item.setToolTip(MESSAGE, d.message)
        item.setToolTip(KIND, f"{d.kind} ({severity(d.kind)})")
        return item

    def changeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        if event.type() == QEvent.Type.PaletteChange:  # the theme changed: recolour icons
            for row in range(self._tree.topLevelItemCount()):
                item = self._tree.topLevelItem(row)
                d = item.data(KIND, _ROLE)
                if d is not None:
                    item.setIcon(KIND, problem_icon(severity(d.kind), self.palette()))
        super().changeEvent(event)

    # --- one click: node and line -------------------------------------------------------------
    def _on_current_changed(self, current, _previous) -> None:
        d = current.data(KIND, _ROLE) if current is not None else None
        self._detail.setText("" if d is None else f"{title(d.kind)}: {d.message}")

    def _on_item_clicked(self, item: QTreeWidgetItem, _column: int = 0) -> None:
        d = item.data(KIND, _ROLE)
        if d is not None:
            self.reveal(d)

    def reveal(self, d: Diagnostic) -> None:
        """Select the finding's node (in its own step's graph) and request its line."""
        if d.node is not None:
            trace = self.controller.trace
            latest = trace.latest_step
            on_latest = latest is not None and latest.structure == d.structure
            if self.selection.step is not None or not on_latest:
                if d.step is not None and 0 <= d.step < len(trace.steps):
                    self.selection.show_step(d.step)
            self.selection.select_node(d.node)
        if d.line is not None:
            self.source_requested.emit(d.file or self.controller.trace.script, d.line)
        self.diagnostic_revealed.emit(d)
