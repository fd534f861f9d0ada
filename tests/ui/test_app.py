"""The entry point: ``create_app`` builds the window without entering the event loop, and
closing it leaves no window, timer or script behind; ``main`` refuses bad arguments early."""

from __future__ import annotations

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import QSettings, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from ui import app as app_mod  # noqa: E402
from ui.app import create_app  # noqa: E402
from ui.main_window import MainWindow  # noqa: E402

RUN_MS = 60_000


@pytest.fixture
def settings(tmp_path):
    return QSettings(str(tmp_path / "gradviz.ini"), QSettings.Format.IniFormat)


def visible_top_levels() -> list:
    return [w for w in QApplication.topLevelWidgets() if w.isVisible()]


def test_create_app_returns_the_app_and_an_unshown_window(qapp, settings):
    app, window = create_app(settings=settings)
    try:
        assert app is QApplication.instance()
        assert isinstance(window, MainWindow) and not window.isVisible()
        assert app.organizationName() == "gradviz" and app.applicationName() == "gradviz"
        assert window.settings is settings
    finally:
        window.shutdown()
        window.deleteLater()


def test_closing_leaves_no_window_timer_or_script(qtbot, settings, tmp_path):
    before = set(visible_top_levels())
    _, window = create_app(settings=settings)
    qtbot.addWidget(window)
    window.show()
    script = tmp_path / "forever.py"
    script.write_text("print('go', flush=True)\nwhile True:\n    pass\n")
    window.open_script(script)
    with qtbot.waitSignal(window.controller.output, timeout=RUN_MS):
        window.run_script()
    assert window.status.ticking
    window.show_shortcuts()  # a non-modal dialog, closed with the window
    assert window.close()
    runner = window.controller._runner
    qtbot.waitUntil(lambda: runner.state in ("finished", "error"), timeout=5_000)
    assert set(visible_top_levels()) == before
    timers = [t for t in window.findChildren(QTimer) if t.isActive()]
    assert timers == []
    assert not window.animation.clock.running
    assert not window.status.ticking
    assert settings.value("window/state") is not None  # saved on close


def test_main_refuses_a_missing_target_without_a_window(qapp, capsys, tmp_path):
    before = set(visible_top_levels())
    assert app_mod.main(str(tmp_path / "missing.py")) == 2
    assert "no such file or bundled example" in capsys.readouterr().err
    assert set(visible_top_levels()) == before


def test_main_refuses_cuda_without_a_gpu(qapp, capsys, monkeypatch):
    import engine.cuda
    from engine._device import CUDA_HELP

    monkeypatch.setattr(engine.cuda, "is_available", lambda: False)
    assert app_mod.main("square_sum", device="cuda") == 2
    assert CUDA_HELP in capsys.readouterr().err
