"""``no-gradient``: a leaf that requires grad, was used in the forward pass, and received no
gradient: it reached the loss only as a constant, through ``.data``, ``.detach()`` (a
``.numpy()`` round trip starts with one), ``.item()`` / ``float()`` / ``.tolist()``, or
operations run under ``torch.no_grad()`` or ``torch.set_grad_enabled(False)``.

The engine's events show only what autograd records, and these paths record nothing, so
while the diagnostician is attached a few entry points of the engine are wrapped (and put
back on ``uninstall``), each costing one flag test when it is not relevant:

- ``Tensor.detach``, ``Tensor.data``, ``Tensor.item``, ``.tolist()`` and ``float(tensor)``
  with grad mode on, on a tensor that requires grad: a leaf is *used detached* at that line; for a
  non-leaf, every leaf behind it is, unless a backward reaches the detached node anyway
  (``loss.item()`` or ``loss.detach()`` for logging, before or after its backward).
- ``torch.no_grad().__enter__`` (or ``torch.set_grad_enabled(False)``'s) with grad mode on:
  the ``with`` block's source (or, for ``@torch.no_grad()`` on a function, the
  function's) is read once (Python's ``ast``) for the tensors it reads and the modules it
  calls; the leaves among them that require grad are *used without recording*.

A leaf used like this that then gets no gradient for ``no_gradient_steps`` backward passes
(or in any later backward of the run, judged at its end) is reported, but only when it was
meant to learn: a plain tensor created with ``requires_grad=True``, or a parameter handed to
an optimizer. Frozen parts (a pretrained backbone run under ``no_grad`` and left out of the
optimizer, a mean teacher that follows its student by moving averages of its weights) raise
nothing.
"""

from __future__ import annotations

import ast
import inspect
import linecache
import os
import sys
import textwrap
import weakref

import engine
from engine._grad_mode import GRAD_MODE, no_grad, set_grad_enabled
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
NO_GRAD_NAMES = ("no_grad", "inference_mode", "set_grad_enabled")
# how a message names the region a leaf was used in with grad mode off
NO_GRAD, GRAD_DISABLED = "torch.no_grad()", "torch.set_grad_enabled(False)"
# the ways out of the graph that are wrapped: Tensor attribute -> how a message names it
WRAPPED = {"detach": ".detach()", "item": ".item()", "__float__": "float()",
           "tolist": ".tolist()"}


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
        # (id(code), instruction) of a no_grad block -> (code, [(kind, chain, line)])
        self._regions: dict = {}
        self._functions: dict = {}  # code of a @no_grad function -> (signature, uses)
        self._trees: dict = {}  # file -> ast.Module | None
        self._saved: dict = {}

    # --- wrapping the engine ----------------------------------------------------------------
    def install(self) -> None:
        if self._saved:
            return
        data = Tensor.__dict__["data"]
        enter = no_grad.__dict__.get("__enter__")
        inherited_enter = no_grad.__enter__
        switch_enter = set_grad_enabled.__dict__["__enter__"]
        self._saved = {"data": data, "enter": enter, "switch_enter": switch_enter}
        seen = self

        def data_get(t):
            if t.requires_grad_flag and GRAD_MODE.enabled:
                seen._detached(t, ".data")
            return data.fget(t)

        def wrap(original, how):
            def wrapper(t, *args, **kwargs):
                if t.requires_grad_flag and GRAD_MODE.enabled:
                    seen._detached(t, how)
                return original(t, *args, **kwargs)

            wrapper.__doc__, wrapper.__name__ = original.__doc__, original.__name__
            return wrapper

        regions = self._regions

        def turned_off(frame, how: str) -> None:
            """Grad mode went off for the block starting in ``frame``."""
            code = frame.f_code
            # (a training loop's update block, once read: nothing in it to look at)
            entry = regions.get((id(code), frame.f_lasti))
            if entry is None or entry[1] or entry[0] is not code:
                seen._entered(frame, how)

        def enter_(ctx):
            was = GRAD_MODE.enabled
            result = inherited_enter(ctx)
            if was and not GRAD_MODE.enabled:
                turned_off(sys._getframe(1), NO_GRAD)
            return result

        def switch_enter_(ctx):
            # ``with torch.set_grad_enabled(False):`` switched grad mode off when it was made
            result = switch_enter(ctx)
            if ctx._prev and not ctx._target:
                turned_off(sys._getframe(1), GRAD_DISABLED)
            return result

        Tensor.data = property(data_get, data.fset, data.fdel, data.__doc__)
        for attr, how in WRAPPED.items():
            self._saved[attr] = Tensor.__dict__[attr]
            setattr(Tensor, attr, wrap(Tensor.__dict__[attr], how))
        no_grad.__enter__ = enter_
        set_grad_enabled.__enter__ = switch_enter_

    def uninstall(self) -> None:
        if not self._saved:
            return
        Tensor.data = self._saved["data"]
        for attr in WRAPPED:
            setattr(Tensor, attr, self._saved[attr])
        if self._saved["enter"] is None:
            del no_grad.__enter__
        else:
            no_grad.__enter__ = self._saved["enter"]
        set_grad_enabled.__enter__ = self._saved["switch_enter"]
        self._saved = {}

    # --- evidence of use ----------------------------------------------------------------------
    def _detached(self, t, how: str) -> None:
        fn = t.grad_fn
        if fn is None:
            if t._grad is not None:
                return  # a leaf that has had a gradient (``w.data -= lr * w.grad.data``)
        elif fn in self.diag.view.node_ids():
            return  # part of the graph a backward just went through (``loss.item()``)
        caller = sys._getframe(2)
        if caller.f_code.co_filename.startswith(_ENGINE_DIR):
            return  # the engine's own (state_dict, Variable, float() calling item() ...)
        frame = user_frame(caller)
        source = None if frame is None else Source(frame.f_code.co_filename, frame.f_lineno,
                                                   frame.f_code.co_name)
        if fn is None:
            self._use(t, how, source)
        elif len(self._cuts) < MAX_CUTS:
            self._cuts.append((fn, how, source))

    def _use(self, leaf, how: str, source) -> None:
        if leaf._grad is not None:
            return  # it has had a gradient: it is connected somewhere
        key = id(leaf)
        c = self._candidates.get(key)
        if c is not None and c.ref() is leaf:
            return
        self._candidates[key] = _Candidate(leaf, self.diag.view.leaf_name(leaf), how, source)

    def _entered(self, frame, how: str = NO_GRAD) -> None:
        """A ``with torch.no_grad():`` block (``how``: or ``set_grad_enabled(False)``) starts
        in ``frame`` (or a function decorated with ``@torch.no_grad()`` is called: ``frame``
        is then the engine's wrapper)."""
        code = frame.f_code
        if code.co_filename.startswith(_ENGINE_DIR):
            self._entered_function(frame)
            return
        key = (id(code), frame.f_lasti)  # (cheaper than the line: no line table to walk)
        entry = self._regions.get(key)
        if entry is None or entry[0] is not code:
            entry = self._regions[key] = (code, self._block_uses(code.co_filename,
                                                                 frame.f_lineno))
        uses = entry[1]
        if uses:
            self._resolve_uses(uses, frame.f_locals, frame.f_globals, code, how)

    def _entered_function(self, frame) -> None:
        """``@torch.no_grad()``: the decorated function's body is the block; its arguments
        and closure are its scope."""
        scope = frame.f_locals
        fn = scope.get("fn")
        code = getattr(fn, "__code__", None)
        if code is None or code.co_filename.startswith(_ENGINE_DIR):
            return
        entry = self._functions.get(code)
        if entry is None:
            try:
                signature = inspect.signature(fn)
            except (TypeError, ValueError):
                signature = None
            entry = self._functions[code] = (
                signature, self._function_uses(code.co_filename, code.co_firstlineno))
        signature, uses = entry
        if not uses or signature is None:
            return
        try:
            local = dict(signature.bind(*scope.get("args", ()),
                                        **scope.get("kwargs", {})).arguments)
        except TypeError:
            return
        for name, cell in zip(code.co_freevars, fn.__closure__ or ()):
            try:
                local.setdefault(name, cell.cell_contents)
            except ValueError:  # an empty cell
                pass
        self._resolve_uses(uses, local, fn.__globals__, code)

    def _resolve_uses(self, uses: list, scope: dict, globs: dict, code,
                      how: str = NO_GRAD) -> None:
        keep = []
        for use in uses:
            kind, chain, line = use
            obj = _resolve(chain, scope, globs)
            if obj is None:
                continue
            if isinstance(obj, Tensor):
                if obj.requires_grad_flag and obj.grad_fn is None:
                    keep.append(use)
                    if obj._grad is None:
                        self._use(obj, how, Source(code.co_filename, line, code.co_name))
                continue
            module = _module_of(obj) if kind == "call" else None
            if module is not None:
                keep.append(use)
                source = None
                for p in module.parameters():
                    if p.requires_grad_flag and p._grad is None:
                        source = source or Source(code.co_filename, line, code.co_name)
                        self._use(p, how, source)
        # what resolved to anything else (numbers, data without grad, functions) is dropped:
        # this block's next runs only look at what can matter
        if len(keep) != len(uses):
            uses[:] = keep

    def _statement_at(self, filename: str, line: int, kinds: tuple):
        """The statement of one of ``kinds`` (``ast.With``, ``ast.FunctionDef``, ...) that
        starts at ``line``: its lines alone are parsed (a whole script takes a millisecond
        or more), the whole file only where they do not parse on their own."""
        lines = linecache.getlines(filename)
        if not 0 < line <= len(lines):
            return None
        while lines[line - 1].lstrip().startswith("@") and line < len(lines):
            line += 1  # a decorated function: from its ``def``
        head = lines[line - 1]
        indent = len(head) - len(head.lstrip())
        end = line
        while end < len(lines):
            text = lines[end]
            stripped = text.lstrip()
            if stripped and not stripped.startswith("#") and len(text) - len(stripped) <= indent:
                break
            end += 1
        try:
            tree = ast.parse(textwrap.dedent("".join(lines[line - 1:end])))
            ast.increment_lineno(tree, line - 1)
        except SyntaxError:
            tree = self._tree(filename)
        if tree is None:
            return None
        for node in ast.walk(tree):
            if isinstance(node, kinds) and node.lineno == line:
                return node
        return None

    def _tree(self, filename: str):
        tree = self._trees.get(filename, False)
        if tree is False:
            text = "".join(linecache.getlines(filename))
            try:
                tree = ast.parse(text) if text else None
            except SyntaxError:
                tree = None
            self._trees[filename] = tree
        return tree

    def _block_uses(self, filename: str, line: int) -> list:
        node = self._statement_at(filename, line, (ast.With, ast.AsyncWith))
        if node is None or not node.body or not _turns_off_grad(node):
            return []
        return _uses_in(node.body)

    def _function_uses(self, filename: str, first_line: int) -> list:
        node = self._statement_at(filename, first_line,
                                  (ast.FunctionDef, ast.AsyncFunctionDef))
        return [] if node is None else _uses_in(node.body)

    # --- judging ------------------------------------------------------------------------------
    def step_recorded(self) -> None:
        """After each backward: the candidates it reached are connected after all; the others
        count one more backward without a gradient."""
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
            meant = c.plain
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
    if c.how in (NO_GRAD, GRAD_DISABLED):
        return head + (
            f"{'it is' if it == 'it' else 'they are'} used inside a {c.how} "
            f"block{where}, so the operations on {it} are not recorded and the loss does not "
            f"depend on {it} for autograd. Move that computation out of the block.")
    way, _, of_result = c.how.partition(" of a result")
    what = {".data": "read through .data, which leaves the graph",
            ".detach()": "detached from the graph (.detach(); a .numpy() round trip does the "
                         "same)",
            ".item()": "turned into a Python number (.item()), which leaves the graph",
            "float()": "turned into a Python number (float()), which leaves the graph",
            ".tolist()": "turned into Python numbers (.tolist()), which leaves the graph"}[way]
    if of_result:
        return head + (
            f"a result computed from {it} is {what}{where}, so {they} {reaches} the loss only "
            f"as a constant. Keep that computation in torch operations on the tensor itself.")
    name = names[0]
    shown = {".data": f"{name}.data", ".detach()": f"{name}.detach()",
             ".item()": f"{name}.item()", "float()": f"float({name})",
             ".tolist()": f"{name}.tolist()"}[way]
    return head + (
        f"`{shown}`{where} hands over {its} values without the graph, so {they} "
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


def _uses_in(body: list) -> list:
    finder = _Uses()
    for stmt in body:
        finder.visit(stmt)
    return finder.uses


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
