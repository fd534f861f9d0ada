"""Graph nodes (``grad_fn``) and the backward executor.

Every node class is named exactly like PyTorch's (``MulBackward0``, ``AccumulateGrad`` ...)
because people and tools (torchviz, gradviz) read ``type(t.grad_fn).__name__``.
``next_functions`` holds ``(node or None, input_nr)`` pairs in PyTorch's order.

The executor follows PyTorch's CPU engine: count each node's dependencies, then run ready
nodes from a priority queue, newest node first (higher sequence number), with
``AccumulateGrad`` before everything else once ready. That order is what gradviz animates.
"""

from __future__ import annotations

import heapq
import itertools
import re
import sys

from .._device import backend_of
from .._grad_mode import GRAD_MODE
from ..events import EVENTS

_sequence = itertools.count()
_ACCUMULATE_PRIORITY = sys.maxsize

FREED_MESSAGE = (
    "Trying to backward through the graph a second time (or directly access saved tensors "
    "after they have already been freed). Saved intermediate values of the graph are freed "
    "when you call .backward() or autograd.grad(). Specify retain_graph=True if you need to "
    "backward through the graph a second time or if you need to access saved tensors after "
    "calling backward."
)


class Node:
    """A backward function recorded by the forward pass.

    Subclasses implement ``backward(grad)`` (one output) or ``apply(grads)`` (several) and
    return one gradient per ``next_functions`` entry (None where that input needs none).
    Saved tensors are checked against their version at save time before backward runs.
    """

    # Few slots, all set in __init__: a node is created for every recorded op, so its
    # construction is on the hot path. Rarely used state (hooks) lives in one side object.
    __slots__ = ("next_functions", "_seq", "_saved", "_hooks", "_metadata", "__weakref__")
    n_outputs = 1
    # True where ``apply`` is Node's own (one output, ``backward(g)``): the executor then calls
    # backward directly. Set per class below.
    _direct = True

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls._direct = cls.apply is Node.apply and getattr(cls, "n_outputs", 1) == 1

    def __init__(self, next_functions: tuple):
        self.next_functions = next_functions
        self._seq = next(_sequence)
        # tuple of (tensor, version at save, is_output) to verify; FREED after release
        self._saved = None
        self._hooks = None  # a _NodeHooks once any hook is registered
        self._metadata = None

    # --- hooks (kept in a side object so that plain nodes stay small and fast) -------------
    def _hook_state(self) -> _NodeHooks:
        if self._hooks is None:
            self._hooks = _NodeHooks()
        return self._hooks

    @property
    def _tensor_pre_hooks(self):
        """{output_nr: [hook, ...]} from Tensor.register_hook, or None."""
        return None if self._hooks is None else self._hooks.tensor_pre

    @_tensor_pre_hooks.setter
    def _tensor_pre_hooks(self, value) -> None:
        self._hook_state().tensor_pre = value

    @property
    def _retained(self):
        """{output_nr: weakref to tensor} from Tensor.retain_grad, or None."""
        return None if self._hooks is None else self._hooks.retained

    @_retained.setter
    def _retained(self, value) -> None:
        self._hook_state().retained = value

    @property
    def _pre_hooks(self):
        return None if self._hooks is None else self._hooks.pre

    @_pre_hooks.setter
    def _pre_hooks(self, value) -> None:
        self._hook_state().pre = value

    @property
    def _post_hooks(self):
        return None if self._hooks is None else self._hooks.post

    @_post_hooks.setter
    def _post_hooks(self, value) -> None:
        self._hook_state().post = value

    @property
    def _freed(self) -> bool:
        return self._saved is FREED

    @property
    def metadata(self) -> dict:
        """Free-form per-node storage (debuggers keep source lines here); made on first use."""
        if self._metadata is None:
            self._metadata = {}
        return self._metadata

    # --- PyTorch's public surface ---------------------------------------------------------
    def name(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        return f"<{type(self).__name__} object at {id(self):#x}>"

    def register_hook(self, fn):
        """``fn(grad_inputs, grad_outputs)`` runs after this node; may return new grad_inputs."""
        if self._post_hooks is None:
            self._post_hooks = []
        self._post_hooks.append(fn)
        return _RemovableHandle(self._post_hooks, fn)

    def register_prehook(self, fn):
        """``fn(grad_outputs)`` runs before this node; may return new grad_outputs."""
        if self._pre_hooks is None:
            self._pre_hooks = []
        self._pre_hooks.append(fn)
        return _RemovableHandle(self._pre_hooks, fn)

    @property
    def _saved_tensors_info(self):
        return () if not self._saved else tuple(t for t, _, _ in self._saved)

    # --- engine side ------------------------------------------------------------------------
    def save(self, *tensors, outputs=()) -> None:
        """Remember tensors whose values backward reads, to catch later in-place changes."""
        saved = tuple([(t, t._version[0], False) for t in tensors])
        if outputs:
            saved += tuple([(t, t._version[0], True) for t in outputs])
        self._saved = saved

    def check_saved(self) -> None:
        saved = self._saved
        if saved is FREED:
            raise RuntimeError(FREED_MESSAGE)
        if saved is not None:
            for t, version, is_output in saved:
                if t._version[0] != version:
                    raise RuntimeError(_modified_message(t, version, self if is_output else None))

    def release(self) -> None:
        """Free saved values after a backward without ``retain_graph`` (PyTorch does too)."""
        if self._saved is not None or self._holds_values:
            self._saved = FREED
            self._drop_values()

    # Nodes whose backward needs forward values set this and clear them in _drop_values.
    _holds_values = False

    def _drop_values(self) -> None:
        pass

    def apply(self, grads: list) -> tuple:
        return self.backward(grads[0])

    def backward(self, grad):  # pragma: no cover - every concrete node overrides one of the two
        raise NotImplementedError(type(self).__name__)


class _NodeHooks:
    __slots__ = ("tensor_pre", "retained", "pre", "post")

    def __init__(self):
        self.tensor_pre = self.retained = self.pre = self.post = None


class _Freed(tuple):
    """What ``Node._saved`` holds once backward released the saved values (empty, falsy)."""

    def __repr__(self) -> str:
        return "FREED"


FREED = _Freed()


class _RemovableHandle:
    def __init__(self, container, item):
        self._container, self._item = container, item

    def remove(self) -> None:
        try:
            self._container.remove(self._item)
        except ValueError:
            pass


def _modified_message(t, version: int, producer) -> str:
    node = producer if producer is not None else t.grad_fn
    where = ""
    if node is not None:
        # PyTorch drops "Backward0" but keeps other overload numbers: Add, Pow2, Sum1
        short = re.sub(r"Backward(0$)?", "", type(node).__name__, count=1)
        where = f", which is output {t._output_nr} of {short},"
    shape = ", ".join(str(s) for s in t.shape)
    return (
        "one of the variables needed for gradient computation has been modified by an "
        f"inplace operation: [{t.type()} [{shape}]]{where} is at version {t._version[0]}; "
        f"expected version {version} instead. Hint: enable anomaly detection to find the "
        "operation that failed to compute its gradient, with "
        "torch.autograd.set_detect_anomaly(True, check_nan=False)."
    )


class AccumulateGrad(Node):
    """The node of a leaf tensor: adds the incoming gradient into ``variable.grad``."""

    __slots__ = ("variable",)

    def __init__(self, variable):
        super().__init__(())
        self._seq = _ACCUMULATE_PRIORITY
        self.variable = variable

    def apply(self, grads):
        if self.variable.requires_grad_flag:  # PyTorch skips a leaf that stopped requiring grad
            accumulate_into(self.variable, grads[0])
        return ()


def accumulate_into(var, g) -> None:
    """``var.grad += g`` as PyTorch does it: the first gradient is copied in, later ones are
    added in place (so zeroing with ``zero_()`` and accumulating cost no new buffers)."""
    B = var._B
    cur = var._grad
    listening = EVENTS.active
    if listening:
        # listeners read (or copy) the old value now; it is overwritten in place right after
        EVENTS.grad_will_accumulate(var, None if cur is None else cur._data, g)
    if cur is None:
        want = var._data.dtype
        data = B.astype(g, want, copy=True) if g.dtype != want else B.copy(g)
        if data.shape != var._data.shape:
            data = B.copy(B.broadcast_to(data, var._data.shape))
        var._set_grad_tensor(data)
    else:
        B.add(cur._data, g, out=cur._data, casting="unsafe")
        cur._version[0] += 1
    if listening:
        EVENTS.grad_did_accumulate(var, var._grad._data, g, cur is None)


def _run_tensor_hooks(hooks, g, B):
    from .._tensor import Tensor

    for hook in list(hooks):
        out = hook(Tensor._wrap(g, B))
        if out is not None:
            if not isinstance(out, Tensor):
                raise TypeError(f"expected Variable, but hook returned '{type(out).__name__}'")
            new = out._data
            if new.shape != g.shape or new.dtype != g.dtype:
                raise RuntimeError(_hook_changed_message(hook, g, out))
            g = new
    return g


def _hook_changed_message(hook, g, out) -> str:
    from .._tensor import Tensor

    name = getattr(hook, "__name__", "<unknown>")
    if out._data.shape != g.shape:
        return f"hook '{name}' has changed the size of value"
    was = Tensor._wrap(g, out._B).type()
    return f"hook '{name}' has changed the type of value (was {was} got {out.type()})"


def run_backward(roots, grads, retain_graph: bool, capture=None, only=None):
    """Run the backward pass from ``roots`` (a list of ``(node, output_nr)`` edges) seeded with
    ``grads`` (arrays).

    ``capture``: list of edges whose incoming gradients are returned instead of accumulated
    (``autograd.grad``); then no AccumulateGrad runs except those captured... none, as in
    PyTorch. ``only``: a set of edges to restrict accumulation to (``backward(inputs=...)``).
    Returns the captured gradients (None where nothing reached them).
    """
    if len(roots) == 1 and capture is None and only is None:
        _run_single_root(roots[0], grads[0], retain_graph)
        return None
    root_nodes = [n for n, _ in roots]
    deps: dict = {}
    stack = list(dict.fromkeys(root_nodes))
    seen = set(stack)
    while stack:
        node = stack.pop()
        for nxt, _ in node.next_functions:
            if nxt is None:
                continue
            deps[nxt] = deps.get(nxt, 0) + 1
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)

    needed = None
    if capture is not None or only is not None:
        needed = _needed_nodes(seen, {n for n, _ in only or ()}, {n for n, _ in capture or ()})
    captured = {} if capture is not None else None
    capture_nodes = {n for n, _ in capture} if capture is not None else ()

    buffers: dict = {}
    for (node, nr), g in zip(roots, grads):
        buf = buffers.get(node)
        if buf is None:
            buf = buffers[node] = [None] * node.n_outputs
        buf[nr] = g if buf[nr] is None else buf[nr] + g

    listening = EVENTS.active
    heap = []
    counter = itertools.count()
    for node in dict.fromkeys(root_nodes):
        if deps.get(node, 0) == 0:
            heapq.heappush(heap, (-node._seq, next(counter), node))

    prev_mode = GRAD_MODE.enabled
    GRAD_MODE.enabled = False  # backward formulas never record a graph (no create_graph)
    try:
        if needed is None and capture is None:
            _run_plain(heap, buffers, deps, counter, retain_graph, listening)
            return None
        while heap:
            node = heapq.heappop(heap)[2]
            buf = buffers.pop(node, None) or [None] * node.n_outputs
            run = needed is None or node in needed
            if node in capture_nodes:
                # as PyTorch: a captured node that does not run applies its tensor hooks before
                # the capture; one that runs applies them when it runs, after the capture
                if not run and (node._tensor_pre_hooks is not None or node._retained is not None):
                    _run_output_hooks(node, buf)
                for edge_node, nr in capture:
                    if edge_node is node:
                        captured[(node, nr)] = buf[nr]
            if run:
                if node._tensor_pre_hooks is not None or node._retained is not None:
                    _run_output_hooks(node, buf)
                if node._pre_hooks:
                    for hook in node._pre_hooks:
                        res = hook(_wrap_all(buf, node))
                        if res is not None:
                            buf = [None if r is None else r._data for r in res]
            if run and (buf[0] is not None if len(buf) == 1
                        else any(g is not None for g in buf)):
                if node._saved is not None:
                    node.check_saved()
                out = node.apply(buf)
                if node._post_hooks:
                    for hook in node._post_hooks:
                        res = hook(_wrap_all(out, node), _wrap_all(buf, node))
                        if res is not None:
                            out = tuple(None if r is None else r._data for r in res)
                if listening:
                    EVENTS.node_did_execute(node, buf, out)
                if not retain_graph and (node._saved is not None or node._holds_values):
                    node.release()
            else:
                out = ()
            n_out = len(out)
            for i, (nxt, nr) in enumerate(node.next_functions):
                if nxt is None:
                    continue
                g = out[i] if i < n_out else None
                if g is not None:
                    b = buffers.get(nxt)
                    if b is None:
                        b = buffers[nxt] = [None] * nxt.n_outputs
                    prev = b[nr]
                    b[nr] = g if prev is None else prev + g
                d = deps[nxt] - 1
                deps[nxt] = d
                if d == 0:
                    heapq.heappush(heap, (-nxt._seq, next(counter), nxt))
    finally:
        GRAD_MODE.enabled = prev_mode
    if capture is not None:
        return [captured.get(edge) for edge in capture]
    return None


def _run_single_root(root_edge, grad, retain_graph: bool) -> None:
    """``loss.backward()``: one root, nothing captured (the case every training step takes)."""
    root, nr = root_edge
    deps: dict = {}
    stack = [root]
    while stack:
        for nxt, _ in stack.pop().next_functions:
            if nxt is not None:
                d = deps.get(nxt)
                if d is None:
                    deps[nxt] = 1
                    stack.append(nxt)
                else:
                    deps[nxt] = d + 1
    buf = [None] * root.n_outputs
    buf[nr] = grad
    counter = itertools.count()
    prev_mode = GRAD_MODE.enabled
    GRAD_MODE.enabled = False  # backward formulas never record a graph (no create_graph)
    try:
        _run_plain([(-root._seq, next(counter), root)], {root: buf}, deps, counter,
                   retain_graph, EVENTS.active)
    finally:
        GRAD_MODE.enabled = prev_mode


def _run_plain(heap, buffers, deps, counter, retain_graph: bool, listening: bool) -> None:
    """The executor's loop for an ordinary ``backward()`` (no captures, no ``inputs=``): the
    same steps as the general loop, kept lean because it runs once per node of every step."""
    heappop, heappush = heapq.heappop, heapq.heappush
    while heap:
        node = heappop(heap)[2]
        buf = buffers.pop(node, None)
        if buf is None:
            buf = [None] * node.n_outputs
        hooked = node._hooks is not None
        if hooked:
            if node._tensor_pre_hooks is not None or node._retained is not None:
                _run_output_hooks(node, buf)
            if node._pre_hooks:
                for hook in node._pre_hooks:
                    res = hook(_wrap_all(buf, node))
                    if res is not None:
                        buf = [None if r is None else r._data for r in res]
        if buf[0] is not None if len(buf) == 1 else any(g is not None for g in buf):
            saved = node._saved
            if saved is not None:
                for t, version, _ in saved:  # check_saved, inlined: it runs for most nodes
                    if t._version[0] != version:
                        node.check_saved()  # raises PyTorch's message
                if saved is FREED:
                    node.check_saved()
            out = node.backward(buf[0]) if node._direct else node.apply(buf)
            if hooked and node._post_hooks:
                for hook in node._post_hooks:
                    res = hook(_wrap_all(out, node), _wrap_all(buf, node))
                    if res is not None:
                        out = tuple(None if r is None else r._data for r in res)
            if listening:
                EVENTS.node_did_execute(node, buf, out)
            if not retain_graph and (saved is not None or node._holds_values):
                node._saved = FREED  # release(), inlined
                node._drop_values()
        else:
            out = ()
        n_out = len(out)
        i = 0
        for nxt, nr in node.next_functions:
            if nxt is not None:
                g = out[i] if i < n_out else None
                if g is not None:
                    b = buffers.get(nxt)
                    if b is None:
                        if nxt.n_outputs == 1:
                            buffers[nxt] = [g]
                        else:
                            b = buffers[nxt] = [None] * nxt.n_outputs
                            b[nr] = g
                    else:
                        prev = b[nr]
                        b[nr] = g if prev is None else prev + g
                d = deps[nxt] - 1
                deps[nxt] = d
                if d == 0:
                    heappush(heap, (-nxt._seq, next(counter), nxt))
            i += 1


def _needed_nodes(nodes, targets, captured=()) -> set:
    """The nodes that run when only some gradients are wanted, as in PyTorch: the ``targets``
    (``backward(inputs=...)``) and every node from which a target or a ``captured`` node
    (``autograd.grad``) can be reached; a captured node itself runs only if that leads on."""
    parents: dict = {}
    for n in nodes:
        for nxt, _ in n.next_functions:
            if nxt is not None:
                parents.setdefault(nxt, []).append(n)
    needed = {t for t in targets if t in nodes}
    stack = list(needed) + [c for c in captured if c in nodes]
    while stack:
        for p in parents.get(stack.pop(), ()):
            if p not in needed:
                needed.add(p)
                stack.append(p)
    return needed


def _run_output_hooks(node, buf) -> None:
    hooks = node._tensor_pre_hooks
    if hooks:
        for nr, fns in hooks.items():
            g = buf[nr]
            if g is not None and fns:
                buf[nr] = _run_tensor_hooks(fns, g, backend_of(g))
    if node._retained:
        for nr, ref in node._retained.items():
            t = ref()
            g = buf[nr]
            if t is None or g is None:
                continue
            if t._grad is None:
                t._set_grad_tensor(t._B.copy(g))
            else:
                t._grad._data = t._grad._data + g


def _wrap_all(arrays, node):
    from .._tensor import Tensor

    return tuple(None if a is None else Tensor._wrap(a, backend_of(a)) for a in arrays)
