"""The Qt session controller: runs, signals on the GUI thread, pause/step/stop, post-mortem."""

from __future__ import annotations

import pytest

pytest.importorskip("PySide6")

from gradviz import trace_io  # noqa: E402

TIMEOUT_MS = 60_000


def test_example_1_runs_to_the_end_with_output_and_graph(qtbot, controller):
    outputs = []
    controller.output.connect(lambda stream, text: outputs.append((stream, text)))
    with qtbot.waitSignal(controller.finished, timeout=TIMEOUT_MS) as blocker:
        controller.run("square_sum")
    result = blocker.args[0]
    assert result.status == "ok" and result.exit_code == 0
    assert controller.state == "finished"
    stdout = "".join(text for stream, text in outputs if stream == "stdout")
    assert "gradients:  tensor([2., 4.])" in stdout
    graph = controller.trace.latest_graph
    assert graph.node(graph.root).name == "MulBackward0"
    assert controller.trace.losses == [10.0]


def test_pause_step_nodes_then_continue(qtbot, controller):
    with qtbot.waitSignal(controller.paused, timeout=TIMEOUT_MS):
        controller.run("square_sum", pause_at_start=True)
    assert controller.state == "paused"
    positions = []
    for _ in range(3):
        with qtbot.waitSignal(controller.paused, timeout=TIMEOUT_MS) as blocker:
            controller.step_node()
        positions.append(blocker.args[0].position)
    assert positions == [0, 1, 2]
    with qtbot.waitSignal(controller.finished, timeout=TIMEOUT_MS):
        controller.resume()
    assert controller.state == "finished"


def test_stop_ends_an_endless_script(qtbot, controller, tmp_path):
    script = tmp_path / "forever.py"
    script.write_text("print('spinning', flush=True)\nwhile True:\n    pass\n")
    with qtbot.waitSignal(controller.output, timeout=TIMEOUT_MS):
        controller.run(script)
    with qtbot.waitSignal(controller.finished, timeout=5_000) as blocker:
        controller.stop()
    assert blocker.args[0].status == "stopped"
    # and it can run again at once
    with qtbot.waitSignal(controller.finished, timeout=TIMEOUT_MS) as blocker:
        controller.run("square_sum")
    assert blocker.args[0].status == "ok"


def test_error_state_and_post_mortem_trace(qtbot, controller, tmp_path):
    script = tmp_path / "broken.py"
    script.write_text("import torch\nx = torch.ones(2, requires_grad=True)\n"
                      "(x * 2).sum().backward()\nraise ValueError('boom')\n")
    with qtbot.waitSignal(controller.finished, timeout=TIMEOUT_MS) as blocker:
        controller.run(script)
    assert blocker.args[0].status == "error"
    assert controller.state == "error"
    path = tmp_path / "run.json"
    controller.save_trace(path)
    with qtbot.waitSignal(controller.trace_replaced, timeout=1_000):
        controller.open_trace(path)
    assert controller.trace.latest_graph.node(0).name == "SumBackward0"
    with pytest.raises(trace_io.TraceFileError):
        controller.open_trace(script)
