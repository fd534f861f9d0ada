"""``exploding-gradient`` and ``vanishing-gradient``: windowed and relative, never on an
absolute size (seed Example 2's first gradients have a norm of about 3e6 and are healthy).

Exploding: a parameter's gradient norm grew by ``exploding_orders`` orders of magnitude
within the last ``exploding_window`` steps while the loss rose ``exploding_loss_rise``-fold
over the same steps; or the loss became Inf/NaN right after growing that much. Steps are
compared with earlier steps of the same loss only (the same ``backward()`` line over as many
leaves): a GAN's discriminator loss falling towards 0 while its generator's loss grows is
two losses, not one exploding.

Vanishing: over ``vanishing_window`` consecutive steps, the relative gradient
(|grad| / |param|, the layer's leaves taken together) of the earliest layer (the leaves
farthest from the loss in the graph, with the next level: a weight and its bias) stayed
``vanishing_orders`` orders of magnitude below the last layer's (the nearest leaves), or
below ``vanishing_fraction`` while the last layer's was 100 times larger. A gradient of
exactly zero is not "vanishing" (that is a dead unit or a cut graph, which other detectors
name). Small gradients everywhere are convergence, not vanishing: only the gap between the
first and the last layers counts.

Fed by the leaf gradient norms the recorder sends with every step; the norms of the earliest
and last layers' parameters are recomputed at most every ``vanishing_refresh`` steps (every
ten times that while the gradients are nowhere near vanishing), and while the relative
gradients are two orders of magnitude away from the condition, it is looked at only every
``vanishing_window`` steps. The window's growth is judged only when the step's total
gradient norm is ``exploding_orders`` above the smallest of that loss so far.
"""

from __future__ import annotations

import collections
import math

from ..summaries import norm
from ..trace import LEAF
from .context import at

MIN_POINTS = 3  # steps in a window before growth is judged


class _Loss:
    """The last steps of one loss (one ``backward()`` line over one set of leaves): growth is
    judged between steps of the same loss (a GAN's two losses, alternating, are two)."""

    __slots__ = ("totals", "window", "losses", "floor")

    def __init__(self, window: int):
        # per step: the sum of the leaf gradient norms, (the loss, the norms themselves: the
        # dict the step carries, not a copy), the loss
        self.totals: collections.deque = collections.deque(maxlen=window)
        self.window: collections.deque = collections.deque(maxlen=window)
        self.losses: collections.deque = collections.deque(maxlen=window)
        self.floor = math.inf  # the smallest positive total gradient norm of the loss


class GradientScale:
    def __init__(self, diag):
        self.diag = diag
        t = diag.thresholds
        self.t = t
        self.exploding = "exploding-gradient" in t.kinds
        self.vanishing = "vanishing-gradient" in t.kinds
        self._window_size = max(MIN_POINTS, t.exploding_window)
        self._losses: dict[tuple, _Loss] = {}  # (backward line, leaves) -> its last steps
        self._last = None  # (line, leaves, _Loss) of the latest step
        self._param_norms: dict[str, float] = {}
        self._refreshed = 0
        self._refreshed_for = None
        self._vanishing_run = 0
        self._vanishing_ratio = 10.0 ** -t.vanishing_orders
        self._graph = self._info = None
        self._layers_at = 0
        self._untrained = False
        self._growth = 10.0 ** t.exploding_orders
        self._next_vanishing_check = 0

    def _loss_of(self, step) -> _Loss:
        source, leaves = step.source, len(self.diag.view.leaves())
        last = self._last
        if last is not None and last[0] is source and last[1] == leaves:
            return last[2]  # (the recorder hands the same Source object for the same line)
        track = self._losses.get((source, leaves))
        if track is None:
            if len(self._losses) >= 64:
                self._losses.clear()
            track = self._losses[(source, leaves)] = _Loss(self._window_size)
        self._last = (source, leaves, track)
        return track

    def step_recorded(self, step, total: float) -> None:
        """``total``: the sum of the step's leaf gradient norms."""
        norms = step.grad_norms
        loss = step.loss
        if loss is not None and not loss - loss:  # (finite: x - x is NaN for inf and NaN)
            track = self._loss_of(step)
            track.losses.append(loss)
            if self.exploding and norms and total == total:
                track.totals.append(total)
                track.window.append((loss, norms))
                if 0.0 < total < track.floor:
                    track.floor = total
                # the smallest total of the loss bounds the window's from below: unless this
                # one is orders of magnitude above it, nothing can have exploded
                if total >= track.floor * self._growth and len(track.totals) >= MIN_POINTS:
                    self._check_exploding(step, track, norms, total, loss)
        if self.vanishing and step.index >= self._next_vanishing_check and len(norms) >= 2:
            self._check_vanishing(step)

    # --- exploding --------------------------------------------------------------------------
    def _check_exploding(self, step, track: _Loss, norms: dict, total: float, loss) -> None:
        totals = track.totals
        low = min(totals)
        if not (low > 0 and total >= low * self._growth):
            return
        low_loss, low_norms = track.window[list(totals).index(low)]
        if not _rose(low_loss, loss, self.t.exploding_loss_rise):
            return
        leaf, before, after = _most_grown(low_norms, norms)
        self._report_exploding(
            leaf, step.source,
            f"the gradient norm of {leaf} grew from {before:.3g} to {after:.3g} within "
            f"{len(totals)} steps while the loss rose from {low_loss:.4g} to {loss:.4g}")

    def explains_nonfinite_loss(self, step, loss) -> bool:
        """Called by nan-or-inf when the loss of ``step`` stops being finite: True when that
        is the end of an explosion of that loss (reported here as exploding-gradient, once)."""
        if "exploding-gradient" in self.diag.kinds_found:
            return True
        if not self.exploding:
            return False
        track = self._loss_of(step)
        losses = track.losses
        if len(losses) < 2:
            return False
        low, last = min(losses), losses[-1]
        if not (low > 0 and last >= low * self._growth):
            return False
        leaf = ""
        if len(track.window) >= 2:
            leaf = _most_grown(track.window[0][1], track.window[-1][1])[0]
        self._report_exploding(
            leaf, self.diag.view.backward_source,
            f"the loss grew from {low:.4g} to {last:.4g} within {len(losses)} steps and "
            f"then became {loss}")
        return True

    def _report_exploding(self, leaf: str, backward_source, what: str) -> None:
        self.exploding = False  # once per run
        view = self.diag.view
        tensor = next((t for _, t in view.leaves() if view.known_name(t) == leaf), None)
        update = self.diag.update_source(tensor) if tensor is not None else None
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
        if graph is not self._graph or self._untrained and (
                step.index < 3 or step.index >= self._layers_at + self.t.vanishing_refresh):
            # (again while some leaf of the graph is neither a parameter nor updated yet: an
            # input that requires grad, or a plain weight before its first update)
            self._graph, self._layers_at, self._info = graph, step.index, self._layers()
        info = self._info
        if info is None:
            return
        _graph, early, late, early_source = info
        t = self.t
        norms = step.grad_norms
        if info is not self._refreshed_for:
            self._refresh_param_norms(info, step.index)
        r_early = self._relative(norms, early)
        r_late = self._relative(norms, late)
        age = step.index - self._refreshed
        # Parameter norms move slowly: recomputed every vanishing_refresh steps while the
        # gradients come within two orders of magnitude of the condition (or a layer's norm
        # is still unknown), and only every ten times that otherwise.
        if age >= t.vanishing_refresh and (
                r_early is None or r_late is None or age >= 10 * t.vanishing_refresh
                or r_early < r_late * self._vanishing_ratio * 100):
            self._refresh_param_norms(info, step.index)
            r_early = self._relative(norms, early)
            r_late = self._relative(norms, late)
        ok = r_early is not None and r_late is not None and r_early > 0 and \
            math.isfinite(r_late) and (
                r_early < r_late * self._vanishing_ratio
                or (r_early < t.vanishing_fraction and r_early * 100 < r_late))
        if ok:
            self._vanishing_run += 1
        else:
            self._vanishing_run = 0
            if r_early is not None and r_late is not None and r_early > 0 and \
                    r_early >= r_late * self._vanishing_ratio * 100 and \
                    r_early >= t.vanishing_fraction * 100:
                # two orders of magnitude from the condition: it cannot hold within the next
                # few steps (ratios of gradient norms move slowly); look again later
                self._next_vanishing_check = step.index + t.vanishing_window
        if self._vanishing_run >= t.vanishing_window:
            self.vanishing = False  # once per run
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
        """|grad| / |param| of a layer, its leaves taken together (a bias initialised to 0
        has a tiny norm, and alone a huge relative gradient); None when unknown."""
        g2 = p2 = 0.0
        found = False
        params = self._param_norms
        for n in names:
            g = grad_norms.get(n)
            if g is not None:
                found = True
                p = params.get(n, 0.0)
                g2 += g * g
                p2 += p * p
        if not found or not p2 > 0.0:
            return None
        return math.sqrt(g2 / p2)

    def _refresh_param_norms(self, info, index: int) -> None:
        """The norms of the parameters of the earliest and last layers (only those)."""
        view = self.diag.view
        wanted = set(info[1]) | set(info[2])
        for _acc, tensor in view.leaves():
            name = view.known_name(tensor)
            if name in wanted:
                self._param_norms[name] = norm(tensor._data)
        self._refreshed, self._refreshed_for = index, info

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

        was_updated = self.diag.was_updated
        n_ops = len(view.nodes())
        leaf_tensors = view.leaves()
        trained = set()
        self._untrained = False
        for n in graph.nodes:
            i = n.id - n_ops
            if n.kind == LEAF and 0 <= i < len(leaf_tensors):
                t = leaf_tensors[i][1]
                if isinstance(t, Parameter) or was_updated(t):
                    trained.add(n.id)
                else:
                    self._untrained = True
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
