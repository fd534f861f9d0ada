"""The script panel: the script being debugged, its file, the device, the run buttons.

The text is editable while no run is active and read-only while one is (what runs is the
file as it was when Run was pressed). Unsaved changes are never lost silently: opening
another script or closing the window asks first (``maybe_save``), and Run saves a script of
the person's own before starting it. A bundled example or a notebook is never written over:
Run runs the edited text from a private temporary copy with the same name, and Save asks
where to save it.

Three lines can be marked: where the script is paused (``controller.paused``: the line of the
``backward()`` call), the line that created the selected graph node (its ``source``), and the
line of the diagnostic last shown (``mark_problem``: a Problems row or a graph badge was
clicked). A new run, or another script, clears them.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QFont, QKeySequence, QPalette, QStandardItemModel
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from gradviz import scripts
from gradviz.examples import EXAMPLES_DIR

from .code_editor import MARKS, NODE, PAUSED, PROBLEM, CodeEditor

ACTIVE = ("running", "paused")
SAVE, DISCARD, CANCEL = "save", "discard", "cancel"
DEVICES = (("CPU", "cpu"), ("GPU (CUDA)", "cuda"))
SCRIPT_FILTER = "Python scripts (*.py);;Jupyter notebooks (*.ipynb);;All files (*)"


def gpu_problem() -> str | None:
    """Why the GPU cannot be used here (the engine's own sentence), or None if it can."""
    import engine.cuda
    from engine._device import CUDA_HELP

    return None if engine.cuda.is_available() else CUDA_HELP


def _same_file(a, b) -> bool:
    try:
        return Path(a).resolve() == Path(b).resolve()
    except (OSError, RuntimeError):
        return str(a) == str(b)


class ScriptPanel(QWidget):
    """Shows and edits one script for ``controller``; marks lines for ``selection``.

    Signals: ``file_changed(object)`` (the new ``path``, or None), ``modification_changed
    (bool)``, ``device_changed(str)``.

    ``ask_unsaved(name) -> "save" | "discard" | "cancel"`` and ``ask_save_path(suggested) ->
    str`` are the dialogs; tests replace them.
    """

    file_changed = Signal(object)
    modification_changed = Signal(bool)
    device_changed = Signal(str)

    def __init__(self, controller, selection, parent=None, *, gpu_problem_text=...):
        super().__init__(parent)
        self.controller = controller
        self.selection = selection
        self.ask_unsaved = self._ask_unsaved
        self.ask_save_path = self._ask_save_path
        self._path: Path | None = None
        self._script: scripts.Script | None = None
        self._run_copy: Path | None = None  # the temporary copy the last run used
        self._tempdir: tempfile.TemporaryDirectory | None = None
        self._gpu_problem = gpu_problem() if gpu_problem_text is ... else gpu_problem_text

        self.editor = CodeEditor()
        self.editor.setPlaceholderText("Open a script (Ctrl+O), pick an example, or drop a "
                                       ".py file here.")
        self.editor.document().modificationChanged.connect(self._on_modification_changed)

        self._name = QLabel("No script")
        font = self._name.font()
        font.setWeight(QFont.Weight.DemiBold)
        self._name.setFont(font)
        self._name.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._name.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self._mode = QLabel()
        self._mode.setForegroundRole(QPalette.ColorRole.PlaceholderText)

        self._device = QComboBox()
        for text, device in DEVICES:
            self._device.addItem(text, device)
        model: QStandardItemModel = self._device.model()
        gpu = model.item(1)
        if self._gpu_problem:
            gpu.setEnabled(False)
            gpu.setToolTip(self._gpu_problem)
            self._device.setToolTip("Device for the next run. The GPU is unavailable: "
                                    + self._gpu_problem)
        else:
            self._device.setToolTip("Device for the next run: torch.get_default_device() "
                                    "in the script")
        self._device.currentIndexChanged.connect(
            lambda _i: self.device_changed.emit(self.device))

        self._buttons = QHBoxLayout()
        self._buttons.setContentsMargins(0, 0, 0, 0)
        self._buttons.setSpacing(1)

        top = QHBoxLayout()
        top.setContentsMargins(6, 4, 6, 2)
        top.setSpacing(6)
        top.addWidget(self._name, 1)
        top.addWidget(self._mode)
        top.addWidget(self._device)
        bar = QHBoxLayout()
        bar.setContentsMargins(4, 0, 6, 2)
        bar.addLayout(self._buttons)
        bar.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(top)
        layout.addLayout(bar)
        layout.addWidget(self.editor, 1)

        # one Save action, window-wide: the main window puts this same action in its File
        # menu (two actions with one shortcut would be ambiguous and neither would fire)
        self.save_action = QAction("&Save", self)
        self.save_action.setShortcut(QKeySequence.StandardKey.Save)
        self.save_action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        self.save_action.setToolTip("Save the script (Ctrl+S)")
        self.save_action.triggered.connect(self.save)
        self.addAction(self.save_action)

        controller.state_changed.connect(self._on_state_changed)
        controller.paused.connect(self._on_paused)
        controller.steps_recorded.connect(self._on_step_recorded)
        controller.trace_replaced.connect(self._on_trace_replaced)
        selection.node_changed.connect(self._on_node_selected)
        selection.step_changed.connect(lambda _s: self._on_node_selected(selection.node))
        self._on_state_changed(controller.state)

    # --- reading ------------------------------------------------------------------------------
    @property
    def path(self) -> Path | None:
        """The file shown (None for an untitled buffer)."""
        return self._path

    @property
    def is_example(self) -> bool:
        """Whether the file shown is a bundled example (never written over)."""
        return self._path is not None and self._path.parent == EXAMPLES_DIR

    @property
    def is_notebook(self) -> bool:
        return self._script is not None and self._script.kind == scripts.NOTEBOOK

    @property
    def is_loaded(self) -> bool:
        """Whether there is something to run (a file, or an untitled buffer with text)."""
        return self._path is not None or bool(self.text.strip())

    @property
    def is_modified(self) -> bool:
        return self.editor.document().isModified()

    @property
    def text(self) -> str:
        return self.editor.toPlainText()

    @property
    def display_name(self) -> str:
        return self._path.name if self._path is not None else "untitled.py"

    @property
    def device(self) -> str:
        """"cpu" or "cuda": the device the next run uses."""
        return self._device.currentData()

    @property
    def gpu_problem(self) -> str | None:
        """Why the GPU is unavailable, or None."""
        return self._gpu_problem

    @property
    def device_selector(self) -> QComboBox:
        return self._device

    def set_device(self, device: str) -> bool:
        """Select "cpu" or "cuda"; False (and unchanged) when that device is unavailable."""
        index = self._device.findData("cuda" if device.startswith("cuda") else device)
        if index < 0 or (index == 1 and self._gpu_problem):
            return False
        self._device.setCurrentIndex(index)
        return True

    def set_run_actions(self, actions) -> None:
        """Show these actions (Run, Pause, Step ..., Stop) as buttons above the text."""
        for action in actions:
            if action is None:
                self._buttons.addSpacing(8)
                continue
            b = QToolButton()
            b.setDefaultAction(action)
            b.setAutoRaise(True)
            b.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
            self._buttons.addWidget(b)

    # --- files --------------------------------------------------------------------------------
    def load(self, target) -> bool:
        """Show ``target`` (a path or a bundled example's name), asking first about unsaved
        changes. Returns False when the person cancelled; raises ``scripts.ScriptError`` for
        a target that does not exist or is not Python."""
        script = scripts.load(target)
        if not self.maybe_save():
            return False
        self._script = script
        self._path = Path(script.path)
        self._run_copy = None
        self.editor.setPlainText(script.source)
        self.editor.document().setModified(False)
        self._clear_marks()
        self._update_header()
        self._on_state_changed(self.controller.state)
        self.file_changed.emit(self._path)
        return True

    def new_script(self) -> bool:
        """An empty untitled buffer (after asking about unsaved changes)."""
        if not self.maybe_save():
            return False
        self._script = None
        self._path = None
        self._run_copy = None
        self.editor.setPlainText("import torch\n\n")
        self.editor.document().setModified(False)
        self.editor.moveCursor(self.editor.textCursor().MoveOperation.End)
        self._update_header()
        self._on_state_changed(self.controller.state)
        self.file_changed.emit(None)
        return True

    def maybe_save(self) -> bool:
        """If the text has unsaved changes, ask: save them (True if saved), discard them
        (True), or cancel (False)."""
        if not self.is_modified:
            return True
        answer = self.ask_unsaved(self.display_name)
        if answer == SAVE:
            return self.save()
        return answer == DISCARD

    def save(self) -> bool:
        """Write the text to its file; a bundled example, a notebook or an untitled buffer
        asks where (``save_as``). Returns whether it was saved."""
        if self._path is None or self.is_example or self.is_notebook:
            return self.save_as()
        return self._write(self._path)

    def save_as(self, path=None) -> bool:
        """Write the text to ``path`` (asked for when None) and show that file from now on."""
        if path is None:
            suggested = (self._path.with_suffix(".py").name if self._path is not None
                         else "untitled.py")
            if self.is_example or self.is_notebook or self._path is None:
                suggested = str(Path.home() / suggested)
            else:
                suggested = str(self._path.with_name(suggested))
            path = self.ask_save_path(suggested)
            if not path:
                return False
        path = Path(path)
        if not self._write(path):
            return False
        self._path = path.resolve()
        self._script = scripts.Script(str(self._path), self.text)
        self._update_header()
        self._on_state_changed(self.controller.state)
        self.file_changed.emit(self._path)
        return True

    def _write(self, path: Path) -> bool:
        try:
            path.write_text(self.text, encoding="utf-8")
        except OSError as exc:
            QMessageBox.warning(self, "Cannot save", f"Cannot save {path}: {exc.strerror}")
            return False
        self.editor.document().setModified(False)
        return True

    def run_target(self) -> Path | None:
        """What Run should run now: the file (saved first if it is the person's own and
        changed), or, for a changed example or notebook or an untitled buffer, a temporary
        copy of the text. None when there is nothing to run or saving failed."""
        self._run_copy = None
        if self._path is not None and not self.is_modified:
            return self._path
        if self._path is None and not self.text.strip():
            return None
        if self._path is not None and not self.is_example and not self.is_notebook:
            return self._path if self._write(self._path) else None
        if self._tempdir is None:
            self._tempdir = tempfile.TemporaryDirectory(prefix="gradviz-")
        name = self._path.with_suffix(".py").name if self._path is not None else "untitled.py"
        copy = Path(self._tempdir.name) / name
        copy.write_text(self.text, encoding="utf-8")
        self._run_copy = copy
        return copy

    def close_files(self) -> None:
        """Remove the temporary copies (window closing)."""
        if self._tempdir is not None:
            self._tempdir.cleanup()
            self._tempdir = None

    # --- lines --------------------------------------------------------------------------------
    def shows_file(self, file) -> bool:
        """Whether ``file`` (a path from a traceback or a trace) is the text shown here: the
        file itself or the temporary copy its last run used."""
        if file is None:
            return False
        return any(p is not None and _same_file(file, p) for p in (self._path, self._run_copy))

    def show_source(self, file, line: int) -> bool:
        """Scroll to ``line`` of ``file`` and put the cursor there, if that file is shown."""
        if not self.shows_file(file):
            return False
        self.editor.go_to_line(line)
        self.editor.setFocus()
        return True

    def mark_problem(self, file, line: int, severity: str, text: str = "") -> bool:
        """Mark ``line`` of ``file`` as a diagnostic's line (``severity``: "error" or
        "warning"; ``text``: the marker's tooltip) and scroll to it, if that file is shown.
        The mark stays until another problem is marked or a new run starts."""
        if not self.shows_file(file):
            return False
        self.editor.set_marked_line(PROBLEM, line, severity=severity, text=text)
        self.editor.go_to_line(line)
        return True

    def _clear_marks(self) -> None:
        for kind in MARKS:
            self.editor.set_marked_line(kind, None)

    def _on_paused(self, paused) -> None:
        # a pause after one backward node carries no source: it is still inside the
        # backward() whose line is marked, so the mark stays
        source = getattr(paused, "source", None)
        if source is not None and self.shows_file(source.file):
            self.editor.set_marked_line(PAUSED, source.line)
            self.editor.go_to_line(source.line)

    def _on_step_recorded(self, *_args) -> None:
        # the backward() the script was paused at has completed: the script has moved on
        if self.controller.state != "paused":
            self.editor.set_marked_line(PAUSED, None)

    def _on_node_selected(self, node_id) -> None:
        line = None
        if node_id is not None:
            trace = self.controller.trace
            step = self.selection.step
            graph = (trace.graph_of(trace.steps[step]) if step is not None
                     and 0 <= step < len(trace.steps) else trace.latest_graph)
            try:
                node = graph.node(node_id) if graph is not None else None
            except KeyError:
                node = None
            if node is not None and node.source is not None and self.shows_file(
                    node.source.file):
                line = node.source.line
        self.editor.set_marked_line(NODE, line)
        if line is not None:
            self.editor.go_to_line(line)

    def _on_trace_replaced(self) -> None:
        self._clear_marks()  # a new run (or a trace opened): its findings are not these

    # --- state --------------------------------------------------------------------------------
    def _on_state_changed(self, state: str) -> None:
        active = state in ACTIVE
        self.editor.setReadOnly(active or self.is_notebook)
        self._device.setEnabled(not active)
        if state not in ACTIVE:  # "running" may be one node's step: see _on_step_recorded
            self.editor.set_marked_line(PAUSED, None)
        self._update_header()

    def _on_modification_changed(self, modified: bool) -> None:
        self._update_header()
        self.modification_changed.emit(modified)

    def _update_header(self) -> None:
        name = self.display_name + (" •" if self.is_modified else "")
        if self._path is None and not self.text:
            name = "No script"
        self._name.setText(name)
        self._name.setToolTip(str(self._path) if self._path is not None else "not saved yet")
        if self.controller.state in ACTIVE:
            mode = "read-only while it runs"
        elif self.is_notebook:
            mode = "notebook (read-only)"
        elif self.is_example:
            mode = "example"
        else:
            mode = ""
        self._mode.setText(mode)

    # --- dialogs ------------------------------------------------------------------------------
    def _ask_unsaved(self, name: str) -> str:
        box = QMessageBox(QMessageBox.Icon.Warning, "Unsaved changes",
                          f"{name} has unsaved changes. Save them first?",
                          QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
                          | QMessageBox.StandardButton.Cancel, self)
        box.setDefaultButton(QMessageBox.StandardButton.Save)
        answer = box.exec()
        return {QMessageBox.StandardButton.Save: SAVE,
                QMessageBox.StandardButton.Discard: DISCARD}.get(
            QMessageBox.StandardButton(answer), CANCEL)

    def _ask_save_path(self, suggested: str) -> str:
        path, _ = QFileDialog.getSaveFileName(self, "Save script as", suggested,
                                              "Python scripts (*.py)")
        return path
