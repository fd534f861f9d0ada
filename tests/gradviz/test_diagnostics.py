"""Gradient diagnostics (issue 7): every bundled bug example raises exactly its kind at the
right node and line through ``gradviz run --report``; the clean examples raise nothing; and
the detectors generalise to buggy and correct scripts written here, which no example
resembles line for line."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import engine
from engine import events
from gradviz.diagnostics import KINDS, Diagnostic, Diagnostician, Thresholds, by_node
from gradviz.examples import all_examples, find
from gradviz.protocol import Diagnosed, Finished
from gradviz.recorder import Recorder
from gradviz.session import RunTrace

ROOT = Path(__file__).resolve().parents[2]


# --- running a script in this process ----------------------------------------------------------
def diagnose(tmp_path, source: str, thresholds: Thresholds | None = None):
    """Run ``source`` (``torch`` bound to the engine) under a recorder and a strict
    diagnostician, as the child does; returns (diagnostics, messages, the script's path)."""
    path = tmp_path / "script.py"
    path.write_text(textwrap.dedent(source))
    messages: list = []
    diag = Diagnostician(messages.append, thresholds, strict=True)
    recorder = Recorder(diag.relay)
    diag.follow(recorder)
    namespace = {"__name__": "__main__", "torch": engine, "np": np}
    events.add_listener(recorder)
    diag.attach()
    try:
        exec(compile(path.read_text(), str(path), "exec"), namespace)
    except RuntimeError:
        pass  # the version-counter and freed-graph errors: the script fails, as in PyTorch
    finally:
        events.remove_listener(recorder)
        diag.detach()
    recorder.finish()
    diag.finish()
    return diag.diagnostics, messages, path


def line_of(path: Path, text: str) -> int:
    """The 1-based number of the first code line of ``path`` containing ``text``."""
    for i, line in enumerate(path.read_text().splitlines(), 1):
        if text in line and not line.lstrip().startswith("#"):
            return i
    raise AssertionError(f"{text!r} not in {path}")


# --- the bundled examples through `gradviz run --report`, all at once ------------------------
# example -> (kind, node name, text of the line it must point at)
BUG_EXAMPLES = {
    "bug_forgot_zero_grad": ("missing-zero-grad", {"w1", "w2"}, "loss.backward()"),
    "bug_nan_from_log_of_zero": ("nan-or-inf", {"LogBackward0"}, "log_probs = torch.log"),
    "bug_custom_backward_wrong": ("gradcheck-failed", {"CubeBackward"},
                                  "def backward(ctx, grad_output)"),
    "bug_inplace_after_save": ("inplace-modified", {"SigmoidBackward0"}, "a -= 0.5"),
    "bug_backward_twice": ("backward-twice", {"ClampBackward1"}, "loss.backward()"),
    "bug_dead_relu": ("dead-relu", {"ReluBackward0"}, "h = (x.mm(w1) + b1).relu()"),
    "bug_exploding_gradient": ("exploding-gradient", {"w1", "w2"}, None),  # its update line
    "bug_vanishing_gradient": ("vanishing-gradient", {"0.weight", "0.bias"},
                               "loss = loss_fn(model(x), y)"),
    "bug_detached_weight": ("no-gradient", {"w1"}, "x.mm(w1.data)"),
}
CLEAN_EXAMPLES = ("square_sum", "two_layer_net", "two_layer_net_module", "clean_classifier")

# scripts of our own that also go through the child (``import torch`` as a user writes it)
CLI_SCRIPTS = {
    "no_grad_forward.py": """\
        import torch
        torch.manual_seed(3)
        x = torch.randn(20, 5); y = torch.randn(20, 1)
        w1 = torch.randn(5, 4, requires_grad=True)
        w2 = torch.randn(4, 1, requires_grad=True)
        for step in range(4):
            with torch.no_grad():
                h = torch.relu(x.mm(w1))
            loss = ((h.mm(w2) - y) ** 2).mean()
            loss.backward()
            with torch.no_grad():
                for w in (w1, w2):
                    if w.grad is not None:
                        w -= 0.1 * w.grad
                        w.grad.zero_()
        """,
    "frozen_backbone.py": """\
        import torch
        torch.manual_seed(23)
        backbone = torch.nn.Sequential(torch.nn.Linear(12, 32), torch.nn.Tanh())
        head = torch.nn.Linear(32, 3)
        opt = torch.optim.SGD(head.parameters(), lr=0.1, momentum=0.9)
        x = torch.randn(60, 12); labels = torch.randint(0, 3, (60,))
        for step in range(15):
            with torch.no_grad():
                feats = backbone(x)
            loss = torch.nn.functional.cross_entropy(head(feats), labels)
            opt.zero_grad(); loss.backward(); opt.step()
        """,
}


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    """``gradviz run TARGET --report`` for every bundled example and the scripts above, the
    processes all started at once."""
    folder = tmp_path_factory.mktemp("reports")
    targets = [e.name for e in all_examples()]
    for name, source in CLI_SCRIPTS.items():
        (folder / name).write_text(textwrap.dedent(source))
        targets.append(str(folder / name))
    env = dict(os.environ, PYTHONPATH=str(ROOT), OPENBLAS_NUM_THREADS="1")
    procs = {}
    for target in targets:
        out = folder / (Path(target).stem + ".json")
        procs[Path(target).stem] = (out, subprocess.Popen(
            [sys.executable, "-m", "gradviz.cli", "run", target, "--report", str(out)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env))
    results = {}
    for name, (out, proc) in procs.items():
        _stdout, stderr = proc.communicate(timeout=240)
        assert proc.returncode == 0, f"{name}: {stderr}"
        results[name] = json.loads(out.read_text())
    return results


def test_every_kind_has_a_bundled_example():
    names = {e.name for e in all_examples()}
    assert set(BUG_EXAMPLES) <= names
    assert {kind for kind, _, _ in BUG_EXAMPLES.values()} == set(KINDS)
    assert "clean_classifier" in names


@pytest.mark.parametrize("example", sorted(BUG_EXAMPLES))
def test_bug_example_raises_exactly_its_kind_at_its_node_and_line(reports, example):
    kind, names, text = BUG_EXAMPLES[example]
    report = reports[example]
    diagnostics = report["diagnostics"]
    assert diagnostics, f"{example}: nothing found"
    assert {d["kind"] for d in diagnostics} == {kind}, diagnostics
    path = find(example).path
    graph = {n["id"]: n for n in report["graph"]["nodes"]}
    for d in diagnostics:
        assert {"kind", "message", "node", "line"} <= d.keys()
        assert d["node_name"] in names, d
        if kind == "no-gradient":
            assert d["node"] is None  # the leaf is exactly what is missing from the graph
        else:
            assert graph[d["node"]]["name"] == d["node_name"], (d, graph[d["node"]])
        expected = text if text is not None else f"{d['node_name']} -= learning_rate"
        assert d["line"] == line_of(path, expected), d
        assert d["file"] == str(path)
        assert len(d["message"]) > 40


@pytest.mark.parametrize("example", CLEAN_EXAMPLES)
def test_clean_example_raises_nothing(reports, example):
    assert reports[example]["status"] == "ok"
    assert reports[example]["diagnostics"] == []


def test_scripts_of_our_own_through_the_child(reports):
    found = reports["no_grad_forward"]["diagnostics"]
    assert [d["kind"] for d in found] == ["no-gradient"]
    assert found[0]["node_name"] == "w1" and found[0]["line"] == 8
    assert "no_grad" in found[0]["message"]
    assert reports["frozen_backbone"]["diagnostics"] == []  # frozen on purpose


# --- buggy scripts of our own ------------------------------------------------------------------
BUGGY = {
    "nn model, optimizer, zero_grad never called": ("missing-zero-grad", {"0.weight", "0.bias",
                                                                          "2.weight", "2.bias"},
                                                    8, """\
        torch.manual_seed(1)
        model = torch.nn.Sequential(torch.nn.Linear(5, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))
        opt = torch.optim.SGD(model.parameters(), lr=1e-3)
        x = torch.randn(40, 5)
        y = torch.randn(40, 1)
        for step in range(6):
            loss = torch.nn.functional.mse_loss(model(x), y)
            loss.backward()
            opt.step()
        """),
    "sqrt of zero in backward": ("nan-or-inf", "SqrtBackward0", 6, """\
        torch.manual_seed(2)
        pts = torch.randn(8, 3, requires_grad=True)
        anchor = torch.randn(8, 3)
        anchor[3] = pts[3].detach()
        for step in range(3):
            dist = ((pts - anchor) ** 2).sum(dim=1).sqrt()
            loss = dist.mean()
            loss.backward()
            with torch.no_grad():
                pts -= 0.1 * pts.grad
                pts.grad.zero_()
        """),
    "division by a zero std outside the graph": ("nan-or-inf", "MmBackward0", 9, """\
        torch.manual_seed(3)
        data = torch.randn(32, 4)
        data[:, 2] = 1.0
        w = torch.randn(4, 1, requires_grad=True)
        for step in range(3):
            centred = data - data.mean(dim=0)
            scale = (centred ** 2).mean(dim=0).sqrt()
            normed = centred / scale
            loss = (normed.mm(w) ** 2).mean()
            loss.backward()
            with torch.no_grad():
                w -= 0.01 * w.grad
                w.grad.zero_()
        """),
    "setup_context Function with a sign error": ("gradcheck-failed", "ScaledSinBackward", 9, """\
        class ScaledSin(torch.autograd.Function):
            @staticmethod
            def forward(x, scale):
                return torch.sin(x) * scale
            @staticmethod
            def setup_context(ctx, inputs, output):
                ctx.save_for_backward(*inputs)
            @staticmethod
            def backward(ctx, g):
                x, scale = ctx.saved_tensors
                return -g * torch.cos(x) * scale, g * torch.sin(x)
        torch.manual_seed(4)
        a = torch.randn(20, requires_grad=True)
        s = torch.randn(20, requires_grad=True)
        for step in range(3):
            loss = (ScaledSin.apply(a, s) ** 2).sum()
            loss.backward()
            with torch.no_grad():
                a -= 0.01 * a.grad; s -= 0.01 * s.grad
                a.grad.zero_(); s.grad.zero_()
        """),
    "weights updated between forward and backward": ("inplace-modified", "PowBackward0", 6, """\
        torch.manual_seed(5)
        x = torch.randn(10, 4); y = torch.randn(10, 2)
        w = torch.randn(4, 2, requires_grad=True)
        loss = ((x.mm(w) - y) ** 2).sum() + 0.01 * (w ** 2).sum()
        with torch.no_grad():
            w -= 0.01 * torch.ones(4, 2)
        loss.backward()
        """),
    "two losses over one graph": ("backward-twice", "TanhBackward0", 7, """\
        torch.manual_seed(6)
        x = torch.randn(16, 8)
        w = torch.randn(8, 8, requires_grad=True)
        h = torch.tanh(x.mm(w))
        loss_a = h.pow(2).mean()
        loss_a.backward()
        (h - 1).abs().mean().backward()
        """),
    "nn.ReLU behind a bias filled with -20 through .data": ("dead-relu", "ReluBackward0", 8, """\
        torch.manual_seed(7)
        net = torch.nn.Sequential(torch.nn.Linear(6, 12), torch.nn.ReLU(), torch.nn.Linear(12, 1))
        net[0].bias.data.fill_(-20.0)
        opt = torch.optim.SGD(net.parameters(), lr=0.01)
        x = torch.randn(30, 6); y = torch.randn(30, 1)
        for step in range(8):
            opt.zero_grad()
            loss = ((net(x) - y) ** 2).mean()
            loss.backward()
            opt.step()
        """),
    "regression on unnormalised features": ("exploding-gradient", None, None, """\
        torch.manual_seed(8)
        X = torch.randn(100, 3) * 10
        Y = X.mm(torch.tensor([[1.0], [-2.0], [0.5]]))
        w = torch.zeros(3, 1, requires_grad=True)
        b = torch.zeros(1, requires_grad=True)
        for step in range(40):
            loss = ((X.mm(w) + b - Y) ** 2).mean()
            loss.backward()
            with torch.no_grad():
                w -= 0.05 * w.grad
                b -= 0.05 * b.grad
                w.grad.zero_(); b.grad.zero_()
        """),
    "deep sigmoid stack of plain tensors": ("vanishing-gradient", None, 7, """\
        torch.manual_seed(9)
        ws = [(torch.randn(16, 16) / 4).requires_grad_() for _ in range(12)]
        x = torch.randn(32, 16); y = torch.randn(32, 16)
        for step in range(15):
            h = x
            for w in ws:
                h = torch.sigmoid(h.mm(w))
            loss = ((h - y) ** 2).mean()
            loss.backward()
            with torch.no_grad():
                for w in ws:
                    w -= 0.1 * w.grad
                    w.grad.zero_()
        """),
    "an encoder's output detached": ("no-gradient", None, 7, """\
        torch.manual_seed(10)
        encoder = torch.nn.Linear(10, 6)
        head = torch.nn.Linear(6, 1)
        opt = torch.optim.Adam(list(encoder.parameters()) + list(head.parameters()), lr=1e-2)
        x = torch.randn(50, 10); y = torch.randn(50, 1)
        for step in range(12):
            z = torch.relu(encoder(x)).detach()
            loss = ((head(z) - y) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        """),
    "old-style .data updates, never zeroed": ("missing-zero-grad", "w", 6, """\
        torch.manual_seed(13)
        x = torch.randn(30, 4); y = torch.randn(30, 1)
        w = torch.randn(4, 1, requires_grad=True)
        for step in range(5):
            loss = ((x.mm(w) - y) ** 2).mean()
            loss.backward()
            w.data -= 0.01 * w.grad.data
        """),
    "a NaN loss the script stops on before backward()": ("nan-or-inf", "DivBackward0", 6, """\
        torch.manual_seed(14)
        x = torch.randn(16, 3); labels = torch.zeros(16)
        w = torch.randn(3, requires_grad=True)
        for step in range(5):
            p = torch.sigmoid((x * w).sum(dim=1))
            loss = -(labels * torch.log(p)).sum() / labels.sum()
            if torch.isnan(loss).item():
                print("NaN loss, stopping")
                break
            loss.backward()
        """),
    "a numpy round trip": ("no-gradient", "w1", 6, """\
        torch.manual_seed(11)
        x = torch.randn(20, 5); y = torch.randn(20, 1)
        w1 = torch.randn(5, 4, requires_grad=True)
        w2 = torch.randn(4, 1, requires_grad=True)
        for step in range(4):
            h = torch.from_numpy(np.tanh(x.mm(w1).detach().numpy()))
            loss = ((h.mm(w2) - y) ** 2).mean()
            loss.backward()
            with torch.no_grad():
                for w in (w1, w2):
                    if w.grad is not None:
                        w -= 0.1 * w.grad
                        w.grad.zero_()
        """),
}


@pytest.mark.parametrize("case", sorted(BUGGY))
def test_buggy_scripts_of_our_own(tmp_path, case):
    kind, name, line, source = BUGGY[case]
    found, _messages, _path = diagnose(tmp_path, source)
    assert {d.kind for d in found} == {kind}, found
    d = found[0]
    if name is not None:
        assert d.node_name in ({name} if isinstance(name, str) else name), d
    if line is not None:
        assert d.line == line, d


# --- correct scripts of our own ---------------------------------------------------------------
CLEAN = {
    "GAN with five critic steps per generator step": """\
        torch.manual_seed(21)
        G = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
        D = torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.ReLU(), torch.nn.Linear(16, 1))
        opt_g = torch.optim.Adam(G.parameters(), lr=1e-3)
        opt_d = torch.optim.Adam(D.parameters(), lr=1e-3)
        mse = torch.nn.functional.mse_loss
        real = torch.randn(64, 2) + 3
        for step in range(15):
            for _ in range(5):
                fake = G(torch.randn(64, 4)).detach()
                d_loss = mse(D(real), torch.ones(64, 1)) + mse(D(fake), torch.zeros(64, 1))
                opt_d.zero_grad(); d_loss.backward(); opt_d.step()
            g_loss = mse(D(G(torch.randn(64, 4))), torch.ones(64, 1))
            opt_g.zero_grad(); g_loss.backward(); opt_g.step()
        """,
    "gradient accumulation, grads set to None": """\
        torch.manual_seed(22)
        x = torch.randn(128, 10); y = torch.randn(128, 1)
        w = torch.zeros(10, 1, requires_grad=True)
        b = torch.zeros(1, requires_grad=True)
        for epoch in range(15):
            for i in range(4):
                xb, yb = x[i * 32:(i + 1) * 32], y[i * 32:(i + 1) * 32]
                loss = ((xb.mm(w) + b - yb) ** 2).mean() / 4
                loss.backward()
            with torch.no_grad():
                w -= 0.1 * w.grad
                b -= 0.1 * b.grad
            w.grad = None
            b.grad = None
        """,
    "correct custom Functions, one random, one straight-through": """\
        class Exp(torch.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                y = x.exp()
                ctx.save_for_backward(y)
                return y
            @staticmethod
            def backward(ctx, g):
                (y,) = ctx.saved_tensors
                return g * y
        class MyReLU(torch.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return x.clamp(min=0)
            @staticmethod
            def backward(ctx, g):
                (x,) = ctx.saved_tensors
                g = g.clone()
                g[x < 0] = 0
                return g
        class Scale(torch.autograd.Function):
            @staticmethod
            def forward(ctx, x, factor):
                ctx.factor = factor
                print("Scale.forward")
                return x * factor
            @staticmethod
            def backward(ctx, g):
                return g * ctx.factor, None
        class NoisyLinear(torch.autograd.Function):
            @staticmethod
            def forward(ctx, x, w):
                ctx.save_for_backward(x, w)
                return x.mm(w) + torch.randn(x.shape[0], w.shape[1]) * 0.01
            @staticmethod
            def backward(ctx, g):
                x, w = ctx.saved_tensors
                return g.mm(w.t()), x.t().mm(g)
        class RoundSTE(torch.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return torch.floor(x + 0.5)
            @staticmethod
            def backward(ctx, g):
                return g
        torch.manual_seed(24)
        x = torch.randn(30, 6); y = torch.randn(30, 2)
        w = (torch.randn(6, 2) * 0.3).requires_grad_()
        v = torch.randn(2, requires_grad=True)
        for step in range(4):
            h = NoisyLinear.apply(x, w)
            out = Scale.apply(MyReLU.apply(h), 2.0) + Exp.apply(v * 0.1) + RoundSTE.apply(h) * 0
            loss = ((out - y) ** 2).mean()
            loss.backward()
            with torch.no_grad():
                w -= 0.05 * w.grad; v -= 0.05 * v.grad
                w.grad.zero_(); v.grad.zero_()
        """,
    "retain_graph for two losses": """\
        torch.manual_seed(25)
        x = torch.randn(16, 8)
        w = torch.randn(8, 8, requires_grad=True)
        for step in range(5):
            h = torch.tanh(x.mm(w))
            h.pow(2).mean().backward(retain_graph=True)
            (h - 1).abs().mean().backward()
            with torch.no_grad():
                w -= 0.01 * w.grad
                w.grad.zero_()
        """,
    "harmless in-place ops": """\
        torch.manual_seed(26)
        x = torch.randn(20, 5); y = torch.randn(20, 1)
        w1 = torch.randn(5, 8, requires_grad=True); w2 = torch.randn(8, 1, requires_grad=True)
        for step in range(12):
            x += 0.001
            h = x.mm(w1).relu().clone()
            h[0] = 0.0
            out = h.mm(w2)
            out += 1.0
            loss = ((out - y) ** 2).mean()
            loss.backward()
            with torch.no_grad():
                w1.sub_(0.01 * w1.grad); w2.sub_(0.01 * w2.grad)
            w1.grad.zero_(); w2.grad.zero_()
            print(loss.detach().item(), w1.data.sum().item())
        """,
    "minibatch SGD with momentum down to a tiny loss": """\
        torch.manual_seed(27)
        X = torch.randn(200, 5)
        Y = X.mm(torch.randn(5, 1)) + 0.5
        model = torch.nn.Linear(5, 1)
        opt = torch.optim.SGD(model.parameters(), lr=0.03, momentum=0.9)
        for step in range(300):
            idx = torch.randint(0, 200, (8,))
            loss = torch.nn.functional.mse_loss(model(X[idx]), Y[idx])
            opt.zero_grad(); loss.backward(); opt.step()
        assert loss.item() < 1e-6
        """,
    "old-style .data updates with zeroing": """\
        torch.manual_seed(13)
        x = torch.randn(30, 4); y = torch.randn(30, 1)
        w = torch.randn(4, 1, requires_grad=True)
        for step in range(5):
            loss = ((x.mm(w) - y) ** 2).mean()
            loss.backward()
            w.data -= 0.01 * w.grad.data
            w.grad.data.zero_()
        """,
    "hinge loss at zero: a ReLU that is all zeros on purpose": """\
        torch.manual_seed(30)
        x = torch.randn(40, 2)
        x[:, 0] = x[:, 0].sign() * (x[:, 0].abs() + 0.5)
        labels = (x[:, 0] > 0).float() * 2 - 1
        w = torch.tensor([10.0, 0.0], requires_grad=True)
        b = torch.zeros(1, requires_grad=True)
        for step in range(12):
            loss = torch.relu(1 - labels * ((x * w).sum(dim=1) + b)).mean() + 1e-4 * (w ** 2).sum()
            loss.backward()
            with torch.no_grad():
                w -= 0.5 * w.grad; b -= 0.5 * b.grad
                w.grad.zero_(); b.grad.zero_()
        """,
    "a DQN's target network, run under no_grad and loaded, never trained": """\
        torch.manual_seed(31)
        nn = torch.nn
        policy = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 2))
        target = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 2))
        target.load_state_dict(policy.state_dict())
        opt = torch.optim.Adam(policy.parameters(), lr=1e-3)
        for step in range(25):
            s = torch.randn(32, 4); s2 = torch.randn(32, 4); r = torch.randn(32)
            with torch.no_grad():
                q_next = target(s2).sum(dim=1)
            loss = ((policy(s).sum(dim=1) - (r + 0.9 * q_next)) ** 2).mean()
            opt.zero_grad(); loss.backward(); opt.step()
            if step % 10 == 9:
                target.load_state_dict(policy.state_dict())
        """,
    "masked log_softmax": """\
        torch.manual_seed(28)
        logits = torch.randn(10, 5, requires_grad=True)
        mask = torch.rand(10, 5) > 0.3
        for step in range(10):
            logp = torch.log_softmax(torch.where(mask, logits, torch.full_like(logits, -1e9)), 1)
            loss = -(logp * mask.float()).sum() / mask.float().sum()
            loss.backward()
            with torch.no_grad():
                logits -= 0.5 * logits.grad
                logits.grad.zero_()
        """,
}


@pytest.mark.parametrize("case", sorted(CLEAN))
def test_correct_scripts_of_our_own_raise_nothing(tmp_path, case):
    found, _messages, _path = diagnose(tmp_path, CLEAN[case])
    assert found == []


# --- the machinery -----------------------------------------------------------------------------
def test_gradcheck_leaves_the_users_random_state_and_output_alone(tmp_path, capsys):
    source = CLEAN["correct custom Functions, one random, one straight-through"]
    random.seed(5)
    np.random.seed(5)
    _found, _m, path = diagnose(tmp_path, source + "print(torch.randn(3).tolist())\n")
    with_diagnostics = capsys.readouterr().out
    namespace = {"__name__": "__main__", "torch": engine, "np": np}
    exec(compile(path.read_text(), str(path), "exec"), namespace)
    without = capsys.readouterr().out
    assert with_diagnostics == without  # same prints (none from the check), same random numbers
    assert with_diagnostics.count("Scale.forward") == 4


def test_findings_are_sent_at_once_and_again_at_the_end(tmp_path):
    found, messages, _path = diagnose(tmp_path, BUGGY["two losses over one graph"][3])
    sent = [m.diagnostic for m in messages if isinstance(m, Diagnosed)]
    assert sent == found
    trace = RunTrace()
    trace.apply_all(messages)
    assert trace.diagnostics == found
    trace.apply(Finished("error", 1, None, [d.to_json() for d in found]))  # no duplicates
    assert trace.diagnostics == found
    assert Diagnostic.from_json(found[0].to_json()) == found[0]
    assert by_node(found, found[0].structure) == {found[0].node: [found[0]]}
    assert by_node(found, "another structure") == {}


def test_engine_is_left_as_it_was(tmp_path):
    from engine._grad_mode import no_grad, set_grad_enabled
    from engine._tensor import Tensor
    from engine.autograd import Function

    def patched():
        return ([Tensor.__dict__[a] for a in ("detach", "data", "item", "__float__", "tolist")],
                "__enter__" in vars(no_grad), Function.__dict__["apply"],
                set_grad_enabled.__dict__["__enter__"])

    before = patched()
    diagnose(tmp_path, "x = torch.ones(2, requires_grad=True)\n(x.detach() * 2).sum()\n")
    assert patched() == before
    assert not events.EVENTS.active


def test_in_a_training_loop_only_the_grad_zeroing_event_reaches_the_detectors(tmp_path):
    """What the detectors cost (benchmarks/diagnostics_overhead.py): past the first backward,
    the per-op, per-update and per-backward engine events go to the recorder alone; the
    detectors run once per step on its messages."""
    path = tmp_path / "s.py"
    path.write_text("w = torch.ones(3, requires_grad=True)\n"
                    "for _ in range(2):\n"
                    "    (w * 2).sum().backward()\n"
                    "    with torch.no_grad():\n"
                    "        w -= 0.1 * w.grad\n"
                    "    w.grad.zero_()\n")
    diag = Diagnostician(lambda m: None, strict=True)
    recorder = Recorder(diag.relay)
    diag.follow(recorder)
    events.add_listener(recorder)
    diag.attach()
    try:
        assert events.EVENTS.tensor_did_change_inplace != recorder.tensor_did_change_inplace
        exec(compile(path.read_text(), str(path), "exec"), {"torch": engine})
        for event in ("op_did_record", "backward_did_start", "node_did_execute",
                      "grad_will_accumulate", "grad_did_accumulate",
                      "tensor_did_change_inplace", "backward_did_finish"):
            assert getattr(events.EVENTS, event) == getattr(recorder, event), event
    finally:
        events.remove_listener(recorder)
        diag.detach()


def test_thresholds_are_settable(tmp_path):
    source = BUGGY["nn.ReLU behind a bias filled with -20 through .data"][3]
    assert diagnose(tmp_path, source, Thresholds(dead_relu_steps=20))[0] == []
    assert diagnose(tmp_path, source, Thresholds(kinds=("nan-or-inf",)))[0] == []
    t = Thresholds.from_env({"GRADVIZ_THRESHOLDS": "dead_relu_steps=3, exploding_orders=2.5,"
                                                   "kinds=dead-relu+no-gradient, bogus=1"})
    assert (t.dead_relu_steps, t.exploding_orders) == (3, 2.5)
    assert t.kinds == ("dead-relu", "no-gradient")


def test_a_failing_detector_never_breaks_the_script(tmp_path, capsys, monkeypatch):
    from gradviz.diagnostics import dead_relu

    def broken(self):
        raise ValueError("detector bug")

    monkeypatch.setattr(dead_relu.DeadRelu, "step_recorded", broken)
    path = tmp_path / "s.py"
    path.write_text(BUGGY["two losses over one graph"][3].replace("(h - 1)", "# (h - 1)"))
    diag = Diagnostician(lambda m: None)
    recorder = Recorder(diag.relay)
    diag.follow(recorder)
    events.add_listener(recorder)
    diag.attach()
    try:
        exec(compile(textwrap.dedent(path.read_text()), str(path), "exec"), {"torch": engine})
    finally:
        events.remove_listener(recorder)
        diag.detach()
    assert [f.detector for f in diag.failures] == ["step"]
    assert "diagnostics switched off" in capsys.readouterr().err
