"""The main window: the graph in the centre, dockable panels around it, menus, shortcuts.

It composes the widgets and owns nothing of a run: the ``SessionController`` runs scripts
and every panel reads it; the shared ``Selection`` says which node and step are shown. What
the window adds is the glue a person expects of a debugger: menus with the usual shortcuts
(F5 run, Shift+F5 stop, F10 step), actions enabled only when they can act, a layout that is
restored next time (``QSettings``; tests pass their own), a start page, drag and drop of a
``.py``, and messages that never block (a bar above the graph, not a modal box).

Layout: script panel and console on the left, inspector and gradients (tabbed) over the loss
plot on the right, the problems list tabbed with the console, the backward-animation
controls and the step timeline in toolbars along the bottom.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import (
    QByteArray,
    QEvent,
    QPointF,
    QRectF,
    QSettings,
    QSize,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import (
    QAction,
    QActionGroup,
    QColor,
    QIcon,
    QKeySequence,
    QPainter,
    QPalette,
    QPixmap,
    QPolygonF,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QDialog,
    QDialogButtonBox,
    QDockWidget,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMenu,
    QMessageBox,
    QStackedWidget,
    QTabBar,
    QTableWidget,
    QTableWidgetItem,
    QToolBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from gradviz import scripts, trace_io
from gradviz.examples import all_examples
from gradviz.export import export_graph
from gradviz.layout import GraphvizMissing

from . import theme
from .animation_controls import AnimationControls
from .backward_animation import BackwardAnimation
from .console import Console
from .gradients_panel import GradientsPanel
from .graph_view import GraphView
from .inspector import Inspector
from .loss_plot import LossPlot
from .problems_panel import ProblemsPanel
from .problems_panel import severity as problem_severity
from .problems_panel import title as problem_title
from .script_panel import SCRIPT_FILTER, ScriptPanel
from .selection import Selection
from .session_controller import SessionController
from .start_page import StartPage, example_groups
from .status_bar import RunStatusBar
from .timeline import Timeline

ORGANIZATION, APPLICATION = "gradviz", "gradviz"
STATE_VERSION = 1  # bump when docks are added or renamed: old saved layouts are ignored
MAX_RECENT = 10
DEFAULT_SIZE = QSize(1280, 800)
EXPORT_FORMATS = (("SVG", ".svg"), ("PNG", ".png"), ("PDF", ".pdf"), ("DOT", ".dot"))
DROPPABLE = (".py", ".ipynb", ".json")


def default_settings() -> QSettings:
    """The user's settings (``~/.config/gradviz/gradviz.conf`` on Linux)."""
    return QSettings(ORGANIZATION, APPLICATION)


def _icon(kind: str, color: QColor, disabled: QColor) -> QIcon:
    """The run actions' icons, drawn in palette colours so they read on either theme."""
    icon = QIcon()
    size = 32
    for mode, c in ((QIcon.Mode.Normal, color), (QIcon.Mode.Disabled, disabled)):
        pm = QPixmap(size, size)
        pm.fill(Qt.GlobalColor.transparent)
        p = QPainter(pm)
        try:
            p.setRenderHint(QPainter.RenderHint.Antialiasing)
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(c)
            top, bottom, mid = 7.0, 25.0, 16.0
            if kind == "run":
                p.drawPolygon(QPolygonF([QPointF(9, top), QPointF(25, mid),
                                         QPointF(9, bottom)]))
            elif kind == "pause":
                p.drawRect(QRectF(9, top, 5, bottom - top))
                p.drawRect(QRectF(18, top, 5, bottom - top))
            elif kind == "step":  # run to a barrier: the next backward()
                p.drawPolygon(QPolygonF([QPointF(6, top), QPointF(20, mid),
                                         QPointF(6, bottom)]))
                p.drawRect(QRectF(21, top, 4, bottom - top))
            elif kind == "node":  # one small step: one node
                p.drawPolygon(QPolygonF([QPointF(7, 10), QPointF(17, mid), QPointF(7, 22)]))
                p.drawEllipse(QPointF(23, mid), 3.5, 3.5)
            elif kind == "stop":
                p.drawRoundedRect(QRectF(8, 8, 16, 16), 2, 2)
        finally:
            p.end()
        icon.addPixmap(pm, mode)
    return icon


class _MessageBar(QFrame):
    """A dismissible line above the graph: errors and notices that must not block."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAutoFillBackground(True)
        self._kind = "info"
        self._text = QLabel()
        self._text.setWordWrap(True)
        self._text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QToolButton()
        close.setText("✕")
        close.setAutoRaise(True)
        close.setToolTip("Dismiss")
        close.clicked.connect(self.hide)
        row = QHBoxLayout(self)
        row.setContentsMargins(10, 4, 4, 4)
        row.addWidget(self._text, 1)
        row.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)
        self.hide()

    @property
    def text(self) -> str:
        return self._text.text() if self.isVisibleTo(self.parentWidget()) else ""

    @property
    def kind(self) -> str:
        return self._kind

    def show_message(self, text: str, kind: str = "info") -> None:
        self._kind = kind
        self._text.setText(text)
        self._recolor()
        self.show()

    def _recolor(self) -> None:
        pal = self.palette()
        base = QApplication.instance().palette()
        accent = (theme.colors(base).error if self._kind == "error"
                  else theme.colors(base).finished)
        window = base.color(QPalette.ColorRole.Window)
        tint = QColor(
            *(round(a * 0.82 + b * 0.18) for a, b in ((window.red(), accent.red()),
                                                     (window.green(), accent.green()),
                                                     (window.blue(), accent.blue()))))
        pal.setColor(QPalette.ColorRole.Window, tint)
        pal.setColor(QPalette.ColorRole.WindowText, base.color(QPalette.ColorRole.WindowText))
        self.setPalette(pal)

    def changeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        if event.type() == QEvent.Type.ApplicationPaletteChange:
            self._recolor()
        super().changeEvent(event)


class MainWindow(QMainWindow):
    """The gradviz window.

    ``settings``: where the layout, theme and recent files live (default: the user's
    ``QSettings``; tests pass one of their own). ``restore``: read the saved geometry and
    layout (the screenshot command does not). ``script_args``: the script's ``sys.argv[1:]``.

    Public parts tests and the app use: ``controller``, ``selection``, the widgets
    (``graph_view``, ``script_panel``, ``console``, ``inspector``, ``loss_plot``,
    ``gradients_panel``, ``problems_panel``, ``timeline``, ``animation``,
    ``animation_controls``, ``start_page``, ``status``), the docks (``docks`` by name), the
    actions (``*_action``), and the commands below.
    """

    layout_reset = Signal()

    def __init__(self, settings: QSettings | None = None, parent=None, *, restore: bool = True,
                 script_args=(), controller: SessionController | None = None):
        super().__init__(parent)
        self.settings = settings if settings is not None else default_settings()
        self.script_args = list(script_args)
        self.controller = controller or SessionController(self)
        self.selection = Selection(self)
        self.setObjectName("gradviz-main-window")
        self.setWindowTitle("gradviz")
        self.setAcceptDrops(True)
        self.setDockOptions(QMainWindow.DockOption.AnimatedDocks
                            | QMainWindow.DockOption.AllowTabbedDocks
                            | QMainWindow.DockOption.AllowNestedDocks)
        self._dialogs: list[QWidget] = []  # non-modal dialogs kept alive while shown
        self._stale_check_queued = False

        self._build_widgets()
        self._build_docks()
        self._build_actions()
        self._build_menus()
        self.status = RunStatusBar(self.controller)
        self.setStatusBar(self.status)
        self._connect()

        self.resize(DEFAULT_SIZE)
        self._default_state = self.saveState(STATE_VERSION)
        self._restored = False
        self._shown_once = False
        self._restore_theme()
        if restore:
            self._restored = self.restore_layout()
        self._refresh_recent()
        self._update_actions()
        self._update_title()

    # --- building -----------------------------------------------------------------------------
    def _build_widgets(self) -> None:
        c, s = self.controller, self.selection
        self.graph_view = GraphView(c, s)
        self.animation = BackwardAnimation(c, s, parent=self)
        self.animation.set_view(self.graph_view)
        self.script_panel = ScriptPanel(c, s)
        self.console = Console(c)
        self.inspector = Inspector(c, s)
        self.loss_plot = LossPlot(c, s)
        self.gradients_panel = GradientsPanel(c, s, self.animation)
        self.problems_panel = ProblemsPanel(c, s)
        self.timeline = Timeline(c, s)
        self.animation_controls = AnimationControls(self.animation, c)
        self.start_page = StartPage()

        self.message_bar = _MessageBar()
        self._find = QLineEdit()
        self._find.setPlaceholderText("Find a node by name…  (Enter: next, Esc: close)")
        self._find.setClearButtonEnabled(True)
        self._find.returnPressed.connect(lambda: self.find_node(self._find.text()))
        self._find.installEventFilter(self)
        self._find_bar = QWidget()
        find_row = QHBoxLayout(self._find_bar)
        find_row.setContentsMargins(6, 4, 6, 4)
        find_row.addWidget(QLabel("Find:"))
        find_row.addWidget(self._find, 1)
        self._find_bar.hide()

        graph_page = QWidget()
        graph_layout = QVBoxLayout(graph_page)
        graph_layout.setContentsMargins(0, 0, 0, 0)
        graph_layout.setSpacing(0)
        graph_layout.addWidget(self._find_bar)
        graph_layout.addWidget(self.graph_view, 1)
        self._pages = QStackedWidget()
        self._pages.addWidget(self.start_page)
        self._pages.addWidget(graph_page)
        central = QWidget()
        column = QVBoxLayout(central)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(self.message_bar)
        column.addWidget(self._pages, 1)
        self.setCentralWidget(central)

    def _dock(self, name: str, title: str, widget: QWidget, area) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock-{name}")  # saveState/restoreState find docks by name
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetClosable
                         | QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        self.addDockWidget(area, dock)
        self.docks[name] = dock
        return dock

    def _build_docks(self) -> None:
        L, R = Qt.DockWidgetArea.LeftDockWidgetArea, Qt.DockWidgetArea.RightDockWidgetArea
        self.docks: dict[str, QDockWidget] = {}
        script = self._dock("script", "Script", self.script_panel, L)
        console = self._dock("console", "Console", self.console, L)
        self.splitDockWidget(script, console, Qt.Orientation.Vertical)
        problems = self._dock("problems", "Problems", self.problems_panel, L)
        self.tabifyDockWidget(console, problems)
        console.raise_()
        inspector = self._dock("inspector", "Inspector", self.inspector, R)
        loss = self._dock("loss", "Loss", self.loss_plot, R)
        self.splitDockWidget(inspector, loss, Qt.Orientation.Vertical)
        gradients = self._dock("gradients", "Gradients", self.gradients_panel, R)
        self.tabifyDockWidget(inspector, gradients)
        inspector.raise_()

        self.animation_bar = QToolBar("Backward animation", self)
        self.animation_bar.setObjectName("toolbar-animation")
        self.animation_bar.addWidget(self.animation_controls)
        self.timeline_bar = QToolBar("Steps", self)
        self.timeline_bar.setObjectName("toolbar-timeline")
        self.timeline_bar.addWidget(self.timeline)
        bottom = Qt.ToolBarArea.BottomToolBarArea
        self.addToolBar(bottom, self.timeline_bar)
        self.addToolBarBreak(bottom)
        self.addToolBar(bottom, self.animation_bar)

    def _apply_default_sizes(self) -> None:
        d = self.docks
        self.resizeDocks([d["script"], d["inspector"]], [410, 360], Qt.Orientation.Horizontal)
        self.resizeDocks([d["script"], d["console"]], [470, 200], Qt.Orientation.Vertical)
        self.resizeDocks([d["inspector"], d["loss"]], [450, 220], Qt.Orientation.Vertical)

    def _action(self, text: str, slot=None, shortcut=None, tip: str = "",
                icon_text: str = "") -> QAction:
        a = QAction(text, self)
        if shortcut is not None:
            a.setShortcut(QKeySequence(shortcut))
            a.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        if icon_text:
            a.setIconText(icon_text)
        keys = a.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
        plain = text.replace("&", "").rstrip("…")
        a.setToolTip(f"{tip or plain} ({keys})" if keys else (tip or plain))
        a.setStatusTip(tip or plain)
        if slot is not None:
            a.triggered.connect(lambda _checked=False: slot())
        self.addAction(a)  # shortcuts work while menus are hidden, and in the screenshot
        return a

    def _build_actions(self) -> None:
        A = self._action
        K = QKeySequence.StandardKey
        self.new_action = A("&New script", self.new_script, K.New, "An empty script")
        self.open_action = A("&Open script…", self.ask_open_script, K.Open,
                             "Open a .py file or a Jupyter notebook")
        self.open_trace_action = A("Open &trace…", self.ask_open_trace, "Ctrl+Shift+O",
                                   "Look at a saved run (gradviz run --export run.json) "
                                   "without running anything")
        self.save_action = self.script_panel.save_action
        self.save_as_action = A("Save script &as…", lambda: self.script_panel.save_as(),
                                K.SaveAs)
        self.save_trace_action = A("Save t&race…", self.ask_save_trace, None,
                                   "Save this run as a .json trace to open later")
        self.export_actions = {
            suffix: A(f"{name}…", lambda s=suffix: self.ask_export_graph(s), None,
                      f"Export the graph shown as {name}")
            for name, suffix in EXPORT_FORMATS}
        self.screenshot_action = A("Save screens&hot…", self.ask_save_screenshot, None,
                                   "Save a picture of the whole window")
        self.quit_action = A("&Quit", self.close, K.Quit)
        self.quit_action.setMenuRole(QAction.MenuRole.QuitRole)

        self.run_action = A("&Run", self.run_script, "F5", "Run the script (saves it first)",
                            "Run")
        self.pause_action = A("&Pause", self.controller.pause, "F6",
                              "Pause at the next backward()", "Pause")
        self.step_action = A("Step to next &backward", self.step_backward, "F10",
                             "Run until just before the next backward() and pause there",
                             "Step")
        self.step_node_action = A("Step one &node", self.controller.step_node, "F11",
                                  "Run one node of the backward pass, then pause", "Node")
        self.stop_action = A("&Stop", self.controller.stop, "Shift+F5", "Stop the script",
                             "Stop")
        self.script_panel.set_run_actions([self.run_action, self.pause_action,
                                           self.step_action, self.step_node_action,
                                           self.stop_action])

        self.fit_action = A("&Fit graph", self.graph_view.fit, "Ctrl+0",
                            "Fit the whole graph into the window")
        self.zoom_in_action = A("Zoom &in", self.graph_view.zoom_in, K.ZoomIn)
        self.zoom_out_action = A("Zoom &out", self.graph_view.zoom_out, K.ZoomOut)
        self.find_action = A("F&ind node…", self.show_find_bar, K.Find,
                             "Find a node of the graph by name")
        self.theme_actions = QActionGroup(self)
        for name in theme.THEMES:
            a = A(f"{name.capitalize()} theme", lambda n=name: self.set_theme(n))
            a.setCheckable(True)
            a.setData(name)
            self.theme_actions.addAction(a)
        self.dark_theme_action = self.theme_actions.actions()[theme.THEMES.index(theme.DARK)]
        self.reset_layout_action = A("&Reset layout", self.reset_layout, None,
                                     "Put every panel back where it starts")
        self.shortcuts_action = A("&Keyboard shortcuts", self.show_shortcuts, "F1")
        self.about_action = A("&About gradviz", self.show_about)
        self.about_action.setMenuRole(QAction.MenuRole.AboutRole)
        self._paint_icons()

    def _paint_icons(self) -> None:
        pal = QApplication.instance().palette()
        colors = theme.colors(pal)
        text = pal.color(QPalette.ColorRole.ButtonText)
        off = pal.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.ButtonText)
        for action, kind, color in ((self.run_action, "run", colors.running),
                                    (self.pause_action, "pause", text),
                                    (self.step_action, "step", text),
                                    (self.step_node_action, "node", text),
                                    (self.stop_action, "stop", colors.error)):
            action.setIcon(_icon(kind, color, off))

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file = bar.addMenu("&File")
        file.addActions([self.new_action, self.open_action])
        self.recent_menu = file.addMenu("Open &recent")
        file.addAction(self.open_trace_action)
        file.addSeparator()
        file.addActions([self.save_action, self.save_as_action, self.save_trace_action])
        file.addSeparator()
        export = file.addMenu("&Export graph as")
        export.addActions(list(self.export_actions.values()))
        self.export_menu = export
        file.addAction(self.screenshot_action)
        file.addSeparator()
        file.addAction(self.quit_action)

        examples = bar.addMenu("E&xamples")
        examples.setToolTipsVisible(True)
        self.example_actions: dict[str, QAction] = {}
        for title, items in example_groups(all_examples()):
            examples.addSection(title)
            for ex in items:
                a = examples.addAction(ex.name)
                a.setToolTip(ex.description)
                a.setStatusTip(ex.description)
                a.triggered.connect(lambda _c=False, n=ex.name: self.open_script(n))
                self.example_actions[ex.name] = a
        self.examples_menu = examples

        run = bar.addMenu("&Run")
        run.addActions([self.run_action, self.pause_action, self.step_action,
                        self.step_node_action, self.stop_action])
        run.addSeparator()
        for a in self.animation_controls.actions():
            run.addAction(a)

        view = bar.addMenu("&View")
        view.addActions([self.fit_action, self.zoom_in_action, self.zoom_out_action,
                         self.find_action])
        view.addSeparator()
        view.addActions(self.theme_actions.actions())
        view.addSeparator()
        panels = view.addMenu("&Panels")
        for dock in self.docks.values():
            panels.addAction(dock.toggleViewAction())
        panels.addSeparator()
        panels.addActions([self.animation_bar.toggleViewAction(),
                           self.timeline_bar.toggleViewAction()])
        view.addAction(self.reset_layout_action)

        helpm = bar.addMenu("&Help")
        helpm.addActions([self.shortcuts_action, self.about_action])

    def _connect(self) -> None:
        c = self.controller
        c.state_changed.connect(self._on_state_changed)
        c.trace_replaced.connect(self._update_actions)
        c.steps_recorded.connect(self._on_steps_recorded)
        c.finished.connect(self._on_finished)
        self.graph_view.layout_ready.connect(self._update_actions)
        self.graph_view.node_activated.connect(self._on_node_activated)
        for source in (self.console, self.inspector, self.problems_panel):
            source.source_requested.connect(self.show_source)
        # problems: badges on the graph, one click from a row (or a badge) to node and line
        self.problems_panel.diagnostics_changed.connect(self.graph_view.set_diagnostics)
        self.problems_panel.diagnostics_changed.connect(self._on_problems_changed)
        self.problems_panel.diagnostic_revealed.connect(self._on_problem_revealed)
        self.graph_view.problem_badge_clicked.connect(self._on_problem_badge_clicked)
        c.finished.connect(self._on_finished_problems)
        self.script_panel.file_changed.connect(lambda _p: self._on_file_changed())
        self.script_panel.modification_changed.connect(lambda _m: self._update_title())
        self.script_panel.editor.textChanged.connect(self._update_actions_if_idle)
        self.start_page.example_chosen.connect(self.open_script)
        self.start_page.recent_chosen.connect(self.open_script)
        self.start_page.open_requested.connect(self.ask_open_script)
        self.start_page.open_trace_requested.connect(self.ask_open_trace)

    # --- reading ------------------------------------------------------------------------------
    @property
    def showing_start_page(self) -> bool:
        return self._pages.currentWidget() is self.start_page

    @property
    def message_text(self) -> str:
        """The message shown above the graph ("" when none is)."""
        return self.message_bar.text

    @property
    def theme(self) -> str:
        return theme.current()

    def recent_files(self) -> list[str]:
        value = self.settings.value("recent", [])
        if isinstance(value, str):  # QSettings gives a lone string for a one-item list
            value = [value]
        return [str(v) for v in value or []]

    # --- commands: files ----------------------------------------------------------------------
    def open_script(self, target) -> bool:
        """Show ``target`` (a path or a bundled example's name) in the script panel. A run
        in progress is stopped. Errors are shown in the message bar; returns success."""
        try:
            if not self.script_panel.load(target):
                return False
        except scripts.ScriptError as exc:
            self.show_message(exc.message, "error")
            return False
        if self.controller.is_active:
            self.controller.stop()
        self.message_bar.hide()
        if not self.script_panel.is_example:
            self._add_recent(str(self.script_panel.path))
        self._pages.setCurrentIndex(1)
        return True

    def new_script(self) -> bool:
        if not self.script_panel.new_script():
            return False
        self._pages.setCurrentIndex(1)
        self.script_panel.editor.setFocus()
        return True

    def open_trace(self, path) -> bool:
        """Post-mortem: show a saved ``.json`` trace. A damaged file leaves everything as it
        was and says why in the message bar; returns success."""
        try:
            self.controller.open_trace(path)
        except (trace_io.TraceFileError, OSError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            self.show_message(f"Cannot open the trace {Path(path).name}: {reason}", "error")
            return False
        self.message_bar.hide()
        script = self.controller.trace.script
        # the recorded script, so that source lines and links land in it (never at the
        # cost of unsaved edits: then the panel keeps its text)
        if script and Path(script).is_file() and not self.script_panel.is_modified \
                and not self.script_panel.shows_file(script):
            try:
                self.script_panel.load(script)
            except scripts.ScriptError:
                pass
        self._pages.setCurrentIndex(1)
        graph = self.controller.trace.latest_graph
        if graph is not None:
            self.selection.select_node(graph.root)
        self.status.showMessage(f"Opened trace {Path(path).name}", 5000)
        return True

    def save_trace(self, path) -> bool:
        try:
            self.controller.save_trace(path)
        except (OSError, ValueError) as exc:
            self.show_message(f"Cannot save the trace to {path}: {exc}", "error")
            return False
        self.status.showMessage(f"Saved trace {Path(path).name}", 5000)
        return True

    def export_graph(self, path) -> bool:
        """Write the graph shown to ``path`` (.svg .png .pdf .dot), as the view collapses it."""
        graph = self.graph_view.graph
        if graph is None:
            self.show_message("There is no graph to export yet: run a script first.", "error")
            return False
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            export_graph(graph, path, self.graph_view.options,
                         rankdir=getattr(self.graph_view, "rankdir", "TB"))
        except (GraphvizMissing, ValueError, OSError, RuntimeError) as exc:
            self.show_message(f"Cannot export the graph: {exc}", "error")
            return False
        finally:
            QApplication.restoreOverrideCursor()
        self.status.showMessage(f"Exported the graph to {Path(path).name}", 5000)
        return True

    def save_screenshot(self, path) -> bool:
        """A picture of the whole window, at its current size."""
        ok = self.grab().save(str(path))
        if not ok:
            self.show_message(f"Cannot save a picture to {path}", "error")
        return ok

    # --- commands: running --------------------------------------------------------------------
    def run_script(self) -> None:
        """F5: continue when paused, otherwise run the script shown (saving it first, or
        running its edited text from a temporary copy; see ``ScriptPanel.run_target``)."""
        if self.controller.state == "paused":
            self.controller.resume()
            return
        if self.controller.state == "running":
            return
        self._start(pause_at_start=False)

    def step_backward(self) -> None:
        """F10: idle, start the script paused before its first backward(); otherwise stop
        before the next one."""
        if self.controller.is_active:
            self.controller.step_backward()
        else:
            self._start(pause_at_start=True)

    def _start(self, *, pause_at_start: bool) -> None:
        target = self.script_panel.run_target()
        if target is None:
            self.show_message("Nothing to run: open a script or pick an example first.",
                              "error" if self.script_panel.is_loaded else "info")
            return
        self.message_bar.hide()
        self._pages.setCurrentIndex(1)
        self.selection.clear()
        self.controller.run(target, self.script_args, device=self.script_panel.device,
                            pause_at_start=pause_at_start)

    # --- commands: view -----------------------------------------------------------------------
    def set_theme(self, name: str) -> None:
        """"light" or "dark"; remembered in the settings."""
        theme.apply(name)
        self.settings.setValue("theme", name)
        for a in self.theme_actions.actions():
            a.setChecked(a.data() == name)

    def reset_layout(self) -> None:
        """Every panel and toolbar back to where it starts, visible."""
        self.restoreState(self._default_state, STATE_VERSION)
        for dock in self.docks.values():
            dock.setFloating(False)
            dock.show()
        self.docks["console"].raise_()
        self.docks["inspector"].raise_()
        self._apply_default_sizes()
        self.layout_reset.emit()

    def show_find_bar(self) -> None:
        self._pages.setCurrentIndex(1)
        self._find_bar.show()
        self._find.setFocus()
        self._find.selectAll()

    def find_node(self, text: str) -> int | None:
        """Select and centre the next node whose name contains ``text``."""
        return self.graph_view.find(text)

    def show_source(self, file: str, line: int) -> None:
        """Show ``line`` of ``file`` in the script panel (if it is the script shown)."""
        dock = self.docks["script"]
        if self.script_panel.show_source(file, line):
            dock.show()
            dock.raise_()
        else:
            self.status.showMessage(f"{Path(file).name}, line {line} (not the script shown)",
                                    8000)

    def show_message(self, text: str, kind: str = "info") -> None:
        """A non-blocking message above the graph ("info" or "error")."""
        self.message_bar.show_message(text, kind)

    def show_shortcuts(self) -> QDialog:
        """A table of every action with a shortcut, and the graph view's keys."""
        rows = []
        for menu in self.menuBar().findChildren(QMenu):
            for a in menu.actions():
                keys = a.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
                if keys and (a.text(), keys) not in rows:
                    rows.append((a.text().replace("&", ""), keys))
        rows += [("Graph: move the selection", "Arrow keys"),
                 ("Graph: expand a group / jump to the source", "Enter"),
                 ("Graph: collapse a group", "Backspace"),
                 ("Graph: zoom", "+ / − / mouse wheel"), ("Graph: fit", "0"),
                 ("Graph: clear the selection", "Esc")]
        dialog = QDialog(self)
        dialog.setWindowTitle("Keyboard shortcuts")
        table = QTableWidget(len(rows), 2)
        table.setHorizontalHeaderLabels(["Action", "Keys"])
        table.verticalHeader().hide()
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        for i, (text, keys) in enumerate(rows):
            table.setItem(i, 0, QTableWidgetItem(text))
            table.setItem(i, 1, QTableWidgetItem(keys))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(dialog.reject)
        layout = QVBoxLayout(dialog)
        layout.addWidget(table)
        layout.addWidget(buttons)
        dialog.resize(480, 560)
        self._keep_until_closed(dialog)
        dialog.show()
        return dialog

    def show_about(self) -> QMessageBox:
        box = QMessageBox(QMessageBox.Icon.Information, "About gradviz",
                          "<b>gradviz</b>: a debugger that makes automatic differentiation "
                          "visible.<br><br>Your PyTorch script runs unchanged on gradviz's own "
                          "autograd engine, in a process of its own; the window shows the "
                          "graph, the backward pass node by node, every .grad and the loss.",
                          QMessageBox.StandardButton.Close, self)
        self._keep_until_closed(box)
        box.open()
        return box

    def _keep_until_closed(self, widget: QWidget) -> None:
        widget.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self._dialogs.append(widget)
        widget.destroyed.connect(lambda *_: self._dialogs.remove(widget)
                                 if widget in self._dialogs else None)

    # --- dialogs (tests replace ask_path) -----------------------------------------------------
    def ask_path(self, kind: str, caption: str, filters: str, suggested: str = "") -> str:
        """A file dialog; ``kind`` "open" or "save". Returns "" when cancelled."""
        if kind == "open":
            path, _ = QFileDialog.getOpenFileName(self, caption, suggested, filters)
        else:
            path, _ = QFileDialog.getSaveFileName(self, caption, suggested, filters)
        return path

    def ask_open_script(self) -> None:
        path = self.ask_path("open", "Open script", SCRIPT_FILTER, self._last_folder())
        if path:
            self.open_script(path)

    def ask_open_trace(self) -> None:
        path = self.ask_path("open", "Open trace", "gradviz traces (*.json);;All files (*)",
                             self._last_folder())
        if path:
            self.open_trace(path)

    def ask_save_trace(self) -> None:
        path = self.ask_path("save", "Save trace", "gradviz traces (*.json)",
                             str(Path(self._last_folder()) / f"{self._stem()}.json"))
        if path:
            self.save_trace(path)

    def ask_export_graph(self, suffix: str) -> None:
        name = dict((s, n) for n, s in EXPORT_FORMATS)[suffix]
        path = self.ask_path("save", f"Export graph as {name}", f"{name} (*{suffix})",
                             str(Path(self._last_folder()) / f"{self._stem()}-graph{suffix}"))
        if path:
            if not Path(path).suffix:
                path += suffix
            self.export_graph(path)

    def ask_save_screenshot(self) -> None:
        path = self.ask_path("save", "Save screenshot", "PNG pictures (*.png)",
                             str(Path(self._last_folder()) / f"{self._stem()}-gradviz.png"))
        if path:
            self.save_screenshot(path)

    def _stem(self) -> str:
        path = self.script_panel.path
        return path.stem if path is not None else "gradviz"

    def _last_folder(self) -> str:
        path = self.script_panel.path
        if path is not None and not self.script_panel.is_example:
            return str(path.parent)
        return str(Path.home())

    # --- settings -----------------------------------------------------------------------------
    def restore_layout(self) -> bool:
        """Geometry and dock layout from the settings; False if none was saved (or it was
        saved by a version with other docks)."""
        geometry = self.settings.value("window/geometry")
        state = self.settings.value("window/state")
        restored = False
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            restored = self.restoreGeometry(geometry)
        if isinstance(state, QByteArray) and not state.isEmpty():
            restored = self.restoreState(state, STATE_VERSION) and restored
        return restored

    def save_settings(self) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState(STATE_VERSION))
        self.settings.setValue("theme", theme.current())
        self.settings.sync()

    def _restore_theme(self) -> None:
        name = self.settings.value("theme", theme.LIGHT)
        self.set_theme(name if name in theme.THEMES else theme.LIGHT)

    def _add_recent(self, path: str) -> None:
        recent = [p for p in self.recent_files() if p != path]
        self.settings.setValue("recent", [path, *recent][:MAX_RECENT])
        self._refresh_recent()

    def _refresh_recent(self) -> None:
        self.recent_menu.clear()
        recent = [p for p in self.recent_files() if Path(p).is_file()]
        for p in recent:
            a = self.recent_menu.addAction(Path(p).name)
            a.setToolTip(p)
            a.setStatusTip(p)
            a.triggered.connect(lambda _c=False, path=p: self.open_script(path))
        self.recent_menu.setEnabled(bool(recent))
        self.start_page.set_recent(recent)

    # --- reacting -----------------------------------------------------------------------------
    def _on_state_changed(self, _state: str) -> None:
        self._update_actions()
        self._update_title()

    def _on_steps_recorded(self, _index: int) -> None:
        if not self.save_trace_action.isEnabled():
            self._update_actions()

    def _on_finished(self, result) -> None:
        self._update_actions()
        # the loss is what a finished run is about: select it, so the inspector shows it
        graph = self.controller.trace.latest_graph
        if graph is not None and self.selection.node is None:
            self.selection.select_node(graph.root)

    def _on_file_changed(self) -> None:
        self._update_title()
        self._update_actions()

    # --- reacting: problems -------------------------------------------------------------------
    def _on_problems_changed(self, diagnostics: list) -> None:
        n = len(diagnostics)
        self.docks["problems"].setWindowTitle(f"Problems ({n})" if n else "Problems")

    def _on_finished_problems(self, _result) -> None:
        # a run that found problems ends on the list of them (its tab says how many), unless
        # the person closed the panel: the badges on the graph still show them
        dock = self.docks["problems"]
        if self.problems_panel.diagnostics and not dock.isHidden():
            dock.raise_()

    def _mark_problem_line(self, d) -> None:
        """Mark the finding's line in the script as a problem's (the node's own line, marked
        as the selected node's, may be another one: the in-place op, the update that forgot
        to zero)."""
        if d.line is None:
            return
        file = d.file or self.controller.trace.script
        self.script_panel.mark_problem(file, d.line, problem_severity(d.kind),
                                       f"{problem_title(d.kind)}: {d.message}")

    def _on_problem_revealed(self, d) -> None:
        """A row was clicked (or a badge, through ``_on_problem_badge_clicked``): the panel
        selected the node in the finding's own step and asked for the line; centre the graph
        on the node and mark the line."""
        if d.node is not None:
            self.graph_view.reveal_node(d.node)
        self._mark_problem_line(d)

    def _on_problem_badge_clicked(self, diagnostics: list) -> None:
        """A badge on the graph was clicked: do what a click on its first finding's row does
        (the step it was found at, its node and line), and show that row."""
        if not diagnostics:
            return
        d = diagnostics[0]
        dock = self.docks["problems"]
        dock.show()
        dock.raise_()
        self.problems_panel.select_diagnostic(d)
        self.problems_panel.reveal(d)

    def _on_node_activated(self, node_id: int) -> None:
        graph = self.graph_view.graph
        try:
            node = graph.node(node_id) if graph is not None else None
        except KeyError:
            node = None
        if node is not None and node.source is not None:
            self.show_source(node.source.file, node.source.line)

    def _update_actions_if_idle(self) -> None:
        # typing into an untitled buffer makes Run possible; no need to refresh per key else
        if self.script_panel.path is None and not self.controller.is_active:
            self._update_actions()

    def _update_actions(self, *_args) -> None:
        state = self.controller.state
        active = self.controller.is_active
        loaded = self.script_panel.is_loaded
        paused = state == "paused"
        self.run_action.setEnabled((loaded and not active) or paused)
        self.run_action.setText("&Continue" if paused else "&Run")
        self.run_action.setIconText("Continue" if paused else "Run")
        self.pause_action.setEnabled(state == "running")
        self.step_action.setEnabled(loaded or active)
        self.step_node_action.setEnabled(paused)
        self.stop_action.setEnabled(active)
        has_graph = self.graph_view.graph is not None
        for a in self.export_actions.values():
            a.setEnabled(has_graph)
        self.export_menu.setEnabled(has_graph)
        for a in (self.fit_action, self.zoom_in_action, self.zoom_out_action,
                  self.find_action):
            a.setEnabled(has_graph)
        self.save_trace_action.setEnabled(bool(self.controller.trace.steps
                                               or self.controller.trace.finished))

    def _update_title(self) -> None:
        panel = self.script_panel
        if panel.path is None and not panel.text:
            self.setWindowTitle("gradviz")
            return
        state = self.controller.state
        suffix = f" ({state})" if state in ("running", "paused") else ""
        self.setWindowTitle(f"{panel.display_name}[*]{suffix} — gradviz")
        self.setWindowModified(panel.is_modified)

    # --- events -------------------------------------------------------------------------------
    def eventFilter(self, obj, event) -> bool:  # noqa: N802 (Qt's name)
        if obj is self._find and event.type() == QEvent.Type.KeyPress \
                and event.key() == Qt.Key.Key_Escape:
            self._find_bar.hide()
            self.graph_view.setFocus()
            return True
        return super().eventFilter(obj, event)

    def showEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().showEvent(event)
        if not self._shown_once:
            self._shown_once = True
            # dock sizes only mean something once the window has its size: set them now,
            # and take this as the layout "Reset layout" returns to
            restored_state = self.saveState(STATE_VERSION) if self._restored else None
            self._apply_default_sizes()
            self._default_state = self.saveState(STATE_VERSION)
            if restored_state is not None:
                self.restoreState(restored_state, STATE_VERSION)

    def event(self, event) -> bool:
        if event.type() == QEvent.Type.LayoutRequest and not self._stale_check_queued:
            self._stale_check_queued = True
            QTimer.singleShot(0, self._hide_stale_tab_bars)
        return super().event(event)

    def _hide_stale_tab_bars(self) -> None:
        """Work around a Qt 6.11 dock-layout bug: tabifying a second group of docks (and
        every ``restoreState``) leaves an extra, visible tab bar at a stale position over the
        panels. The live tab bar of a group sits against the edge of its current dock; any
        other tab bar of the window is stale and is hidden."""
        self._stale_check_queued = False
        docks = [d for d in self.docks.values() if d.isVisible() and not d.isFloating()]
        for bar in self.findChildren(QTabBar, options=Qt.FindChildOption.FindDirectChildrenOnly):
            if not bar.isVisible() or bar.count() == 0:
                continue
            g = bar.geometry()
            live = any(
                abs(g.left() - d.geometry().left()) <= 6
                and (abs(g.top() - d.geometry().bottom()) <= 6
                     or abs(g.bottom() - d.geometry().top()) <= 6)
                for d in docks)
            if not live:
                bar.hide()

    def changeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        if event.type() == QEvent.Type.PaletteChange:
            self._paint_icons()
        super().changeEvent(event)

    @staticmethod
    def _dropped_file(event) -> str | None:
        mime = event.mimeData()
        if not mime.hasUrls():
            return None
        for url in mime.urls():
            if url.isLocalFile() and Path(url.toLocalFile()).suffix.lower() in DROPPABLE:
                return url.toLocalFile()
        return None

    def dragEnterEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        if self._dropped_file(event):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        self.dragEnterEvent(event)

    def dropEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        path = self._dropped_file(event)
        if path is None:
            event.ignore()
            return
        event.acceptProposedAction()
        if path.lower().endswith(".json"):
            self.open_trace(path)
        else:
            self.open_script(path)

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        if not self.script_panel.maybe_save():
            event.ignore()
            return
        self.save_settings()
        self.shutdown()
        event.accept()

    def shutdown(self) -> None:
        """Stop the script, the animation and every worker (closing; tests call it too)."""
        self.animation.pause()
        self.animation.clock.stop()
        self.controller.shutdown()
        self.controller.pump()  # the run's ending, so every panel shows the final state
        self.graph_view.shutdown()
        self.console.stop()
        self.status.stop()
        self.script_panel.close_files()
        for dialog in list(self._dialogs):
            dialog.close()
