"""Failure propagation over an integer-indexed dependency graph, vectorised with numpy.

Nodes are ``0..n-1``; an edge ``src -> dst`` says *src depends on dst*. Each edge is
``HARD`` (src cannot work without dst) or ``SOFT`` (src works, less well, without dst).
Each node has a gate:

* ``ALL``: the node is down as soon as any one of its hard dependencies is down;
* ``ANY``: the node's hard dependencies are alternatives (redundant copies, a second
  provider); it is down only when every one of them is down.

A node that nothing has made down is *touched* (degraded) when it can reach a down node
through dependency edges of any kind: something it relies on, directly or through other
components, has stopped. Down takes precedence over touched.

Cut-offs happen in phases (a time in hours and the nodes that stop then). The result holds,
per node, the earliest time it is down and the earliest time it is touched, and the
dependency through which that happened, so that the full chain back to a cut node can be
followed. Propagation is a level-synchronous breadth-first search over a reverse CSR
adjacency: each level gathers all edges of the frontier in one vectorised step, so the
work is O(nodes + edges) with a small number of numpy calls per level.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

HARD = 0
SOFT = 1
ALL = 0
ANY = 1

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class Graph:
    """Reverse adjacency (dependency -> dependents) in CSR form plus per-node gates."""

    n: int
    gate: NDArray[np.int8]
    rev_ptr: IntArray  # length n + 1, indexed by the dependency
    rev_dep: IntArray  # the dependent node of each edge
    rev_kind: NDArray[np.int8]
    n_hard: IntArray  # number of hard dependencies per node (alternatives for ANY nodes)

    @property
    def edges(self) -> int:
        return int(self.rev_dep.shape[0])


def build_graph(
    n: int,
    src: Sequence[int] | IntArray,
    dst: Sequence[int] | IntArray,
    kind: Sequence[int] | NDArray[np.int8] | None = None,
    gate: Sequence[int] | NDArray[np.int8] | None = None,
) -> Graph:
    """Build the reverse CSR from edge lists (``src`` depends on ``dst``)."""
    s = np.asarray(src, dtype=np.int64)
    d = np.asarray(dst, dtype=np.int64)
    if s.shape != d.shape:
        raise ValueError("src and dst must have the same length")
    k = np.zeros(s.shape, dtype=np.int8) if kind is None else np.asarray(kind, dtype=np.int8)
    g = np.zeros(n, dtype=np.int8) if gate is None else np.asarray(gate, dtype=np.int8)
    if s.size and (min(int(s.min()), int(d.min())) < 0 or max(int(s.max()), int(d.max())) >= n):
        raise ValueError("edge endpoint out of range")
    if g.shape != (n,) or k.shape != s.shape:
        raise ValueError("gate must have one entry per node and kind one per edge")
    order = np.argsort(d, kind="stable")
    counts = np.bincount(d, minlength=n)
    ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=ptr[1:])
    n_hard = np.bincount(s[k == HARD], minlength=n).astype(np.int64)
    return Graph(
        n=n,
        gate=g,
        rev_ptr=ptr,
        rev_dep=s[order],
        rev_kind=k[order],
        n_hard=n_hard,
    )


@dataclass(frozen=True)
class Propagation:
    """Earliest down/touched time per node (``inf`` = never) and the edge that explains it."""

    down_at: FloatArray
    down_cause: IntArray  # the dependency that brought the node down; -1 for cut nodes
    touched_at: FloatArray
    touched_cause: IntArray  # the dependency through which the node was touched

    def down_path(self, node: int) -> list[int]:
        """``node`` and the chain of dependencies that took it down, ending at a cut node."""
        path = [node]
        while self.down_cause[path[-1]] >= 0 and len(path) <= self.down_cause.shape[0]:
            path.append(int(self.down_cause[path[-1]]))
        return path

    def touched_path(self, node: int) -> list[int]:
        """For a touched node: the chain to the first down node, then that node's chain."""
        path = [node]
        cur = node
        while not np.isfinite(self.down_at[cur]) or self.down_at[cur] > self.touched_at[node]:
            nxt = int(self.touched_cause[cur])
            if nxt < 0 or len(path) > self.touched_cause.shape[0]:
                break
            path.append(nxt)
            cur = nxt
        return path[:-1] + self.down_path(cur)


def _gather(ptr: IntArray, frontier: IntArray) -> tuple[IntArray, IntArray]:
    """Edge indices of all nodes in ``frontier`` and, per edge, the frontier node."""
    starts = ptr[frontier]
    counts = ptr[frontier + 1] - starts
    total = int(counts.sum())
    if total == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    excl = np.cumsum(counts) - counts
    idx = np.repeat(starts - excl, counts) + np.arange(total, dtype=np.int64)
    return idx, np.repeat(frontier, counts)


def propagate(
    graph: Graph, phases: Sequence[tuple[float, Sequence[int] | IntArray]]
) -> Propagation:
    """Propagate cut-offs given as ``(time, nodes)`` phases; times need not be sorted."""
    n = graph.n
    down_at = np.full(n, np.inf)
    down_cause = np.full(n, -1, dtype=np.int64)
    touched_at = np.full(n, np.inf)
    touched_cause = np.full(n, -1, dtype=np.int64)
    remaining = graph.n_hard.copy()  # live alternatives of ANY nodes
    last_src = np.full(n, -1, dtype=np.int64)
    is_any = graph.gate == ANY
    for t, seeds in sorted(phases, key=lambda p: p[0]):
        seed = np.unique(np.asarray(seeds, dtype=np.int64))
        frontier = seed[np.isinf(down_at[seed])]
        down_at[frontier] = t
        newly_down = [frontier]
        while frontier.size:
            idx, src = _gather(graph.rev_ptr, frontier)
            hard = graph.rev_kind[idx] == HARD
            dep = graph.rev_dep[idx][hard]
            src = src[hard]
            anyd = is_any[dep]
            all_dep, all_src = dep[~anyd], src[~anyd]
            any_dep, any_src = dep[anyd], src[anyd]
            if any_dep.size:
                uniq, cnt = np.unique(any_dep, return_counts=True)
                remaining[uniq] -= cnt
                last_src[any_dep] = any_src
                gone = uniq[remaining[uniq] <= 0]
                all_dep = np.concatenate([all_dep, gone])
                all_src = np.concatenate([all_src, last_src[gone]])
            fresh = np.isinf(down_at[all_dep])
            cand, cause = all_dep[fresh], all_src[fresh]
            down_at[cand] = t
            down_cause[cand] = cause
            frontier = np.unique(cand)
            newly_down.append(frontier)
        # everything that depends, by any edge, on a node that is now down is touched
        frontier = np.concatenate(newly_down)
        frontier = frontier[np.isinf(touched_at[frontier])]
        touched_at[frontier] = t
        while frontier.size:
            idx, src = _gather(graph.rev_ptr, frontier)
            dep = graph.rev_dep[idx]
            fresh = np.isinf(touched_at[dep])
            cand, cause = dep[fresh], src[fresh]
            touched_at[cand] = t
            touched_cause[cand] = cause
            frontier = np.unique(cand)
    return Propagation(down_at, down_cause, touched_at, touched_cause)
