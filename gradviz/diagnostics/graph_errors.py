"""The two errors the engine raises in the middle of a backward pass, explained with the node
and the lines that cause them:

``inplace-modified``: "one of the variables needed for gradient computation has been modified
by an inplace operation". The node is the backward node whose saved value changed; the line
is the in-place operation that changed it: a named leaf's latest update, as the recorder
logged it, or, for any other tensor, the line of each in-place op, remembered per version
counter (a few at most) so that the error can point at it.

``backward-twice``: "Trying to backward through the graph a second time". The node is the
first one whose saved tensors were already freed; the message gives the line of the
backward() that freed them and of the one that failed.
"""

from __future__ import annotations

import collections

from engine.autograd.graph import FREED

from .context import at

MAX_VERSION_COUNTERS = 4096  # in-place histories kept (oldest forgotten first)
CHANGES_PER_COUNTER = 8
RECENT_BACKWARDS = 2


class GraphErrors:
    def __init__(self, diag):
        self.diag = diag
        kinds = diag.thresholds.kinds
        self.inplace_on = "inplace-modified" in kinds
        self.twice_on = "backward-twice" in kinds
        # id(version counter) -> (the counter, [(version after, op, source), ...])
        self._changes: dict[int, tuple] = {}
        # (step, line of its backward(), {node: id}) of the last backwards, done or failed:
        # appended by the diagnostician after each one
        self._recent: collections.deque = collections.deque(maxlen=RECENT_BACKWARDS)

    # --- bookkeeping ------------------------------------------------------------------------
    def record(self, tensor, op: str, source) -> None:
        """An in-place op (at ``source``) moved ``tensor``'s version counter: remember it."""
        counter = tensor._version
        changes = self._changes
        entry = changes.get(id(counter))
        if entry is None or entry[0] is not counter:
            if len(changes) >= MAX_VERSION_COUNTERS:
                for key in list(changes)[: MAX_VERSION_COUNTERS // 2]:
                    del changes[key]
            entry = changes[id(counter)] = (counter, collections.deque(
                maxlen=CHANGES_PER_COUNTER))
        entry[1].append((counter[0], op, source))

    # --- the errors -------------------------------------------------------------------------
    def backward_failed(self, error) -> None:
        text = str(error)
        if self.inplace_on and "modified by an inplace operation" in text:
            self._modified()
        elif self.twice_on and text.startswith("Trying to backward through the graph a second"):
            self._freed()

    def _modified(self) -> None:
        view = self.diag.view
        found = None
        for node in view.nodes():
            saved = node._saved
            if not saved:  # None, or FREED (an empty tuple)
                continue
            for t, version, is_output in saved:
                if t._version[0] != version:
                    # the engine runs nodes newest first: the newest changed one raised
                    if found is None or node._seq > found[0]._seq:
                        found = (node, t, version, is_output)
                    break
        if found is None:
            return
        node, t, version, is_output = found
        nid = view.node_id(node)
        name = node.name()
        node_src = view.source_of(nid, node)
        change = None
        entry = self._changes.get(id(t._version))
        if entry is not None and entry[0] is t._version:
            later = [c for c in entry[1] if c[0] > version]
            change = later[0] if later else None
        # a parameter, or a view of one (``weight.t()`` in a Linear) sharing its counter
        leaf = t if t.grad_fn is None else getattr(t, "_base", None)
        if leaf is not None and not (leaf.grad_fn is None and leaf.requires_grad_flag):
            leaf = None
        if change is None and leaf is not None:
            # a named leaf's update is not recorded here: the recorder logged its line
            last = self.diag.last_change(leaf)
            if last is not None:
                change = (t._version[0], last[1], last[0])
        elif change is None and t.grad_fn is not None and t.grad_fn is not node:
            # after the first backward: an in-place op in grad mode is a node of the graph
            # (``h += b`` is an AddBackward0 over h's old value), with its line
            rebased = t.grad_fn
            src = view.source_of(view.node_id(rebased), rebased)
            if src is not None:
                change = (t._version[0], f"operation ({rebased.name()} in the graph)", src)
        if is_output:
            what = "its own output"
        elif leaf is t:
            what = f"its input {view.leaf_name(t)}"
        elif leaf is not None:
            what = f"its input {view.leaf_name(leaf)} (through a view of it)"
        else:
            label = view.known_name(t)
            what = f"its input {label}" if label else "one of its inputs"
        made = f" (made at {at(node_src)})" if node_src else ""
        parameter = leaf is not None
        fix = ("Update parameters only after backward() (or run the forward pass again "
               "after the update)." if parameter else
               "Use the out-of-place form (`a = a - b` instead of `a -= b`), or change a "
               ".clone() instead.")
        if change is not None:
            _, op, src = change
            where = f"at {at(src)}" if src else "somewhere"
            message = (
                f"{name}{made} saved {what} for the backward pass, but the in-place "
                f"{op} {where} changed it afterwards (version {version} -> {t._version[0]}), "
                f"so its gradient can no longer be computed. {fix}")
        else:
            src = node_src
            message = (
                f"{name}{made} saved {what} for the backward pass, but an in-place operation "
                f"changed it afterwards (version {version} -> {t._version[0]}), so its "
                f"gradient can no longer be computed. {fix}")
        self.diag.report("inplace-modified", message, nid, src)

    def _freed(self) -> None:
        view = self.diag.view
        # nodes this backward already ran were freed by it; of the others freed before it
        # started, the newest runs first: that is the one that raised
        nodes = view.nodes()
        ran = {nodes[nid] for nid, _, _ in view.execution() if nid is not None and nid >= 0}
        freed = [n for n in nodes if n._saved is FREED and n not in ran]
        if not freed:
            return
        node = max(freed, key=_seq)
        nid = view.node_id(node)
        second = view.backward_source
        first = None
        for step, source, ids in reversed(self._recent):
            if step != view.step and node in ids:  # (not the backward failing now)
                first = (step, source)
                break
        if first is not None:
            freed_by = (f"the backward() at {at(first[1])} (step {first[0]})" if first[1]
                        else f"the backward() of step {first[0]}")
        else:
            freed_by = "an earlier backward()"
        here = f" at {at(second)}" if second else ""
        self.diag.report(
            "backward-twice",
            f"backward(){here} went through {node.name()} a second time, but its saved "
            f"tensors were already freed by {freed_by}. Recompute the forward pass before "
            "each backward() (build the loss inside the loop), or pass retain_graph=True to "
            "the first backward() if you really need to go through the same graph twice.",
            nid, second)


def _seq(node) -> int:
    return node._seq
