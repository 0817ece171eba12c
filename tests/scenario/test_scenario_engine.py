from __future__ import annotations

import itertools
import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sovmap.scenario.durations import DurationError, format_duration, parse_duration
from sovmap.scenario.engine import ALL, ANY, HARD, SOFT, build_graph, propagate


def test_chain_cycle_and_any_gate() -> None:
    # 0 -> 1 -> 2 (hard chain); 3 <-> 4 cycle, 4 -> 2; 5 is ANY over {2, 6}; 7 soft on 2
    src = [0, 1, 3, 4, 4, 5, 5, 7]
    dst = [1, 2, 4, 3, 2, 2, 6, 2]
    kind = [HARD] * 7 + [SOFT]
    gate = [ALL] * 8
    gate[5] = ANY
    g = build_graph(8, src, dst, kind, gate)
    p = propagate(g, [(0.0, [2])])
    assert [math.isfinite(x) for x in p.down_at] == [1, 1, 1, 1, 1, 0, 0, 0]
    assert p.down_path(0) == [0, 1, 2]
    assert p.down_path(3) == [3, 4, 2]
    assert math.isfinite(p.touched_at[5]) and math.isfinite(p.touched_at[7])
    assert p.touched_path(7) == [7, 2]
    assert not math.isfinite(p.touched_at[6])
    # stopping the other alternative later takes the ANY node down then
    p2 = propagate(g, [(5.0, [6]), (0.0, [2])])
    assert p2.down_at[5] == 5.0 and p2.down_path(5) == [5, 6]


def _naive(n: int, edges: list[tuple[int, int, int]], gate: list[int], seeds: set[int]) -> set[int]:
    down = set(seeds)
    changed = True
    while changed:
        changed = False
        for v in range(n):
            if v in down:
                continue
            hard = [d for s, d, k in edges if s == v and k == HARD]
            if gate[v] == ALL:
                hit = any(d in down for d in hard)
            else:
                hit = bool(hard) and all(d in down for d in hard)
            if hit:
                down.add(v)
                changed = True
    return down


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_matches_naive_fixpoint(data: st.DataObject) -> None:
    n = data.draw(st.integers(1, 12))
    edges = data.draw(
        st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1), st.sampled_from([0, 1])))
    )
    gate = data.draw(st.lists(st.sampled_from([ALL, ANY]), min_size=n, max_size=n))
    seeds = data.draw(st.sets(st.integers(0, n - 1), min_size=1))
    g = build_graph(n, [e[0] for e in edges], [e[1] for e in edges], [e[2] for e in edges], gate)
    p = propagate(g, [(0.0, sorted(seeds))])
    got = {i for i in range(n) if math.isfinite(p.down_at[i])}
    assert got == _naive(n, edges, gate, seeds)
    for v in got:  # every explanation is a real chain of hard edges ending at a seed
        path = p.down_path(v)
        assert path[-1] in seeds
        for a, b in itertools.pairwise(path):
            assert (a, b, HARD) in edges
    reach = {i for i in range(n) if math.isfinite(p.touched_at[i])}
    # touched = everything that reaches a down node through edges of any kind
    expect = set(got)
    grew = True
    while grew:
        grew = False
        for s, d, _ in edges:
            if d in expect and s not in expect:
                expect.add(s)
                grew = True
    assert reach == expect
    for v in reach - got:
        path = p.touched_path(v)
        assert path[-1] in seeds
        for a, b in itertools.pairwise(path):
            assert any(e[0] == a and e[1] == b for e in edges)
    # monotone: stopping more never brings anything back up
    more = propagate(g, [(0.0, sorted(seeds | {0}))])
    assert got <= {i for i in range(n) if math.isfinite(more.down_at[i])}


def test_durations() -> None:
    assert parse_duration("4h") == 4.0
    assert parse_duration("1w2d") == 9 * 24.0
    assert parse_duration("9mo") == 9 * 730.5
    assert math.isinf(parse_duration("permanent"))
    assert format_duration(36.0) == "36h" and format_duration(9 * 730.5) == "9mo"
    for bad in ("", "9", "nine months", "3x"):
        try:
            parse_duration(bad)
        except DurationError:
            continue
        raise AssertionError(bad)


def test_build_graph_rejects_bad_edges() -> None:
    try:
        build_graph(2, [0], [5])
    except ValueError as exc:
        assert "out of range" in str(exc)
    else:
        raise AssertionError
    assert build_graph(3, np.array([], dtype=np.int64), np.array([], dtype=np.int64)).edges == 0
