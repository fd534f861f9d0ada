"""``exploding-gradient`` and ``vanishing-gradient``: windowed and relative, never on an
absolute size (seed Example 2's first gradients have a norm of about 3e6 and are healthy).

Exploding: a parameter's gradient norm grew by ``exploding_orders`` orders of magnitude
within the last ``exploding_window`` steps while the loss rose ``exploding_loss_rise``-fold
over the same steps; or the loss became Inf/NaN right after growing that much.

Vanishing: over ``vanishing_window`` consecutive steps, the relative gradient
(|grad| / |param|, the largest of the layer's leaves) of the earliest layer (the leaves
farthest from the loss in the graph, with the next level: a weight and its bias) stayed
``vanishing_orders`` orders of magnitude below the last layer's (the nearest leaves), or
below ``vanishing_fraction`` while the last layer's was 100 times larger. A gradient of
exactly zero is not "vanishing" (that is a dead unit or a cut graph, which other detectors
name). Small gradients everywhere are convergence, not vanishing: only the gap between the
first and the last layers counts.

Fed by the leaf gradient norms the recorder sends with every step; parameter norms are
recomputed only every ``vanishing_refresh`` steps.
"""

from __future__ import annotations

import collections
import math

from ..summaries import norm
from ..trace import LEAF
from .context import at

MIN_POINTS = 3  # steps in a window before growth is judged


class GradientScale:
    def __init__(self, diag):
        self.diag = diag
        t = diag.thresholds
        self.t = t
        self.exploding = "exploding-gradient" in t.kinds
        self.vanishing = "vanishing-gradient" in t.kinds
        window = max(MIN_POINTS, t.exploding_window)
        # per step: the sum of the leaf gradient norms, the loss, the norms themselves (the
        # dict the step carries, not a copy)
        self._totals: collections.deque = collections.deque(maxlen=window)
        self._window: collections.deque = collections.deque(maxlen=window)
        self._losses: collections.deque = collections.deque(maxlen=window)
        self._param_norms: dict[str, float] = {}
        self._refreshed = -(10**9)
        self._refreshed_for = None
        self._vanishing_run = 0
        self._vanishing_ratio = 10.0 ** -t.vanishing_orders
        self._graph = self._info = None
        self._trained = 0

    def step_recorded(self, message) -> None:
        step = message.step
        norms = step.grad_norms
        loss = step.loss
        found = self.diag.kinds_found
        if self.exploding and norms and "exploding-gradient" not in found:
            self._check_exploding(step, norms, loss)
        if loss is not None and math.isfinite(loss):
            self._losses.append(loss)
        if self.vanishing and len(norms) >= 2 and "vanishing-gradient" not in found:
            self._check_vanishing(step)

    # --- exploding --------------------------------------------------------------------------
    def _check_exploding(self, step, norms: dict, loss) -> None:
        total = sum(norms.values())
        if total != total or loss is None:  # NaN: nan-or-inf's business
            return
        totals = self._totals
        totals.append(total)
        self._window.append((loss, norms))
        if len(totals) < MIN_POINTS:
            return
        low = min(totals)
        if not (low > 0 and total >= low * 10.0 ** self.t.exploding_orders):
            return
        low_loss, low_norms = self._window[list(totals).index(low)]
        if not _rose(low_loss, loss, self.t.exploding_loss_rise):
            return
        leaf, before, after = _most_grown(low_norms, norms)
        self._report_exploding(
            leaf, step.source,
            f"the gradient norm of {leaf} grew from {before:.3g} to {after:.3g} within "
            f"{len(totals)} steps while the loss rose from {low_loss:.4g} to {loss:.4g}")

    def explains_nonfinite_loss(self, loss) -> bool:
        """Called by nan-or-inf when the loss stops being finite: True when that is the end
        of an explosion (reported here as exploding-gradient, once)."""
        if "exploding-gradient" in self.diag.kinds_found:
            return True
        if not self.exploding or len(self._losses) < 2:
            return False
        low, last = min(self._losses), self._losses[-1]
        if not (low > 0 and last >= low * 10.0 ** self.t.exploding_orders):
            return False
        leaf = ""
        if len(self._window) >= 2:
            leaf = _most_grown(self._window[0][1], self._window[-1][1])[0]
        self._report_exploding(
            leaf, self.diag.view.backward_source,
            f"the loss grew from {low:.4g} to {last:.4g} within {len(self._losses)} steps and "
            f"then became {loss}")
        return True

    def _report_exploding(self, leaf: str, backward_source, what: str) -> None:
        view = self.diag.view
        tensor = next((t for _, t in view.leaves() if view.known_name(t) == leaf), None)
        update = self.diag.update_sources.get(id(tensor)) if tensor is not None else None
        self.diag.report(
            "exploding-gradient",
            f"exploding gradient: {what}. Each update makes the next gradient larger: lower "
            f"the learning rate{' (the update is at ' + at(update) + ')' if update else ''}, "
            "clip the gradient norm, or normalise the inputs.",
            view.leaf_id(leaf) if leaf else None, update or backward_source,
            key="run", node_name=leaf)

    # --- vanishing --------------------------------------------------------------------------
    def _check_vanishing(self, step) -> None:
        graph = self.diag.view.graph
        trained = len(self.diag.update_sources)
        if graph is not self._graph or trained != self._trained:  # mostly one comparison
            self._graph, self._trained, self._info = graph, trained, self._layers()
        info = self._info
        if info is None:
            return
        _graph, early, late, early_source = info
        t = self.t
        if step.index - self._refreshed >= t.vanishing_refresh or info is not self._refreshed_for:
            self._refresh_param_norms()
            self._refreshed, self._refreshed_for = step.index, info
        norms = step.grad_norms
        r_early = self._relative(norms, early)
        r_late = self._relative(norms, late)
        ok = r_early is not None and r_late is not None and r_early > 0 and \
            math.isfinite(r_late) and (
                r_early < r_late * self._vanishing_ratio
                or (r_early < t.vanishing_fraction and r_early * 100 < r_late))
        self._vanishing_run = self._vanishing_run + 1 if ok else 0
        if self._vanishing_run >= t.vanishing_window:
            view = self.diag.view
            name = max(early, key=lambda n: self._param_norms.get(n, 0.0))
            self.diag.report(
                "vanishing-gradient",
                f"vanishing gradient: for {self._vanishing_run} steps the gradient of "
                f"{', '.join(early)} (the layer farthest from the loss) was {r_early:.2g} of "
                f"its norm, against {r_late:.2g} for {', '.join(late)} (the last layer): "
                f"{math.log10(r_late / r_early):.0f} orders of magnitude less, so the early "
                "layers barely learn. Use ReLU-like activations instead of saturating ones "
                "(sigmoid, tanh), a better initialisation, normalisation layers or residual "
                "connections.",
                view.leaf_id(name), early_source or step.source, key="run", node_name=name)

    def _relative(self, grad_norms: dict, names) -> float | None:
        best = None
        params = self._param_norms
        for n in names:
            g = grad_norms.get(n)
            if g is not None:
                p = params.get(n)
                if p:
                    r = g / p
                    if best is None or r > best:
                        best = r
        return best

    def _refresh_param_norms(self) -> None:
        view = self.diag.view
        for _acc, tensor in view.leaves():
            name = view.known_name(tensor)
            if name is not None:
                self._param_norms[name] = norm(tensor._data)

    def _layers(self):
        """(graph, earliest leaf names, last leaf names, line of the earliest layer's op) of
        the current graph, by distance from the root; None with fewer than two depths. Only
        parameters count as layers (``nn.Parameter``, or leaves the script updates): not an
        input that requires grad to get its gradient."""
        view = self.diag.view
        graph = view.graph
        if graph is None:
            return None
        from engine.nn import Parameter

        updated = self.diag.update_sources
        n_ops = len(view.nodes())
        leaf_tensors = view.leaves()
        trained = set()
        for n in graph.nodes:
            i = n.id - n_ops
            if n.kind == LEAF and 0 <= i < len(leaf_tensors):
                t = leaf_tensors[i][1]
                if isinstance(t, Parameter) or id(t) in updated:
                    trained.add(n.id)
        inputs: dict[int, list[int]] = {}
        consumers: dict[int, list[int]] = {}
        for a, b in graph.edges:
            inputs.setdefault(b, []).append(a)
            consumers.setdefault(a, []).append(b)
        depth = {graph.root: 0}
        queue = collections.deque([graph.root])
        while queue:
            nid = queue.popleft()
            for prev in inputs.get(nid, ()):
                if prev not in depth:
                    depth[prev] = depth[nid] + 1
                    queue.append(prev)
        leaves = [(depth[n.id], n) for n in graph.nodes if n.id in trained and n.id in depth]
        info = (graph, [], [], None)
        if len(leaves) >= 2 and min(d for d, _ in leaves) != max(d for d, _ in leaves):
            deepest, nearest = max(d for d, _ in leaves), min(d for d, _ in leaves)
            # a layer's weight sits one node deeper than its bias (behind a TBackward0):
            # take both where the network is deep enough for the groups to stay apart
            spread = 1 if deepest - nearest > 2 else 0
            early = [n for d, n in leaves if d >= deepest - spread]
            late = [n.name for d, n in leaves if d <= nearest + spread]
            source = None
            for acc in consumers.get(early[0].id, ()):  # leaf -> AccumulateGrad -> its op
                for op in consumers.get(acc, ()):
                    source = source or graph.node(op).source
            info = (graph, [n.name for n in early], late, source)
        return info if info[1] else None


def _most_grown(before: dict, after: dict) -> tuple[str, float, float]:
    """(leaf, norm before, norm after) of the leaf whose gradient norm grew the most."""
    best = ("", 0.0, 0.0)
    ratio = -1.0
    for leaf, n in after.items():
        b = before.get(leaf)
        if b and n == n and n / b > ratio:
            ratio, best = n / b, (leaf, b, n)
    return best


def _rose(before: float, after: float, factor: float) -> bool:
    """``after`` is ``factor`` times ``before`` (for negative losses: rose by as much)."""
    return after > before and after - before >= (factor - 1.0) * abs(before)
