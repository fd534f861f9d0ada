"""``engine.nn`` against real PyTorch: module reprs, parameter names, state dicts, the
graphs Linear and the loss modules record, registration rules, hooks, devices and dtypes,
``nn.init``; and a small net that learns."""

from __future__ import annotations

import copy
import math
import warnings
from collections import OrderedDict

import numpy as np
import pytest

import engine
from engine import events

from .reference import assert_close, name_chain, to_numpy

torch = pytest.importorskip("torch")
RNG = np.random.default_rng(7)


def same_error(fn):
    """``fn(lib)`` raises the same exception type with the same message in both libraries."""
    with pytest.raises(Exception) as expected:
        fn(torch)
    with pytest.raises(type(expected.value)) as got:
        fn(engine)
    assert str(got.value) == str(expected.value)


def copy_weights(src, dst) -> None:
    """Load torch module ``src``'s weights into engine module ``dst`` (through numpy)."""
    result = dst.load_state_dict(OrderedDict(
        (k, engine.tensor(v.detach().numpy())) for k, v in src.state_dict().items()))
    assert repr(result) == "<All keys matched successfully>"


def twins(build):
    """The same architecture in both libraries, engine weights copied from torch's."""
    t, e = build(torch), build(engine)
    copy_weights(t, e)
    return t, e


def mlp(lib):
    nn = lib.nn
    return nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 3))


class Custom:
    """A user-defined module, built the same way in both libraries."""

    @staticmethod
    def make(lib):
        class Net(lib.nn.Module):
            def __init__(self):
                super().__init__()
                self.encoder = lib.nn.Sequential(lib.nn.Linear(3, 5), lib.nn.Tanh())
                self.heads = lib.nn.ModuleList([lib.nn.Linear(5, 2), lib.nn.Linear(5, 2)])
                self.shared = self.heads[0]
                self.scale = lib.nn.Parameter(lib.ones(2))
                self.register_buffer("steps", lib.zeros(1))
                self.register_buffer("scratch", lib.zeros(2), persistent=False)

            def forward(self, x):
                h = self.encoder(x)
                return (self.heads[0](h) + self.heads[1](h)) * self.scale

        return Net()


# --- reprs ------------------------------------------------------------------------------------
REPR_MODELS = [
    lambda nn: nn.Sequential(nn.Linear(1000, 100), nn.ReLU(), nn.Linear(100, 10)),
    lambda nn: nn.Sequential(nn.Linear(2, 3, bias=False), nn.Tanh(), nn.Sigmoid(),
                             nn.Softmax(dim=1), nn.LogSoftmax(1), nn.Softmax(), nn.Identity(),
                             nn.ReLU(inplace=True)),
    lambda nn: nn.Sequential(nn.MSELoss(), nn.CrossEntropyLoss(), nn.NLLLoss(), nn.L1Loss(),
                             nn.BCELoss()),
    lambda nn: nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 2), nn.Linear(2, 2), nn.ReLU(),
                              nn.Linear(2, 2)]),
    lambda nn: nn.Sequential(OrderedDict([("fc", nn.Linear(2, 2)),
                                          ("inner", nn.Sequential(nn.ReLU(),
                                                                  nn.ModuleList()))])),
    lambda nn: nn.Sequential(),
    lambda nn: nn.Linear(3, 4),
]


@pytest.mark.parametrize("build", REPR_MODELS)
def test_module_repr_matches_torch(build):
    assert repr(build(engine.nn)) == repr(build(torch.nn))


def test_custom_module_repr_and_names_match_torch():
    t, e = twins(Custom.make)
    assert repr(e) == repr(t)
    assert [n for n, _ in e.named_parameters()] == [n for n, _ in t.named_parameters()]
    assert [n for n, _ in e.named_buffers()] == [n for n, _ in t.named_buffers()]
    assert [n for n, _ in e.named_modules()] == [n for n, _ in t.named_modules()]
    assert [n for n, _ in e.named_children()] == [n for n, _ in t.named_children()]
    assert list(e.state_dict()) == list(t.state_dict())
    assert len(list(e.parameters())) == len(list(t.parameters()))
    assert len(list(e.modules())) == len(list(t.modules()))
    x = RNG.standard_normal((4, 3)).astype(np.float32)
    assert_close(to_numpy(e(engine.tensor(x))), to_numpy(t(torch.tensor(x))))


def test_parameter_repr_matches_torch():
    for data in (RNG.standard_normal((2, 3)).astype(np.float32), RNG.standard_normal(3),
                 np.asarray(1.5, dtype=np.float32)):
        assert repr(engine.nn.Parameter(engine.tensor(data))) == \
            repr(torch.nn.Parameter(torch.tensor(data)))
    ints = np.array([1, 2])
    assert repr(engine.nn.Parameter(engine.tensor(ints), requires_grad=False)) == \
        repr(torch.nn.Parameter(torch.tensor(ints), requires_grad=False))
    assert repr(engine.nn.Parameter()) == repr(torch.nn.Parameter())
    same_error(lambda lib: lib.nn.Parameter(lib.tensor([1, 2])))


def test_parameter_is_a_leaf_sharing_storage_with_its_data():
    data = engine.zeros(3)
    p = engine.nn.Parameter(data)
    assert isinstance(p, engine.Tensor) and p.requires_grad and p.is_leaf
    data.add_(1)
    assert p.tolist() == [1.0, 1.0, 1.0]
    assert p._version_counter == data._version_counter == 1
    assert type(p * 2) is engine.Tensor  # ops give plain tensors
    clone = copy.deepcopy(p)
    assert type(clone) is engine.nn.Parameter and clone.requires_grad
    assert clone._data is not p._data


# --- Linear and the loss modules: values, gradients, graphs ----------------------------------
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape,transposed", [((4,), False), ((5, 4), False), ((2, 5, 4), False),
                                              ((2, 1, 3, 4), False), ((4, 5), True),
                                              ((2, 4, 5), True)])
def test_linear_matches_torch(shape, transposed, bias):
    """AddmmBackward0 for 2-D input with bias; other inputs get PyTorch's views, matmul
    folding and AddBackward0 exactly as torch records them."""
    t, e = twins(lambda lib: lib.nn.Linear(4, 3, bias=bias).double())
    x = RNG.standard_normal(shape)
    xt, xe = torch.tensor(x, requires_grad=True), engine.tensor(x, requires_grad=True)
    if transposed:  # a non-contiguous input
        yt, ye = t(xt.transpose(-1, -2)), e(xe.transpose(-1, -2))
    else:
        yt, ye = t(xt), e(xe)
    assert name_chain(ye) == name_chain(yt)
    assert_close(to_numpy(ye), to_numpy(yt), 1e-12, 1e-12)
    g = RNG.standard_normal(tuple(yt.shape))
    yt.backward(torch.tensor(g))
    ye.backward(engine.tensor(g))
    assert_close(to_numpy(xe.grad), to_numpy(xt.grad), 1e-12, 1e-12)
    for (_, pe), (_, pt) in zip(e.named_parameters(), t.named_parameters()):
        assert_close(to_numpy(pe.grad), to_numpy(pt.grad), 1e-12, 1e-12)


def test_linear_graph_is_addmm_over_bias_input_and_transposed_weight():
    lin = engine.nn.Linear(3, 2)
    y = lin(engine.randn(4, 3))
    fn = y.grad_fn
    assert type(fn).__name__ == "AddmmBackward0" and fn.name() == "AddmmBackward0"
    (bias_acc, _), (x_edge, _), (t_node, _) = fn.next_functions
    assert bias_acc.variable is lin.bias and x_edge is None
    assert type(t_node).__name__ == "TBackward0"
    assert t_node.next_functions[0][0].variable is lin.weight


@pytest.mark.parametrize("make_loss,target", [
    (lambda nn: nn.MSELoss(), lambda: RNG.standard_normal((5, 3))),
    (lambda nn: nn.MSELoss(reduction="sum"), lambda: RNG.standard_normal((5, 3))),
    (lambda nn: nn.L1Loss(), lambda: RNG.standard_normal((5, 3))),
    (lambda nn: nn.CrossEntropyLoss(), lambda: RNG.integers(0, 3, 5)),
    (lambda nn: nn.CrossEntropyLoss(reduction="none", ignore_index=1),
     lambda: RNG.integers(0, 3, 5)),
    (lambda nn: nn.NLLLoss(), lambda: RNG.integers(0, 3, 5)),
])
def test_model_and_loss_graph_and_grads_match_torch(make_loss, target):
    t, e = twins(lambda lib: mlp(lib).double())
    x, y = RNG.standard_normal((5, 4)), target()
    losses = []
    for lib, model in ((torch, t), (engine, e)):
        out = model(lib.tensor(x))
        if isinstance(make_loss(lib.nn), lib.nn.NLLLoss):
            out = out.log_softmax(1)
        loss = make_loss(lib.nn)(out, lib.tensor(y))
        loss.sum().backward()
        losses.append(loss)
    assert name_chain(losses[1]) == name_chain(losses[0])
    assert_close(to_numpy(losses[1]), to_numpy(losses[0]), 1e-12, 1e-12)
    for (n, pe), (_, pt) in zip(e.named_parameters(), t.named_parameters()):
        assert_close(to_numpy(pe.grad), to_numpy(pt.grad), 1e-10, 1e-12, what=n)


def test_weighted_loss_module_keeps_weight_as_a_buffer():
    for lib in (torch, engine):
        crit = lib.nn.CrossEntropyLoss(weight=lib.tensor([1.0, 2.0, 3.0]))
        assert list(crit.state_dict()) == ["weight"]
    assert repr(engine.nn.CrossEntropyLoss(weight=engine.ones(3))) == "CrossEntropyLoss()"


def test_linear_initialisation_is_pytorchs_distribution_from_the_engine_stream():
    engine.manual_seed(3)
    a = engine.nn.Linear(50, 40)
    engine.manual_seed(3)
    b = engine.nn.Linear(50, 40)
    bound = 1 / math.sqrt(50)
    for p, q in zip(a.parameters(), b.parameters()):
        assert p.tolist() == q.tolist()
        vals = p.detach().numpy()
        assert np.all(np.abs(vals) <= bound) and vals.std() > bound / 3
    assert a.weight.shape == (40, 50) and a.bias.shape == (40,)
    assert a.weight.dtype == engine.float32
    assert engine.nn.Linear(2, 3, dtype=engine.float64).weight.dtype == engine.float64
    assert engine.nn.Linear(2, 3, bias=False).bias is None


# --- registration, attribute access, errors ---------------------------------------------------
def test_registration_follows_assignment():
    m = engine.nn.Module()
    m.w = engine.nn.Parameter(engine.ones(2))
    m.child = engine.nn.Linear(2, 2)
    m.register_buffer("running", engine.zeros(2))
    m.plain = engine.ones(2)  # a plain tensor is neither parameter nor buffer
    assert set(m._parameters) == {"w"} and set(m._modules) == {"child"}
    assert set(m._buffers) == {"running"}
    m.running = engine.ones(2)  # re-assigning a buffer keeps it a buffer
    assert m._buffers["running"].tolist() == [1.0, 1.0]
    m.w = None
    assert m.w is None and list(m.named_parameters())[0][0] == "child.weight"
    del m.child
    assert "child" not in m._modules
    m.child = engine.nn.Parameter(engine.ones(1))  # a parameter replaces the attribute kind
    assert "child" in m._parameters


@pytest.mark.parametrize("call", [
    lambda lib: lib.nn.Linear(2, 2).nope,
    lambda lib: setattr(lib.nn.Linear(2, 2), "weight", lib.ones(2, 2)),
    lambda lib: setattr(lib.nn.Sequential(lib.nn.ReLU()), "0", 3),
    lambda lib: lib.nn.Linear(2, 2).register_parameter("a.b", None),
    lambda lib: lib.nn.Linear(2, 2).register_parameter("x", lib.ones(1)),
    lambda lib: lib.nn.Linear(2, 2).register_parameter("weight2",
                                                       lib.nn.Parameter(lib.ones(1)) * 2),
    lambda lib: lib.nn.Linear(2, 2).register_buffer("training", lib.ones(1)),
    lambda lib: lib.nn.Linear(2, 2).add_module("x", 3),
    lambda lib: lib.nn.Module()(1),
    lambda lib: lib.nn.ModuleList([lib.nn.ReLU()])(1),
    lambda lib: lib.nn.Sequential(lib.nn.ReLU())[3],
    lambda lib: lib.nn.Linear(2, 2).train("yes"),
    lambda lib: lib.nn.Linear(2, 2).to(lib.int64),
    lambda lib: lib.nn.Linear(3, 2)(lib.ones(4, 2)),
    lambda lib: lib.nn.Linear(3, 2)(lib.ones(5, 4, 2)),
    lambda lib: lib.nn.Linear(3, 2)(lib.ones(2)),
    lambda lib: lib.nn.Linear(3, 2)(lib.tensor(1.0)),
    lambda lib: lib.nn.Linear(3, 2, bias=False)(lib.tensor(1.0)),
    lambda lib: lib.nn.Linear(3, 2)(lib.ones(4, 3, dtype=lib.float64)),
])
def test_module_errors_match_torch(call):
    same_error(call)


def test_assignment_before_init_fails_like_torch():
    for what in ("param", "module"):
        def fn(lib, what=what):
            class Early(lib.nn.Module):
                def __init__(self):
                    if what == "param":
                        self.w = lib.nn.Parameter(lib.ones(1))
                    else:
                        self.m = lib.nn.ReLU()
                    super().__init__()

            return Early()

        same_error(fn)


def test_missing_pieces_fail_with_one_clear_line():
    with pytest.raises(engine.NotImplementedByEngine,
                       match="^gradviz's engine does not implement torch.nn.Conv2d$"):
        engine.nn.Conv2d(1, 1, 3)
    with pytest.raises(engine.NotImplementedByEngine,
                       match="does not implement torch.nn.functional.conv2d$"):
        _ = engine.nn.functional.conv2d
    with pytest.raises(engine.NotImplementedByEngine,
                       match="does not implement torch.nn.Module.register_full_backward_hook"):
        engine.nn.Linear(1, 1).register_full_backward_hook(print)
    assert not hasattr(engine.nn, "Dropout")  # an AttributeError subclass: hasattr works


# --- state_dict ------------------------------------------------------------------------------
def test_state_dict_values_are_detached_and_shared():
    lin = engine.nn.Linear(2, 2)
    sd = lin.state_dict()
    assert isinstance(sd, OrderedDict) and list(sd) == ["weight", "bias"]
    assert not sd["weight"].requires_grad
    sd["weight"].zero_()
    assert lin.weight.abs().sum().item() == 0  # same storage, as in torch
    assert lin.state_dict(keep_vars=True)["weight"] is lin.weight


def test_load_state_dict_copies_in_place_and_keeps_parameter_objects():
    t, e = twins(mlp)
    w = e[0].weight
    version = w._version_counter
    copy_weights(t, e)
    assert e[0].weight is w and w._version_counter == version + 1
    assert_close(to_numpy(e[0].weight), to_numpy(t[0].weight), 0, 0)


@pytest.mark.parametrize("edit", [
    lambda sd, lib: sd.pop("0.bias"),
    lambda sd, lib: sd.__setitem__("extra", lib.zeros(1)),
    lambda sd, lib: sd.__setitem__("5.weight", lib.zeros(1)),
    lambda sd, lib: sd.__setitem__("0.weight", lib.zeros(2, 2)),
    lambda sd, lib: sd.__setitem__("0.weight", np.zeros((6, 4))),
    lambda sd, lib: (sd.pop("2.bias"), sd.__setitem__("2.extra", lib.zeros(1))),
])
def test_load_state_dict_errors_match_torch(edit):
    def fn(lib):
        model = mlp(lib)
        sd = model.state_dict()
        edit(sd, lib)
        model.load_state_dict(sd)

    same_error(fn)


def test_load_state_dict_non_strict_reports_keys_like_torch():
    results = []
    for lib in (torch, engine):
        model = mlp(lib)
        sd = model.state_dict()
        sd.pop("0.bias")
        sd["extra"] = lib.zeros(1)
        results.append(model.load_state_dict(sd, strict=False))
    assert repr(results[1]) == repr(results[0])
    assert results[1].missing_keys == ["0.bias"] and results[1].unexpected_keys == ["extra"]


# --- modes, zero_grad, devices and dtypes ----------------------------------------------------
def test_train_eval_reach_every_submodule():
    m = Custom.make(engine)
    assert m.training and all(c.training for c in m.modules())
    assert m.eval() is m
    assert not any(c.training for c in m.modules())
    m.train()
    assert all(c.training for c in m.modules())


class Recorder:
    def __init__(self):
        self.zeroed = []

    def grad_did_zero(self, tensor, how):
        self.zeroed.append((tensor, how))


def test_module_zero_grad_drops_or_zeroes_and_tells_listeners():
    model = mlp(engine)
    model(engine.randn(2, 4)).sum().backward()
    params = list(model.parameters())
    grads = [p.grad for p in params]
    with events.listening(Recorder()) as rec:
        model.zero_grad(set_to_none=False)
    assert [p.grad for p in params] == grads  # same tensors, zeroed in place
    assert all(g.abs().sum().item() == 0 for g in grads)
    assert rec.zeroed == [(p, "module.zero_grad()") for p in params]
    with events.listening(Recorder()) as rec:
        model.zero_grad()
    assert all(p.grad is None for p in params)
    assert rec.zeroed == [(p, "module.zero_grad()") for p in params]
    with events.listening(Recorder()) as rec:
        model.zero_grad()  # nothing left to clear: no events
    assert rec.zeroed == []


def test_requires_grad_toggles_every_parameter():
    model = mlp(engine).requires_grad_(False)
    assert not any(p.requires_grad for p in model.parameters())
    assert model(engine.randn(2, 4)).grad_fn is None


def test_double_float_and_to_convert_in_place_keeping_parameter_objects():
    model = Custom.make(engine)
    model(engine.randn(2, 3)).sum().backward()
    params = list(model.parameters())
    assert model.double() is model
    assert list(model.parameters()) == params
    assert all(p.dtype == engine.float64 and p.grad.dtype == engine.float64 for p in params)
    assert model.steps.dtype == engine.float64
    assert all(isinstance(p, engine.nn.Parameter) for p in model.parameters())
    model.float()
    assert all(p.dtype == engine.float32 for p in model.parameters())
    model.to(engine.float64)
    assert model.encoder[0].weight.dtype == engine.float64
    model.to("cpu").cpu()
    assert model.encoder[0].weight.device == engine.device("cpu")
    out = model(engine.randn(2, 3, dtype=engine.float64))
    assert out.dtype == engine.float64


def test_forward_hooks_behave_like_torch():
    results = []
    for lib in (torch, engine):
        lin = lib.nn.Linear(2, 2)
        lin.load_state_dict({"weight": lib.eye(2), "bias": lib.zeros(2)})
        seen = []
        h1 = lin.register_forward_pre_hook(lambda m, args: (args[0] * 2,))
        h2 = lin.register_forward_hook(lambda m, args, out: out + 1)
        h3 = lin.register_forward_hook(
            lambda m, args, out, seen=seen: seen.append(args[0].tolist()), prepend=True)
        with torch.no_grad(), engine.no_grad():
            first = lin(lib.ones(1, 2)).tolist()
            h1.remove()
            h2.remove()
            h3.remove()
            second = lin(lib.ones(1, 2)).tolist()
        results.append((first, second, seen))
    assert results[1] == results[0]


def test_forward_hooks_with_kwargs():
    lin = engine.nn.Linear(2, 2)
    calls = []
    lin.register_forward_pre_hook(lambda m, a, kw: calls.append(("pre", kw)) or None,
                                  with_kwargs=True)
    lin.register_forward_hook(lambda m, a, kw, out: calls.append(("post", kw)) or None,
                              with_kwargs=True)
    lin(input=engine.ones(2))
    assert [c[0] for c in calls] == ["pre", "post"] and "input" in calls[0][1]


# --- containers --------------------------------------------------------------------------------
def test_sequential_indexing_and_editing_like_torch():
    def ops(lib):
        nn = lib.nn
        s = nn.Sequential(nn.Linear(1, 2), nn.ReLU(), nn.Linear(2, 3))
        out = [len(s), type(s[-1]).__name__, repr(s[1:]), [type(m).__name__ for m in s]]
        s.append(nn.Tanh())
        s.insert(1, nn.Sigmoid())
        del s[0]
        s[0] = nn.Identity()
        s.extend(nn.Sequential(nn.ReLU()))
        s += nn.Sequential(nn.Tanh())
        popped = s.pop(-1)
        out += [repr(s), type(popped).__name__, repr(s + nn.Sequential(nn.ReLU()))]
        out += [[n for n, _ in s.named_parameters()]]
        return out

    assert ops(engine) == ops(torch)


def test_module_list_indexing_and_editing_like_torch():
    def ops(lib):
        nn = lib.nn
        ml = nn.ModuleList([nn.Linear(1, 1) for _ in range(3)])
        ml.append(nn.ReLU())
        ml.extend([nn.Tanh()])
        ml.insert(0, nn.Sigmoid())
        del ml[1]
        out = [len(ml), repr(ml), repr(ml[1:3]), [n for n, _ in ml.named_parameters()]]
        return out

    assert ops(engine) == ops(torch)


# --- nn.init ---------------------------------------------------------------------------------
def test_init_fills_in_place_without_recording_a_graph():
    w = engine.nn.Parameter(engine.empty(30, 20))
    for fn, args in ((engine.nn.init.zeros_, ()), (engine.nn.init.ones_, ()),
                     (engine.nn.init.constant_, (0.25,)), (engine.nn.init.normal_, (0.0, 0.1)),
                     (engine.nn.init.uniform_, (-0.5, 0.5)),
                     (engine.nn.init.xavier_uniform_, ()), (engine.nn.init.xavier_normal_, ()),
                     (engine.nn.init.kaiming_uniform_, ()),
                     (engine.nn.init.kaiming_normal_, ())):
        before = w._version_counter
        assert fn(w, *args) is w
        assert w.is_leaf and w.grad_fn is None and w._version_counter == before + 1
    vals = engine.nn.init.uniform_(w, -0.5, 0.5).detach().numpy()
    assert vals.min() >= -0.5 and vals.max() < 0.5
    a = math.sqrt(6 / 50)
    vals = engine.nn.init.xavier_uniform_(w).detach().numpy()
    assert np.abs(vals).max() <= a and vals.std() > a / 3
    assert engine.nn.init.constant_(w, 0.25).detach().numpy().tolist() == [[0.25] * 20] * 30


@pytest.mark.parametrize("name,param", [("linear", None), ("sigmoid", None), ("tanh", None),
                                        ("relu", None), ("leaky_relu", None),
                                        ("leaky_relu", 0.2), ("selu", None)])
def test_calculate_gain_matches_torch(name, param):
    assert engine.nn.init.calculate_gain(name, param) == torch.nn.init.calculate_gain(name, param)


@pytest.mark.parametrize("call", [
    lambda lib: lib.nn.init.kaiming_uniform_(lib.zeros(3)),
    lambda lib: lib.nn.init.kaiming_uniform_(lib.zeros(3, 3), mode="fan_avg"),
    lambda lib: lib.nn.init.calculate_gain("swish"),
])
def test_init_errors_match_torch(call):
    same_error(call)


def test_zero_element_init_warns_like_torch():
    texts = []
    for lib in (torch, engine):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            lib.nn.init.kaiming_uniform_(lib.zeros(0, 3))
        texts.append([str(w.message) for w in caught])
    assert texts[0] == texts[1] == ["Initializing zero-element tensors is a no-op"]


# --- a net that learns -----------------------------------------------------------------------
def test_two_layer_net_with_sequential_and_sgd_learns():
    nn = engine.nn
    engine.manual_seed(0)
    x = engine.randn(64, 3)
    y = (x * engine.tensor([1.5, -2.0, 0.5])).sum(1, keepdim=True)
    model = nn.Sequential(nn.Linear(3, 16), nn.ReLU(), nn.Linear(16, 1))
    opt = engine.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    loss_fn = nn.MSELoss()
    losses = []
    for _ in range(60):
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.05 * losses[0]
    assert loss.grad_fn.name() == "MseLossBackward0"
