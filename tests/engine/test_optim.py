"""``engine.optim`` against real PyTorch: the same model, weights and data trained a few
steps with SGD / Adam in both libraries must give the same parameters after every step
(float64, tight tolerance); plus zero_grad, state dicts, reprs, errors and events."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest

import engine
from engine import events

from .reference import assert_close, to_numpy

torch = pytest.importorskip("torch")
RNG = np.random.default_rng(11)
X = RNG.standard_normal((16, 5))
Y = RNG.integers(0, 3, 16)


def model_of(lib):
    nn = lib.nn
    return nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 3)).double()


def twins():
    t, e = model_of(torch), model_of(engine)
    e.load_state_dict(OrderedDict(
        (k, engine.tensor(v.detach().numpy())) for k, v in t.state_dict().items()))
    return t, e


def train_step(lib, model, opt):
    opt.zero_grad()
    loss = lib.nn.functional.cross_entropy(model(lib.tensor(X)), lib.tensor(Y))
    loss.backward()
    opt.step()
    return loss


def assert_same_params(e, t, what=""):
    for (n, pe), (_, pt) in zip(e.named_parameters(), t.named_parameters()):
        assert_close(to_numpy(pe), to_numpy(pt), 1e-12, 1e-12, what=f"{what} {n}")


CONFIGS = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.1, "momentum": 0.9}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "dampening": 0.3, "weight_decay": 0.01}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.05}),
    ("SGD", {"lr": 0.05, "momentum": 0.5, "maximize": True}),
    ("Adam", {}),
    ("Adam", {"lr": 0.01, "betas": (0.8, 0.99), "eps": 1e-6}),
    ("Adam", {"lr": 0.01, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.01, "amsgrad": True}),
    ("Adam", {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("Adam", {"lr": 0.01, "maximize": True}),
    ("Adam", {"lr": 0.01, "betas": (0.3, 0.9)}),  # 1 - beta1 >= 0.5: lerp's other formula
]


@pytest.mark.parametrize("name,kwargs", CONFIGS)
def test_training_steps_match_torch(name, kwargs):
    t, e = twins()
    ot = getattr(torch.optim, name)(t.parameters(), **kwargs)
    oe = getattr(engine.optim, name)(e.parameters(), **kwargs)
    for step in range(6):
        lt, le = train_step(torch, t, ot), train_step(engine, e, oe)
        assert_close(to_numpy(le), to_numpy(lt), 1e-12, 1e-12, what=f"loss {step}")
        assert_same_params(e, t, f"step {step}")


def test_param_groups_with_their_own_options_match_torch():
    t, e = twins()
    opts = []
    for lib, model in ((torch, t), (engine, e)):
        opts.append(lib.optim.SGD([
            {"params": model[0].parameters()},
            {"params": model[2].parameters(), "lr": 0.5, "momentum": 0.0},
        ], lr=0.1, momentum=0.9))
    for _ in range(3):
        train_step(torch, t, opts[0])
        train_step(engine, e, opts[1])
    assert_same_params(e, t)
    assert repr(opts[1]) == repr(opts[0])


def test_lr_changed_between_steps_is_used():
    t, e = twins()
    ot, oe = torch.optim.Adam(t.parameters(), lr=0.1), engine.optim.Adam(e.parameters(), lr=0.1)
    for step in range(4):
        for opt in (ot, oe):
            opt.param_groups[0]["lr"] = 0.1 / (step + 1)
        train_step(torch, t, ot)
        train_step(engine, e, oe)
    assert_same_params(e, t)


def test_parameters_without_grad_are_skipped():
    e = model_of(engine)
    opt = engine.optim.Adam(e.parameters(), lr=0.1)
    e[2](engine.randn(2, 8, dtype=engine.float64)).sum().backward()  # only the last layer
    before = [p.tolist() for p in e[0].parameters()]
    opt.step()
    assert [p.tolist() for p in e[0].parameters()] == before
    assert set(opt.state) == set(e[2].parameters())


def test_step_updates_in_place_under_no_grad_and_tells_listeners():
    class Recorder:
        def __init__(self):
            self.changes = []

        def tensor_did_change_inplace(self, tensor, op):
            self.changes.append((tensor, op))

    for opt_cls, op in ((engine.optim.SGD, "add_"), (engine.optim.Adam, "addcdiv_")):
        model = model_of(engine)
        params = list(model.parameters())
        opt = opt_cls(params, lr=0.1)
        train_step(engine, model, opt)
        versions = [p._version_counter for p in params]
        datas = [p._data for p in params]
        model(engine.tensor(X)).sum().backward()
        with events.listening(Recorder()) as rec:
            opt.step()
        assert rec.changes == [(p, op) for p in params]
        assert [p._version_counter for p in params] == [v + 1 for v in versions]
        assert all(p._data is d for p, d in zip(params, datas))  # same storage
        assert all(p.is_leaf and p.grad_fn is None for p in params)


def test_optimizer_zero_grad_drops_or_zeroes_and_tells_listeners():
    class Recorder:
        def __init__(self):
            self.zeroed = []

        def grad_did_zero(self, tensor, how):
            self.zeroed.append((tensor, how))

    model = model_of(engine)
    params = list(model.parameters())
    opt = engine.optim.SGD(params, lr=0.1)
    model(engine.tensor(X)).sum().backward()
    grads = [p.grad for p in params]
    with events.listening(Recorder()) as rec:
        opt.zero_grad(set_to_none=False)
    assert [p.grad for p in params] == grads
    assert all(g.abs().sum().item() == 0 for g in grads)
    assert rec.zeroed == [(p, "optimizer.zero_grad()") for p in params]
    model(engine.tensor(X)).sum().backward()  # accumulates into the zeroed buffers
    assert [p.grad for p in params] == grads
    with events.listening(Recorder()) as rec:
        opt.zero_grad()
    assert all(p.grad is None for p in params)
    assert rec.zeroed == [(p, "optimizer.zero_grad()") for p in params]


def test_closure_is_run_with_grad_and_its_loss_returned():
    for opt_cls in (engine.optim.SGD, engine.optim.Adam):
        model = model_of(engine)
        opt = opt_cls(model.parameters(), lr=0.1)

        def closure(model=model, opt=opt):
            opt.zero_grad()
            loss = model(engine.tensor(X)).pow(2).mean()
            loss.backward()
            return loss

        with engine.no_grad():
            loss = opt.step(closure)
        assert loss.grad_fn is not None


# --- state dicts --------------------------------------------------------------------------------
@pytest.mark.parametrize("name,kwargs", [("SGD", {"lr": 0.1, "momentum": 0.9}),
                                         ("Adam", {"lr": 0.01, "amsgrad": True})])
def test_state_dict_matches_torch_and_resumes_training(name, kwargs):
    t, e = twins()
    ot = getattr(torch.optim, name)(t.parameters(), **kwargs)
    oe = getattr(engine.optim, name)(e.parameters(), **kwargs)
    for _ in range(2):
        train_step(torch, t, ot)
        train_step(engine, e, oe)
    st, se = ot.state_dict(), oe.state_dict()
    assert se["param_groups"] == st["param_groups"]
    assert se["state"].keys() == st["state"].keys()
    for i in st["state"]:
        assert se["state"][i].keys() == st["state"][i].keys()
        for k in st["state"][i]:
            got, want = se["state"][i][k], st["state"][i][k]
            assert got.dtype.__repr__() == repr(want.dtype) and tuple(got.shape) == want.shape
            assert_close(to_numpy(got), to_numpy(want), 1e-12, 1e-12, what=k)

    # a fresh optimizer loaded from the state dict continues exactly like torch's
    oe2 = getattr(engine.optim, name)(e.parameters(), lr=123.0)
    oe2.load_state_dict(se)
    assert oe2.param_groups[0]["lr"] == kwargs["lr"]
    assert oe2.param_groups[0]["params"] == list(e.parameters())
    for _ in range(2):
        train_step(torch, t, ot)
        train_step(engine, e, oe2)
    assert_same_params(e, t)


def test_load_state_dict_errors_match_torch():
    for lib in (torch, engine):
        model = model_of(lib)
        opt = lib.optim.SGD(model.parameters(), lr=0.1)
        sd = opt.state_dict()
        sd["param_groups"] = sd["param_groups"] * 2
        with pytest.raises(ValueError, match="different number of parameter groups"):
            opt.load_state_dict(sd)
        sd = opt.state_dict()
        sd["param_groups"][0]["params"] = sd["param_groups"][0]["params"][:1]
        with pytest.raises(ValueError, match="doesn't match the size of optimizer's group"):
            opt.load_state_dict(sd)


# --- reprs and errors ----------------------------------------------------------------------------
@pytest.mark.parametrize("name,kwargs", [("SGD", {"lr": 0.1, "momentum": 0.9}), ("Adam", {}),
                                         ("Adam", {"betas": (0.5, 0.6), "amsgrad": True})])
def test_repr_matches_torch(name, kwargs):
    assert repr(getattr(engine.optim, name)(model_of(engine).parameters(), **kwargs)) == \
        repr(getattr(torch.optim, name)(model_of(torch).parameters(), **kwargs))


def _nonleaf(lib):
    return [lib.ones(2, requires_grad=True) * 2]


@pytest.mark.parametrize("call", [
    lambda lib: lib.optim.SGD([], lr=0.1),
    lambda lib: lib.optim.SGD(lib.ones(2, requires_grad=True), lr=0.1),
    lambda lib: lib.optim.SGD([lib.ones(2, requires_grad=True)], lr=-1.0),
    lambda lib: lib.optim.SGD([lib.ones(2, requires_grad=True)], lr=0.1, momentum=-1),
    lambda lib: lib.optim.SGD([lib.ones(2, requires_grad=True)], lr=0.1, weight_decay=-1),
    lambda lib: lib.optim.SGD([lib.ones(2, requires_grad=True)], lr=0.1, nesterov=True),
    lambda lib: lib.optim.SGD(_nonleaf(lib), lr=0.1),
    lambda lib: lib.optim.SGD([1.0], lr=0.1),
    lambda lib: lib.optim.SGD([{"params": {lib.ones(2, requires_grad=True)}}], lr=0.1),
    lambda lib: lib.optim.Adam([lib.ones(2, requires_grad=True)], lr=-1.0),
    lambda lib: lib.optim.Adam([lib.ones(2, requires_grad=True)], eps=-1.0),
    lambda lib: lib.optim.Adam([lib.ones(2, requires_grad=True)], betas=(1.0, 0.9)),
    lambda lib: lib.optim.Adam([lib.ones(2, requires_grad=True)], betas=(0.9, -0.1)),
    lambda lib: lib.optim.Adam([lib.ones(2, requires_grad=True)], weight_decay=-1.0),
])
def test_constructor_errors_match_torch(call):
    with pytest.raises(Exception) as expected:
        call(torch)
    with pytest.raises(type(expected.value)) as got:
        call(engine)
    assert str(got.value) == str(expected.value)


def test_a_parameter_in_two_groups_is_refused_like_torch():
    for lib in (torch, engine):
        p = lib.ones(2, requires_grad=True)
        with pytest.raises(ValueError,
                           match="^some parameters appear in more than one parameter group$"):
            lib.optim.SGD([{"params": [p]}, {"params": [p]}], lr=0.1)


def test_missing_optimizers_fail_with_one_clear_line():
    with pytest.raises(engine.NotImplementedByEngine,
                       match="^gradviz's engine does not implement torch.optim.RMSprop$"):
        _ = engine.optim.RMSprop
