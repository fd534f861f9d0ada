"""Seconds to lay out large recorded graphs (collapse + dot, or its fallback), per case the
median of several runs in this one process with the layout cache cleared before each, then
the time of a cache hit (collapse + digest + lookup: what every later training step pays).

    python benchmarks/layout_large.py [--rounds 5] [--timeout 5] [--uncollapsed]

Cases: builtin ``sum`` over 100, 500 and 2,000 elements (collapsed by default: one Unbind
feeding a chain of Adds), a 2,000-node chain of distinct ops (nothing collapses), and a
1,000-node random DAG with long edges (dot needs about a minute on it here, so this measures
the timeout plus the Python fallback). ``--uncollapsed`` adds builtin sum over 100 elements
with collapsing off, dot's worst case (DESIGN.md measured 16 s).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from gradviz.collapse import CollapseOptions  # noqa: E402
from gradviz.layout import DEFAULT_TIMEOUT, clear_cache, layout_graph  # noqa: E402
from gradviz.trace import LEAF, OP, ROOT, Graph, GraphNode  # noqa: E402


def builtin_sum(n: int) -> Graph:
    """``0.5 * sum(x ** 2)`` with builtin sum over an n-element x."""
    nodes = [GraphNode(0, LEAF, "x", (n,)), GraphNode(1, OP, "AccumulateGrad", (n,)),
             GraphNode(2, OP, "PowBackward0", (n,)), GraphNode(3, OP, "UnbindBackward0", (n,))]
    edges = [(0, 1), (1, 2), (2, 3)]
    for a in range(4, 4 + n):
        nodes.append(GraphNode(a, OP, "AddBackward0", ()))
        edges += [(3, a)] + ([(a - 1, a)] if a > 4 else [])
    nodes.append(GraphNode(4 + n, ROOT, "MulBackward0", ()))
    edges.append((3 + n, 4 + n))
    return Graph(tuple(nodes), tuple(edges), 4 + n)


def op_chain(n: int) -> Graph:
    names = ("MulBackward0", "AddBackward0", "TanhBackward0")
    nodes = [GraphNode(0, LEAF, "x", (16,))] + [
        GraphNode(i, ROOT if i == n - 1 else OP, names[i % 3], (16,)) for i in range(1, n)]
    return Graph(tuple(nodes), tuple((i - 1, i) for i in range(1, n)), n - 1)


def random_dag(n: int, seed: int = 0) -> Graph:
    """A chain of n ops plus, for every other node, an edge from a random earlier node."""
    rng = random.Random(seed)
    names = ("MulBackward0", "AddBackward0", "TanhBackward0", "SubBackward0")
    nodes = [GraphNode(0, LEAF, "x", (4,))] + [
        GraphNode(i, ROOT if i == n - 1 else OP, rng.choice(names), (4,)) for i in range(1, n)]
    edges = [(i - 1, i) for i in range(1, n)]
    edges += [(rng.randrange(0, i - 1), i) for i in range(2, n) if rng.random() < 0.5]
    return Graph(tuple(nodes), tuple(edges), n - 1)


def measure(graph: Graph, options: CollapseOptions, rounds: int, timeout: float):
    times, lay = [], None
    for _ in range(rounds):
        clear_cache()
        t0 = time.perf_counter()
        lay = layout_graph(graph, options, timeout=timeout)
        times.append(time.perf_counter() - t0)
    hits = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        layout_graph(graph, options, timeout=timeout)
        hits.append(time.perf_counter() - t0)
    return statistics.median(times), statistics.median(hits), lay


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT)
    ap.add_argument("--uncollapsed", action="store_true")
    args = ap.parse_args()
    default = CollapseOptions()
    cases = [
        ("builtin sum, 100 elements", builtin_sum(100), default, args.rounds),
        ("builtin sum, 500 elements", builtin_sum(500), default, args.rounds),
        ("builtin sum, 2,000 elements", builtin_sum(2000), default, args.rounds),
        ("chain, 2,000 distinct ops", op_chain(2000), default, args.rounds),
        ("random DAG, 1,000 nodes", random_dag(1000), default, min(args.rounds, 3)),
    ]
    if args.uncollapsed:
        cases.append(("builtin sum, 100, uncollapsed", builtin_sum(100),
                      CollapseOptions(chains=False, fans=False), min(args.rounds, 3)))
    print(f"{'case':32} {'boxes':>6} {'layout s':>9} {'cache hit ms':>13}  engine")
    for name, graph, opts, rounds in cases:
        seconds, hit, lay = measure(graph, opts, rounds, args.timeout)
        how = lay.engine + (" (degraded)" if lay.degraded else "")
        print(f"{name:32} {len(lay.boxes):6d} {seconds:9.3f} {hit * 1e3:13.2f}  {how}",
              flush=True)
    print(f"median of {args.rounds} runs (3 for the slow cases), dot timeout {args.timeout:g} s")


if __name__ == "__main__":
    main()
