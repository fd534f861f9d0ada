"""The Gradients panel: one row per leaf with its .grad, norm history and exact counts; a
bounded log of accumulations and zeroings; forgetting zero_grad() shows at a glance."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import QSize  # noqa: E402
from PySide6.QtGui import QPalette  # noqa: E402

from gradviz.examples import find  # noqa: E402
from gradviz.trace import GradEvent  # noqa: E402
from ui.gradients_panel import (  # noqa: E402
    GradientsPanel,
    describe_event,
    heatmap_image,
    natural_key,
)
from ui.selection import Selection  # noqa: E402

TIMEOUT_MS = 60_000


@pytest.fixture
def panel(qtbot, controller):
    p = GradientsPanel(controller, Selection())
    qtbot.addWidget(p)
    p.resize(760, 460)
    p.show()
    return p


def _run(qtbot, controller, target):
    with qtbot.waitSignal(controller.finished, timeout=TIMEOUT_MS) as blocker:
        controller.run(target)
    assert blocker.args[0].status == "ok"
    return controller.trace


def test_example_2_logs_500_accumulations_and_500_zeroings_per_weight(qtbot, controller, panel):
    trace = _run(qtbot, controller, "two_layer_net")
    assert panel.leaf_names() == ["w1", "w2"]
    for name in ("w1", "w2"):
        row = panel.row(name)
        assert row.counts_text == "500 accumulated · 500 zeroed · 500 updated"
        assert row.status_text == ""  # zeroed every step: nothing to warn about
        assert len(row.sparkline.values) == 500
        assert row.grad_text == "all zeros"  # zero_() was the script's last word
    assert panel.row("w1").norm_text == f"‖grad‖ {trace.leaves['w1'].norms[-1]:.4g}"
    lines = panel.log_lines()
    assert len(lines) == 500  # bounded: the latest 500 of 3,000 events
    assert lines[-2:] == ["step   499  w1.grad.zero_()   ‖grad‖ 5.475 → 0".replace(
        "5.475", f"{trace.leaves['w1'].norms[-1]:.4g}"), lines[-1]]
    assert "w2.grad.zero_()" in lines[-1]
    accumulated = [ln for ln in lines if "w1.grad += Δ" in ln]
    assert accumulated and all("into an empty slot" in ln for ln in accumulated)


def test_forgetting_zero_grad_is_obvious(qtbot, controller, panel, tmp_path):
    # Example 2 verbatim, minus the two zero_() calls
    source = find("two_layer_net").path.read_text()
    assert "w1.grad.zero_()" in source
    script = tmp_path / "no_zero.py"
    script.write_text(source.replace("w1.grad.zero_()", "pass").replace("w2.grad.zero_()",
                                                                         "pass"))
    trace = _run(qtbot, controller, script)
    assert trace.leaves["w1"].accumulations_on_top == 499
    row = panel.row("w1")
    assert row.counts_text.startswith("500 accumulated · 0 zeroed")
    assert "on top of an earlier step's gradient 499×" in row.status_text
    assert "zero_grad() missing" in row.status_text
    on_top = [ln for ln in panel.log_lines() if "w1.grad += Δ" in ln]
    assert on_top and all("ON TOP of an earlier value" in ln for ln in on_top)
    norms = np.array(trace.leaves["w1"].norms[:3])
    assert norms[0] > 0  # and the grad it shows is the sum of every step's, not zeros
    assert row.grad_text == "heatmap 1000×100"


def test_zeroing_flashes_the_row_while_the_script_runs(qtbot, controller, panel, tmp_path):
    script = tmp_path / "three.py"
    script.write_text("import torch\nx = torch.tensor([1.0, 2.0], requires_grad=True)\n"
                      "for _ in range(3):\n    (x * x).sum().backward()\n"
                      "    x.grad.zero_()\n")
    with qtbot.waitSignal(controller.paused, timeout=TIMEOUT_MS):
        controller.run(script, pause_at_start=True)
    for _ in range(2):  # zero events reach the GUI with the next step
        with qtbot.waitSignal(controller.paused, timeout=TIMEOUT_MS):
            controller.step_backward()
    row = panel.row("x")
    assert row.flash_level > 0
    assert any("x.grad.zero_()" in ln for ln in panel.log_lines())
    # the flash fades by itself, and its timer stops
    qtbot.waitUntil(lambda: row.flash_level == 0, timeout=5_000)
    assert not panel._flash_timer.isActive()
    # paused before the third backward: the panel asked for the leaves' values
    qtbot.waitUntil(lambda: row.grad_text == "[0., 0.]", timeout=10_000)  # zeroed
    with qtbot.waitSignal(controller.finished, timeout=TIMEOUT_MS):
        controller.resume()
    assert row.counts_text == "3 accumulated · 3 zeroed"


def test_selected_step_marks_the_sparkline(qtbot, controller):
    selection = Selection()
    panel = GradientsPanel(controller, selection)
    qtbot.addWidget(panel)
    trace = _run(qtbot, controller, "two_layer_net")
    selection.show_step(10)
    row = panel.row("w2")
    assert row.sparkline._marker == 10
    assert row.norm_text == f"‖grad‖ @10 {trace.leaves['w2'].norms[10]:.4g}"
    selection.show_step(None)
    assert row.sparkline._marker == 499


def test_event_lines_say_what_happened():
    acc = GradEvent(3, "w1", "accumulate", was_empty=True, norm_after=2.0,
                    contribution_norm=2.0)
    assert describe_event(acc) == (
        "accumulate", "step     3  w1.grad += Δ   ‖Δ‖ 2   into an empty slot → ‖grad‖ 2")
    top = acc._replace(was_empty=False, norm_before=2.0, norm_after=3.5,
                       contribution_norm=1.5)
    assert describe_event(top)[0] == "on-top"
    assert "ON TOP of an earlier value: ‖grad‖ 2 → 3.5" in describe_event(top)[1]
    for how, text in (("zero_()", "w1.grad.zero_()"), ("grad = None", "w1.grad = None"),
                      ("optimizer.zero_grad()", "optimizer.zero_grad()  (w1)")):
        zero = GradEvent(3, "w1", "zero", how=how, norm_before=3.5)
        assert describe_event(zero) == ("zero", f"step     3  {text}   ‖grad‖ 3.5 → 0")
    assert natural_key("w10") > natural_key("w2")


def test_heatmap_is_diverging_around_the_base_colour(qapp):
    pal = QPalette()
    image = heatmap_image(np.array([[-1.0, 0.0, 1.0]]), QSize(3, 1), pal)
    neg, mid, pos = (image.pixelColor(i, 0) for i in range(3))
    assert neg.blue() > neg.red() and pos.red() > pos.blue()
    assert mid == pal.color(QPalette.ColorRole.Base)
    big = heatmap_image(np.random.default_rng(0).normal(size=(1000, 100)), QSize(96, 40), pal)
    assert (big.width(), big.height()) == (96, 40)
