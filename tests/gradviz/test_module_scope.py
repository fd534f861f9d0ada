"""Graph nodes know the nn.Module they ran in, so "Collapse nn.Module nodes" folds a layer."""

from __future__ import annotations

import engine
from engine.events import listening
from gradviz import recorder as recorder_module
from gradviz.collapse import CollapseOptions, collapse
from gradviz.recorder import Recorder
from gradviz.session import RunTrace

TWO_MODELS = """
class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(5, 4)
        self.fc2 = torch.nn.Linear(4, 2)

    def forward(self, x):
        return self.fc2(self.fc1(x).relu())

torch.manual_seed(0)
model = Net()
head = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU(), torch.nn.Linear(3, 1))
loss_fn = torch.nn.MSELoss()
x = torch.randn(3, 5)
for step in range(STEPS):
    loss = loss_fn(head(model(x)), torch.ones(3, 1))
    loss.backward()
"""


def graph_of(source: str, steps: int = 1):
    trace = RunTrace()
    rec = Recorder(trace.apply)
    with listening(rec):
        exec(compile(source, "<script>", "exec"),
             {"__name__": "__main__", "torch": engine, "STEPS": steps})
        rec.finish()
    return trace.latest_graph


def modules_by_name(graph) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for n in graph.nodes:
        out.setdefault(n.name, set()).add(n.module)
    return out


def test_each_node_names_the_module_it_ran_in():
    graph = graph_of(TWO_MODELS)
    by_name = modules_by_name(graph)
    assert by_name["AddmmBackward0"] == {"model.fc1", "model.fc2", "head.0", "head.2"}
    assert by_name["TBackward0"] == {"model.fc1", "model.fc2", "head.0", "head.2"}
    # an op in the outer module's own forward belongs to the outer module
    assert by_name["ReluBackward0"] == {"model", "head.1"}
    assert by_name["MseLossBackward0"] == {"loss_fn"}
    # a layer's parameters (their AccumulateGrad and the leaf) fold into the layer
    leaves = {n.name: n.module for n in graph.nodes if n.kind == "leaf"}
    assert leaves["fc1.weight"] == "model.fc1" and leaves["0.bias"] == "head.0"


def test_collapse_modules_folds_a_layer_into_one_box():
    graph = graph_of(TWO_MODELS)
    view = collapse(graph, CollapseOptions(chains=False, fans=False, collapse_modules=True))
    groups = {v.id: v for v in view.nodes if v.kind == "group"}
    fc1 = groups["module:model.fc1"]
    names = sorted(graph.nodes[i].name for i in fc1.members)
    assert names == ["AccumulateGrad", "AccumulateGrad", "AddmmBackward0", "TBackward0",
                     "fc1.bias", "fc1.weight"]
    assert "module:head.0" in groups and "module:model.fc2" in groups
    assert not any(gid.startswith("module:loss_fn") for gid in groups)  # one node: no box


def test_a_parameter_shared_by_two_layers_stays_outside_both():
    graph = graph_of("""
w = torch.randn(3, 3, requires_grad=True)

class Tied(torch.nn.Module):
    def forward(self, x):
        return x @ w

a, b = Tied(), Tied()
b(a(torch.ones(2, 3))).sum().backward()
""")
    acc = [n for n in graph.nodes if n.name == "AccumulateGrad"]
    assert [n.module for n in acc] == [""]
    assert {n.module for n in graph.nodes if n.name == "MmBackward0"} == {"a", "b"}


def test_an_anonymous_module_is_named_by_its_class_and_plain_code_by_nothing():
    graph = graph_of("""
x = torch.randn(2, 2, requires_grad=True)
(torch.nn.Linear(2, 2)(x) * x).sum().backward()
""")
    by_name = modules_by_name(graph)
    assert by_name["AddmmBackward0"] == {"Linear"}
    assert by_name["MulBackward0"] == {""} and by_name["SumBackward0"] == {""}


def test_modules_are_looked_up_only_while_a_structure_is_new(monkeypatch):
    calls = []
    real = recorder_module.ModuleScope.current
    monkeypatch.setattr(recorder_module.ModuleScope, "current",
                        lambda self: calls.append(1) or real(self))
    graph_of(TWO_MODELS, steps=1)
    per_step = len(calls)
    assert per_step > 0
    calls.clear()
    graph_of(TWO_MODELS, steps=40)
    assert len(calls) <= (recorder_module.SOURCE_REPEATS + 2) * per_step


def test_two_live_leaves_never_share_a_name():
    graph = graph_of("""
torch.manual_seed(0)
body = torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.ReLU())
head = torch.nn.Sequential(torch.nn.Linear(3, 1))
encoder, decoder = torch.nn.Linear(2, 3), torch.nn.Linear(3, 2)
x = torch.randn(4, 2)
(head(body(encoder(x))).sum() + decoder(encoder(x)).sum()).backward()
""")
    leaves = [n.name for n in graph.nodes if n.kind == "leaf"]
    assert len(leaves) == len(set(leaves)) == 8
    # the short name where it is free, the model's variable in front where it is not
    assert {"0.weight", "0.bias", "weight", "bias"} <= set(leaves)
    assert sum(name.endswith("0.weight") for name in leaves) == 2
    assert {name for name in leaves if name.endswith("0.weight")} - {"0.weight"} <= {
        "body.0.weight", "head.0.weight"}
    assert {name for name in leaves if name in ("encoder.weight", "decoder.weight")}


def test_a_leaf_made_anew_every_step_keeps_its_name():
    trace = RunTrace()
    rec = Recorder(trace.apply)
    with listening(rec):
        exec(compile("""
for k in range(12):
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
""", "<script>", "exec"), {"__name__": "__main__", "torch": engine})
        rec.finish()
    assert [n.name for n in trace.latest_graph.nodes if n.kind == "leaf"] == ["x"]
    assert {e.leaf for e in trace.grad_events} == {"x"}
    assert len(trace.grad_events) == 12
