"""Benchmark (not a test): cut-off propagation and the Monte-Carlo exit-plan forecast.

Targets from issue 6, on a 2-core machine:
  * propagation on a generated graph of 100,000 nodes and 1,000,000 edges in under 2 s;
  * 10,000 Monte-Carlo runs of a 500-task plan in under 5 s.

The graph is layered like an inventory: providers at the bottom, then services that depend
on providers and on other services, data assets (ANY over the services storing them) and
processes on top; 30% of edges are soft. A cut stops 5% of the providers (a jurisdiction).
The plan has 500 tasks in 25 dependencies, 8 teams of capacity 3, random precedence within
and across dependencies, PERT estimates.

    .venv/bin/python bench/scenario_bench.py [--repeat 3] [--seed 1]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from sovmap.exitplan.model import Distribution, Estimate, Plan, Task
from sovmap.exitplan.schedule import forecast
from sovmap.scenario.engine import ALL, ANY, build_graph, propagate

NODES, EDGES = 100_000, 1_000_000
TASKS, RUNS = 500, 10_000


def make_graph(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Edges point from a dependent to a dependency in a lower layer (or the same layer)."""
    layers = np.array([2_000, 38_000, 10_000, 50_000])  # providers, services, data, processes
    starts = np.concatenate([[0], np.cumsum(layers)[:-1]])
    layer_of = np.repeat(np.arange(4), layers)
    src = rng.integers(layers[0], NODES, EDGES)  # providers depend on nothing here
    lay = layer_of[src]
    # a dependency in a lower layer (services may also depend on services)
    lower = np.maximum(lay - rng.integers(1, 3, EDGES), 0)
    same = (lay == 1) & (rng.random(EDGES) < 0.3)
    target_layer = np.where(same, 1, lower)
    dst = starts[target_layer] + (rng.random(EDGES) * layers[target_layer]).astype(np.int64)
    dst = np.where(dst == src, starts[0], dst)
    kind = (rng.random(EDGES) < 0.3).astype(np.int8)
    gate = np.where(layer_of == 2, ANY, ALL).astype(np.int8)
    return src, dst, kind, gate


def make_plan(rng: np.random.Generator) -> Plan:
    tasks = []
    per = TASKS // 25
    for i in range(TASKS):
        g = i // per
        local = [f"t{j}" for j in range(g * per, i) if rng.random() < 0.15]
        cross = [f"t{j}" for j in rng.integers(0, g * per, 1)] if g and rng.random() < 0.1 else []
        a = float(rng.uniform(1, 20))
        m = a + float(rng.uniform(0, 30))
        b = m + float(rng.uniform(0, 60))
        tasks.append(
            Task(
                f"t{i}",
                f"task {i}",
                f"team{int(rng.integers(0, 8))}",
                Estimate(a, m, b),
                tuple(dict.fromkeys(local + cross)),
                group=f"g{g}",
            )
        )
    return Plan(tuple(tasks), {f"team{k}": 3 for k in range(8)}, Distribution.PERT)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)

    src, dst, kind, gate = make_graph(rng)
    t0 = time.perf_counter()
    graph = build_graph(NODES, src, dst, kind, gate)
    t_build = time.perf_counter() - t0
    seeds = rng.choice(2_000, 100, replace=False)
    times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        prop = propagate(graph, [(0.0, seeds)])
        times.append(time.perf_counter() - t0)
    down = int(np.isfinite(prop.down_at).sum())
    touched = int(np.isfinite(prop.touched_at).sum())
    best = min(times)
    ok1 = best + t_build < 2.0
    print(
        f"propagation: {NODES:,} nodes, {graph.edges:,} edges; {down:,} down, {touched:,} "
        f"touched; CSR build {t_build:.3f} s, propagation best {best:.3f} s of {args.repeat} "
        f"-> {'PASS' if ok1 else 'FAIL'} (target build + propagation < 2 s)"
    )

    plan = make_plan(rng)
    times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        fc, _ = forecast(plan, runs=RUNS, seed=args.seed, deadline=365.0)
        times.append(time.perf_counter() - t0)
    best = min(times)
    ok2 = best < 5.0
    print(
        f"monte-carlo: {TASKS} tasks, {RUNS:,} runs; P50 {fc.p50:.0f} d, P90 {fc.p90:.0f} d; "
        f"best {best:.3f} s of {args.repeat} -> {'PASS' if ok2 else 'FAIL'} (target < 5 s)"
    )
    return 0 if ok1 and ok2 else 1


if __name__ == "__main__":
    raise SystemExit(main())
