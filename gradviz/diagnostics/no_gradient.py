"""``no-gradient``: a leaf that requires grad, was used in the forward pass, and received no
gradient: it reached the loss only as a constant, through ``.data``, ``.detach()`` (a
``.numpy()`` round trip starts with one), or operations run under ``torch.no_grad()``.

The engine's events show only what autograd records, and these paths record nothing, so
while the diagnostician is attached three entry points of the engine are wrapped (and put
back on ``uninstall``), each costing one flag test when it is not relevant:

- ``Tensor.detach`` and ``Tensor.data`` with grad mode on, on a tensor that requires grad:
  a leaf is *used detached* at that line; for a non-leaf, every leaf behind it is, unless
  the next backward reaches the detached node anyway (``loss.detach()`` for logging).
- ``torch.no_grad().__enter__`` with grad mode on: the ``with`` block's source is read
  once (Python's ``ast``) for the tensors it reads and the modules it calls; the leaves
  among them that require grad are *used without recording*.

A leaf used like this that then gets no gradient for ``no_gradient_steps`` backward passes
(or in any later backward of the run, judged at its end) is reported, but only when it was
meant to learn: a plain tensor created with ``requires_grad=True``, a leaf the script
updates in place, or a parameter handed to an optimizer. Frozen parts (a pretrained
backbone run under ``no_grad`` and left out of the optimizer) raise nothing.
"""

from __future__ import annotations

import ast
import linecache
import os
import sys
import weakref

import engine
from engine._grad_mode import GRAD_MODE, no_grad
from engine._tensor import Tensor
from engine.autograd.graph import AccumulateGrad

from ..naming import user_frame, user_frames
from ..trace import Source
from .context import at

_ENGINE_DIR = os.path.dirname(os.path.abspath(engine.__file__)) + os.sep
MAX_CUTS = 1000  # detached non-leaves remembered per step
MAX_WALK = 20_000  # nodes walked behind one detached non-leaf
# attributes that read a tensor's metadata, not its values
META = frozenset({"shape", "dtype", "device", "requires_grad", "is_leaf", "grad_fn", "grad",
                  "ndim", "size", "dim", "numel", "is_cuda", "layout", "names"})
NO_GRAD_NAMES = ("no_grad", "inference_mode")


class _Candidate:
    __slots__ = ("ref", "plain", "name", "how", "source", "steps", "silenced")

    def __init__(self, leaf, name, how, source):
        from engine.nn import Parameter

        self.ref = weakref.ref(leaf)
        self.plain = not isinstance(leaf, Parameter)  # made with requires_grad=True on purpose
        self.name = name
        self.how = how
        self.source = source
        self.steps = 0
        self.silenced = False


class NoGradient:
    def __init__(self, diag):
        self.diag = diag
        self.steps_needed = max(1, diag.thresholds.no_gradient_steps)
        self._candidates: dict[int, _Candidate] = {}
        self._cuts: list = []  # (detached non-leaf's node, how, source)
        self._updated: set[int] = set()  # ids of leaves the script updated in place
        self._regions: dict = {}  # (file, line) of a no_grad block -> [(kind, chain, line)]
        self._trees: dict = {}  # file -> ast.Module | None
        self._saved: dict = {}

    # --- wrapping the engine ----------------------------------------------------------------
    def install(self) -> None:
        if self._saved:
            return
        data = Tensor.__dict__["data"]
        detach = Tensor.__dict__["detach"]
        enter = no_grad.__dict__.get("__enter__")
        inherited_enter = no_grad.__enter__
        self._saved = {"data": data, "detach": detach, "enter": enter}
        seen = self

        def data_get(t):
            if t.requires_grad_flag and GRAD_MODE.enabled:
                seen._detached(t, ".data")
            return data.fget(t)

        def detach_(t):
            if t.requires_grad_flag and GRAD_MODE.enabled:
                seen._detached(t, ".detach()")
            return detach(t)

        def enter_(ctx):
            was = GRAD_MODE.enabled
            result = inherited_enter(ctx)
            if was and not GRAD_MODE.enabled:
                seen._entered(sys._getframe(1))
            return result

        detach_.__doc__, detach_.__name__ = detach.__doc__, "detach"
        Tensor.data = property(data_get, data.fset, data.fdel, data.__doc__)
        Tensor.detach = detach_
        no_grad.__enter__ = enter_

    def uninstall(self) -> None:
        if not self._saved:
            return
        Tensor.data = self._saved["data"]
        Tensor.detach = self._saved["detach"]
        if self._saved["enter"] is None:
            del no_grad.__enter__
        else:
            no_grad.__enter__ = self._saved["enter"]
        self._saved = {}

    # --- evidence of use ----------------------------------------------------------------------
    def _detached(self, t, how: str) -> None:
        if t.grad_fn is None and t._grad is not None:
            return  # a leaf that has had a gradient (``w.data -= lr * w.grad.data``)
        caller = sys._getframe(2)
        if caller.f_code.co_filename.startswith(_ENGINE_DIR):
            return  # the engine's own (state_dict, Variable ...)
        frame = user_frame(caller)
        source = None if frame is None else Source(frame.f_code.co_filename, frame.f_lineno,
                                                   frame.f_code.co_name)
        if t.grad_fn is None:
            self._use(t, how, source)
        elif len(self._cuts) < MAX_CUTS:
            self._cuts.append((t.grad_fn, how, source))

    def _use(self, leaf, how: str, source) -> None:
        key = id(leaf)
        c = self._candidates.get(key)
        if c is not None and c.ref() is leaf:
            return
        if leaf._grad is not None:
            return  # it has had a gradient: it is connected somewhere
        self._candidates[key] = _Candidate(leaf, self.diag.view.leaf_name(leaf), how, source)

    def updated(self, leaf) -> None:
        self._updated.add(id(leaf))

    def _entered(self, frame) -> None:
        """A ``with torch.no_grad():`` block starts in ``frame``."""
        code = frame.f_code
        filename = code.co_filename
        if filename.startswith(_ENGINE_DIR):
            return  # a @no_grad function: its body is not at this line
        key = (filename, frame.f_lineno)
        uses = self._regions.get(key)
        if uses is None:
            uses = self._regions[key] = self._region_uses(filename, frame.f_lineno)
        if not uses:
            return
        scope = frame.f_locals
        globs = frame.f_globals
        keep = []
        for use in uses:
            kind, chain, line = use
            obj = _resolve(chain, scope, globs)
            if obj is None:
                continue
            source = Source(filename, line, code.co_name)
            if isinstance(obj, Tensor):
                if obj.requires_grad_flag and obj.grad_fn is None:
                    keep.append(use)
                    self._use(obj, "torch.no_grad()", source)
                continue
            module = _module_of(obj) if kind == "call" else None
            if module is not None:
                keep.append(use)
                for p in module.parameters():
                    if p.requires_grad_flag:
                        self._use(p, "torch.no_grad()", source)
        # what resolved to anything else (numbers, data without grad, functions) is dropped:
        # this block's next runs only look at what can matter
        uses[:] = keep

    def _region_uses(self, filename: str, line: int) -> list:
        tree = self._trees.get(filename, False)
        if tree is False:
            text = "".join(linecache.getlines(filename))
            try:
                tree = ast.parse(text) if text else None
            except SyntaxError:
                tree = None
            self._trees[filename] = tree
        if tree is None:
            return []
        for node in ast.walk(tree):
            if isinstance(node, (ast.With, ast.AsyncWith)) and node.body and \
                    node.lineno <= line < node.body[0].lineno and _turns_off_grad(node):
                finder = _Uses()
                for stmt in node.body:
                    finder.visit(stmt)
                return finder.uses
        return []

    # --- judging ------------------------------------------------------------------------------
    def backward_finished(self) -> None:
        if not self._candidates and not self._cuts:
            return
        view = self.diag.view
        if self._cuts:
            in_graph = view.node_ids()
            for node, how, source in self._cuts:
                if node not in in_graph:
                    for leaf in _leaves_behind(node):
                        if leaf.requires_grad_flag:
                            self._use(leaf, how + " of a result computed from it", source)
            self._cuts = []
        reached = {id(t) for _, t in view.leaves()}
        due = []
        for key, c in list(self._candidates.items()):
            leaf = c.ref()
            if leaf is None or key in reached:
                del self._candidates[key]
                continue
            c.steps += 1
            if c.steps >= self.steps_needed and not c.silenced:
                due.append((leaf, c))
        if due:
            self._judge(due)

    def run_finished(self) -> None:
        # a leaf that is gone with the script's variables is judged on what is known of it
        due = [(c.ref(), c) for c in self._candidates.values() if c.steps and not c.silenced]
        if due:
            self._judge(due)

    def _judge(self, due: list) -> None:
        """Report the leaves meant to learn, one finding per cause (line and way)."""
        optimized = None
        causes: dict = {}
        for leaf, c in due:
            c.silenced = True  # judged once
            meant = c.plain or (leaf is not None and id(leaf) in self._updated)
            if not meant and leaf is not None:
                if optimized is None:
                    optimized = _optimized_ids()
                meant = id(leaf) in optimized
            if meant:
                causes.setdefault((c.how, c.source), []).append(c)
        for (how, source), group in causes.items():
            names = [c.name for c in group]
            self.diag.report("no-gradient", _message(group[0], names), None, source,
                             key=(how, source, tuple(names)), node_name=names[0])


def _message(c: _Candidate, names: list[str]) -> str:
    where = f" at {at(c.source)}" if c.source else ""
    passes = f"{c.steps} backward pass{'es' if c.steps != 1 else ''}"
    if len(names) == 1:
        who, it, they, its, reaches = names[0], "it", "it", "its", "reaches"
        head = (f"{who} requires grad and is used in the forward pass, but it received no "
                f"gradient in {passes}: ")
    else:
        who, it, they, its, reaches = ", ".join(names[:-1]) + " and " + names[-1], "them", \
            "they", "their", "reach"
        head = (f"{who} require grad and are used in the forward pass, but they received no "
                f"gradient in {passes}: ")
    if c.how == "torch.no_grad()":
        return head + (
            f"{'it is' if it == 'it' else 'they are'} used inside a torch.no_grad() "
            f"block{where}, so the operations on {it} are not recorded and the loss does not "
            f"depend on {it} for autograd. Move that computation out of the no_grad block.")
    if c.how.startswith(".detach()") and c.how != ".detach()":
        return head + (
            f"a result computed from {it} is detached from the graph{where} (.detach(); a "
            f".numpy() round trip does the same), so {they} {reaches} the loss only as a "
            "constant. Keep that computation in torch operations without detach().")
    if c.how.startswith(".data") and c.how != ".data":
        return head + (
            f"a result computed from {it} is read through .data{where}, which leaves the "
            f"graph, so {they} {reaches} the loss only as a constant. Use the tensor itself.")
    name = names[0]
    return head + (
        f"`{name}{c.how}`{where} hands over {its} values without the graph, so {they} "
        f"{reaches} the loss only as a constant. Use {name} itself in the forward pass.")


# --- helpers -----------------------------------------------------------------------------------
def _turns_off_grad(node) -> bool:
    for item in node.items:
        expr = item.context_expr
        func = expr.func if isinstance(expr, ast.Call) else expr
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if name in NO_GRAD_NAMES:
            return True
    return False


def _chain(node) -> tuple | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return tuple(reversed(parts))
    return None


class _Uses(ast.NodeVisitor):
    """What a block reads: ("value", chain, line) for names and attribute chains it reads,
    ("call", chain, line) for what it calls. Assignment targets, in-place method calls
    (``w.zero_()``), ``.grad`` and metadata reads are left out: those are updates and
    bookkeeping, not uses in a forward pass."""

    def __init__(self):
        self.uses: list = []

    def visit_Assign(self, node):
        self.visit(node.value)

    def visit_AugAssign(self, node):
        self.visit(node.value)

    def visit_AnnAssign(self, node):
        if node.value is not None:
            self.visit(node.value)

    def visit_FunctionDef(self, node):
        pass  # defined here, run elsewhere

    visit_AsyncFunctionDef = visit_ClassDef = visit_Lambda = visit_FunctionDef

    def visit_Call(self, node):
        chain = _chain(node.func)
        if chain is None:
            self.visit(node.func)
        elif len(chain) > 1 and chain[-1].endswith("_") and not chain[-1].startswith("_"):
            pass  # w.add_(...), w.data.zero_(): updates the receiver
        else:
            self.uses.append(("call", chain, node.lineno))
            if len(chain) > 1:
                self._value(chain[:-1], node.lineno)
        for arg in node.args:
            self.visit(arg)
        for kw in node.keywords:
            self.visit(kw.value)

    def visit_Attribute(self, node):
        chain = _chain(node)
        if chain is None:
            self.generic_visit(node)
        else:
            self._value(chain, node.lineno)

    def visit_Name(self, node):
        if isinstance(node.ctx, ast.Load):
            self._value((node.id,), node.lineno)

    def _value(self, chain: tuple, line: int) -> None:
        if "grad" in chain[1:]:
            return
        self.uses.append(("value", chain, line))


def _resolve(chain: tuple, scope: dict, globs: dict):
    """The object a name chain denotes, stopping at the first tensor (``w1.T`` reads w1;
    ``w1.shape`` reads nothing); None when it is not there or only metadata is read."""
    first = chain[0]
    if first in scope:
        obj = scope[first]
    elif first in globs:
        obj = globs[first]
    else:
        return None
    for i, attr in enumerate(chain[1:], 1):
        if isinstance(obj, Tensor):
            return None if chain[i] in META else obj
        try:
            obj = getattr(obj, attr)
        except Exception:  # noqa: BLE001 - whatever an attribute does, it is not our concern
            return None
    return obj


def _module_of(obj):
    from engine.nn import Module

    if isinstance(obj, Module):
        return obj
    owner = getattr(obj, "__self__", None)  # model.forward, model.encoder.forward
    return owner if isinstance(owner, Module) else None


def _leaves_behind(node) -> list:
    """The leaf tensors an autograd node's graph reads (bounded walk)."""
    stack, seen, leaves = [node], {node}, []
    while stack and len(seen) < MAX_WALK:
        n = stack.pop()
        if type(n) is AccumulateGrad:
            leaves.append(n.variable)
            continue
        for nxt, _ in n.next_functions:
            if nxt is not None and nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return leaves


def _optimized_ids() -> set[int]:
    """Ids of the tensors in the optimizers the script holds (in ``__main__``, in the frames
    running now, or one attribute down from those)."""
    from engine.optim import Optimizer

    scopes = []
    main = sys.modules.get("__main__")
    if main is not None:
        scopes.append(vars(main))
    scopes.extend(f.f_locals for f in user_frames())
    ids: set[int] = set()

    def take(opt):
        for group in opt.param_groups:
            ids.update(id(p) for p in group["params"])

    for scope in scopes:
        for value in list(scope.values()):
            if isinstance(value, Optimizer):
                take(value)
            elif hasattr(value, "__dict__") and not isinstance(value, type):
                try:
                    attrs = list(vars(value).values())
                except TypeError:
                    continue
                for inner in attrs:
                    if isinstance(inner, Optimizer):
                        take(inner)
    return ids
