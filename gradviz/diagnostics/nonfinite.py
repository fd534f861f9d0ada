"""``nan-or-inf``: the first node, forward or backward, that produced a NaN or an Inf, with
the script line that created it; like anomaly detection, but always on.

It costs nothing while values are finite: the trigger, checked once per ``backward()``, is
the loss the recorder already read (forward) and the leaf gradient norms it already computed
(backward). Only once one of them
stops being finite does it look at the step's arrays (still held by the recorder) to find
the first node whose output, or whose backward's result, went bad from finite inputs.
Reported once per run: what follows the first NaN is its consequence.
"""

from __future__ import annotations

import math

from engine._device import backend_of
from engine.autograd.graph import AccumulateGrad

from .context import at

# Why an op makes NaN/Inf, in the words a person debugging it needs.
FORWARD_HINTS = {
    "LogBackward0": "the log of 0 (or of a negative number): clamp its input, e.g. "
                    "torch.log(p.clamp(min=1e-12)), or use log_softmax",
    "Log2Backward0": "the log of 0 (or of a negative number)",
    "Log10Backward0": "the log of 0 (or of a negative number)",
    "DivBackward0": "a division by 0",
    "DivBackward1": "a division by 0",
    "ReciprocalBackward0": "1/0",
    "SqrtBackward0": "the square root of a negative number",
    "ExpBackward0": "exp() overflowing (its input is too large)",
    "PowBackward0": "a power of 0 or of a negative number",
    "PowBackward1": "a power of 0 or of a negative number",
}
BACKWARD_HINTS = {
    "SqrtBackward0": "the derivative of sqrt is infinite at 0: add a small epsilon inside "
                     "the sqrt",
    "PowBackward0": "a fractional power has an infinite derivative at 0",
    "DivBackward0": "the derivative of a/b is infinite where b is 0",
    "LogBackward0": "the derivative of log is infinite at 0",
    "NormBackward1": "the derivative of a norm is undefined at 0",
    "NormBackward0": "the derivative of a norm is undefined at 0",
    "WhereBackward0": "a branch torch.where did not choose still sends NaN * 0 = NaN back: "
                      "make the unused branch finite too",
}
RETRY_STEPS = 50  # an infinite norm with finite arrays (float32 overflow): look again later


def finite(a) -> bool:
    if a.dtype.kind not in "fc":
        return True
    B = backend_of(a)
    return bool(B.all(B.isfinite(a)))


def describe(a) -> str:
    B = backend_of(a)
    if bool(B.any(B.isnan(a))):
        return "NaN"
    return "inf" if bool(B.any(B.greater(a, 0) & B.isinf(a))) else "-inf"


class NonFinite:
    def __init__(self, diag):
        self.diag = diag
        self.done = False
        self._next_search = 0

    # --- after each backward: the loss and the gradient norms the recorder computed -----------
    def step_recorded(self, step, total: float) -> None:
        """``total``: the sum of the step's leaf gradient norms (NaN or inf once one is)."""
        if self.done:
            return
        loss = step.loss
        if loss is not None:
            bad_forward = not math.isfinite(loss)
        else:  # a root that is not a scalar: its values
            root = self.diag.view.root_data()
            bad_forward = root is not None and not finite(root)
        if bad_forward:
            if self.diag.scale.explains_nonfinite_loss(step, loss):
                self.done = True
                return
            self.done = self._locate_forward(loss)
            if self.done:
                return
        if math.isfinite(total) or step.index < self._next_search:
            return
        if self._locate_backward():
            self.done = True
        else:
            self._next_search = step.index + RETRY_STEPS

    def _locate_forward(self, loss) -> bool:
        view = self.diag.view
        ids = view.node_ids()
        for node, out in view.outputs().items():
            nid = ids.get(node)
            if nid is None or out is None:
                continue
            a = out._data
            if finite(a):
                continue
            # the first op (in forward order) whose output is not finite: did a leaf it read
            # already hold NaN, or did the op itself make it?
            for prev, _ in node.next_functions:
                if type(prev) is AccumulateGrad and not finite(prev.variable._data):
                    name = view.leaf_name(prev.variable)
                    self.diag.report(
                        "nan-or-inf",
                        f"{name} holds {describe(prev.variable._data)} values (it feeds "
                        f"{node.name()} at {at(view.source_of(nid, node))}); the loss is "
                        f"{loss}. Something wrote them into {name} earlier (an update with a "
                        "NaN gradient?).",
                        view.leaf_id(name), view.source_of(nid, node), node_name=name)
                    return True
            src = view.source_of(nid, node)
            for t, _version, is_output in node._saved or ():
                if not is_output and not t.requires_grad_flag and not finite(t._data):
                    self.diag.report(
                        "nan-or-inf",
                        f"{node.name()}{' at ' + at(src) if src else ''} read an input that "
                        f"already held {describe(t._data)}: a tensor computed without the "
                        "graph (from data that does not require grad), so the op that made "
                        f"it is not recorded; the loss is {loss}. Look at how that input is "
                        "computed (a division by 0? the log of 0?).",
                        nid, src)
                    return True
            hint = FORWARD_HINTS.get(node.name())
            self.diag.report(
                "nan-or-inf",
                f"{node.name()} produced {describe(a)} in the forward pass"
                f"{' at ' + at(src) if src else ''} from finite graph inputs; the loss is "
                f"{loss}." + (f" Likely {hint}." if hint else ""),
                nid, src)
            return True
        if loss is not None:  # nothing recorded went bad: the data itself holds NaN/Inf
            self.diag.report(
                "nan-or-inf",
                f"the loss is {loss} although every recorded op produced finite values: the "
                "input data (tensors that do not require grad) holds NaN or Inf.",
                0, view.backward_source)
            return True
        return False

    def run_finished(self) -> None:
        """A script that stops before calling backward() on a NaN loss (``if
        torch.isnan(loss): break``) is looked at once, at its end: the forward pass no
        backward ran over, mapped onto the last graph when it has the same shape."""
        if self.done:
            return
        pending = self.diag.view.pending_outputs()
        if not pending:
            return
        bad = next(((node, out) for node, out in pending.items()
                    if out is not None and not finite(out._data)), None)
        if bad is None:
            return
        node, out = bad
        last = list(pending.values())[-1]
        ids = _same_graph_ids(list(pending)[-1], self.diag.view.graph)
        nid = None if ids is None else ids.get(node)
        src = self.diag.view.source_of(nid, node)
        loss = float(last._data) if last is not None and last._data.size == 1 else None
        hint = FORWARD_HINTS.get(node.name())
        self.done = self.diag.report(
            "nan-or-inf",
            f"{node.name()} produced {describe(out._data)} in the forward pass"
            f"{' at ' + at(src) if src else ''} from finite graph inputs"
            f"{'; the loss is ' + str(loss) if loss is not None else ''} (no backward() ran "
            "over it)." + (f" Likely {hint}." if hint else ""),
            nid, src, node_name=node.name()) is not None

    def _locate_backward(self) -> bool:
        view = self.diag.view
        nodes = view.nodes()
        for nid, grads_in, grads_out in view.execution():
            if all(g is None or finite(g) for g in grads_out):
                continue
            node = nodes[nid] if nid is not None and 0 <= nid < len(nodes) else None
            bad = next(g for g in grads_out if g is not None and not finite(g))
            if any(g is not None and not finite(g) for g in grads_in):
                self.diag.report(
                    "nan-or-inf",
                    f"the gradient given to backward() holds {describe(bad)}.",
                    0, view.backward_source)
                return True
            name = node.name() if node is not None else "a node"
            src = view.source_of(nid, node)
            hint = BACKWARD_HINTS.get(name)
            self.diag.report(
                "nan-or-inf",
                f"{name}'s backward produced {describe(bad)} from finite incoming gradients"
                f"{' (its forward op is at ' + at(src) + ')' if src else ''}; the forward "
                "values and the loss were finite." + (f" Likely {hint}." if hint else ""),
                nid, src)
            return True
        return False


def _same_graph_ids(start, graph) -> dict | None:
    """Graph ids for the nodes reachable from ``start``, numbered as the recorder numbers
    them (breadth first, ``next_functions`` order), when that walk gives ``graph``'s op
    nodes, names in the same order; else None."""
    if graph is None:
        return None
    ids = {start: 0}
    order = [start]
    i = 0
    while i < len(order):
        for nxt, _ in order[i].next_functions:
            if nxt is not None and nxt not in ids:
                ids[nxt] = len(order)
                order.append(nxt)
        i += 1
    ops = [n for n in graph.nodes if n.kind != "leaf"]
    if [n.name() for n in order] != [n.name for n in ops]:
        return None
    return ids
