"""The desktop app's entry point, in Anki's testable shape.

``create_app(argv)`` builds the ``QApplication`` (or reuses the one that exists) and the
``MainWindow`` without showing it or entering the event loop, for tests. ``main(...)`` is what
``gradviz`` and ``gradviz open TARGET [--run] [--device] [--screenshot FILE.png]`` call
(``gradviz/cli.py``, lazily): it shows the window, loads and runs the target, and enters the
event loop; with ``screenshot`` it runs the script to the end, selects the loss, saves a
picture of the whole window at exactly 1280x800 and exits, touching no saved settings.
"""

from __future__ import annotations

import os
import signal
import sys
import tempfile
from pathlib import Path

SCREENSHOT_SIZE = (1280, 800)
SCREENSHOT_TIMEOUT_S = 600  # a script that never ends still gives a picture, and status 124
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_TIMEOUT = 0, 1, 2, 124


def _say(message: str) -> None:
    print(f"gradviz: {message}", file=sys.stderr, flush=True)


def create_app(argv=None, *, settings=None, restore: bool = True, script_args=()):
    """Return ``(QApplication, MainWindow)``: the window is built but not shown, and the
    event loop is not entered. ``settings``: a ``QSettings`` to use instead of the user's
    (tests pass one on a temporary path); ``restore``: read the saved geometry and layout."""
    from PySide6.QtWidgets import QApplication

    from .main_window import APPLICATION, ORGANIZATION, MainWindow

    app = QApplication.instance()
    if app is None:
        app = QApplication(list(argv) if argv is not None else sys.argv[:1])
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    app.setApplicationDisplayName("gradviz")
    window = MainWindow(settings=settings, restore=restore, script_args=script_args)
    return app, window


def _quiet_qt_notices() -> None:
    """Qt's offscreen platform says "This plugin does not support propagateSizeHints()" for
    every window; that is noise on gradviz's stderr. Every other Qt message passes."""
    from PySide6.QtCore import qInstallMessageHandler

    def handler(_mode, _context, message: str) -> None:
        if "propagateSizeHints" not in message:
            sys.stderr.write(message + "\n")

    qInstallMessageHandler(handler)


def main(target=None, run: bool = False, device: str = "cpu", screenshot=None,
         script_args=()) -> int:
    """Open the app (``gradviz``, ``gradviz open``); returns the process's exit status."""
    from gradviz import scripts

    _quiet_qt_notices()

    if target is not None:
        try:
            scripts.resolve(target)
        except scripts.ScriptError as exc:
            _say(exc.message)
            return exc.exit_code
    if device.startswith("cuda"):
        import engine.cuda
        from engine._device import CUDA_HELP

        if not engine.cuda.is_available():
            _say(CUDA_HELP)
            return EXIT_USAGE
    if screenshot is not None:
        return _screenshot(target, Path(screenshot), device, script_args)

    app, window = create_app(script_args=script_args)
    window.show()
    if target is not None and window.open_script(target):
        window.script_panel.set_device(device)
        if run:
            window.run_script()
    _close_on_sigint(app, window)
    return app.exec()


def _close_on_sigint(app, window) -> None:
    """Ctrl+C in the terminal closes the window as its close button would. Python runs
    signal handlers only between bytecodes, so a timer wakes the interpreter now and then."""
    from PySide6.QtCore import QTimer

    signal.signal(signal.SIGINT, lambda *_: window.close())
    timer = QTimer(app)
    timer.setInterval(250)
    timer.timeout.connect(lambda: None)
    timer.start()
    app.aboutToQuit.connect(timer.stop)


def _screenshot(target, path: Path, device: str, script_args) -> int:
    if target is None:
        _say("--screenshot needs a TARGET to run")
        return EXIT_USAGE
    if not os.environ.get("QT_QPA_PLATFORM") and not (
            os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")) \
            and sys.platform.startswith("linux"):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"  # no screen: a picture needs none
    from PySide6.QtCore import QSettings

    # settings of its own: the picture never depends on, or changes, the user's layout
    with tempfile.TemporaryDirectory(prefix="gradviz-shot-") as folder:
        settings = QSettings(str(Path(folder) / "gradviz.ini"), QSettings.Format.IniFormat)
        app, window = create_app(settings=settings, restore=False, script_args=script_args)
        job = _ScreenshotJob(app, window, path)
        if not window.open_script(target):
            _say(window.message_text or f"cannot open {target}")
            window.shutdown()
            return EXIT_USAGE
        window.script_panel.set_device(device)
        job.start()
        code = app.exec()
        window.shutdown()
        window.deleteLater()
        app.processEvents()
        settings.sync()
    return code


class _ScreenshotJob:
    """Runs the script shown to its end, waits for the graph, selects the loss, saves the
    picture and ends the event loop with the exit status."""

    def __init__(self, app, window, path: Path):
        from PySide6.QtCore import QTimer

        self.app, self.window, self.path = app, window, path
        self.result = None
        self._guard = QTimer()
        self._guard.setSingleShot(True)
        self._guard.setInterval(SCREENSHOT_TIMEOUT_S * 1000)
        self._guard.timeout.connect(self._on_timeout)
        self._timed_out = False

    def start(self) -> None:
        w, h = SCREENSHOT_SIZE
        self.window.resize(w, h)
        self.window.show()
        self.window.controller.finished.connect(self._on_finished)
        self._guard.start()
        self.window.run_script()

    def _on_timeout(self) -> None:
        self._timed_out = True
        _say(f"the script did not finish in {SCREENSHOT_TIMEOUT_S} s; stopping it")
        self.window.controller.stop()

    def _on_finished(self, result) -> None:
        from PySide6.QtCore import QTimer

        self._guard.stop()
        self.result = result
        view = self.window.graph_view
        if view.is_laying_out:
            view.layout_ready.connect(self._when_laid_out)
            view.layout_failed.connect(self._when_laid_out)
        else:
            QTimer.singleShot(0, self._when_laid_out)

    def _when_laid_out(self, *_args) -> None:
        from PySide6.QtCore import QTimer

        w = self.window
        graph = w.controller.trace.latest_graph
        if graph is not None:
            w.selection.select_node(graph.root)
        w.animation.jump_to_end()  # every node executed, with its gradient badge
        w.graph_view.fit()
        # one more turn of the event loop: panels update on the signals just sent
        QTimer.singleShot(50, self._save)

    def _save(self) -> None:
        from PySide6.QtCore import QSize, Qt

        size = QSize(*SCREENSHOT_SIZE)
        picture = self.window.grab()
        if picture.size() != size:  # a high-DPI screen or a window manager's idea of size
            picture = picture.scaled(size, Qt.AspectRatioMode.IgnoreAspectRatio,
                                     Qt.TransformationMode.SmoothTransformation)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not picture.save(str(self.path), "PNG"):
            _say(f"cannot write {self.path}")
            self.app.exit(EXIT_FAILED)
            return
        status = self.result.status if self.result is not None else "error"
        if self._timed_out:
            code = EXIT_TIMEOUT
        elif status == "ok":
            code = EXIT_OK
        else:
            _say(f"the script ended with status {status!r}; the picture shows it")
            code = EXIT_FAILED
        self.app.exit(code)
