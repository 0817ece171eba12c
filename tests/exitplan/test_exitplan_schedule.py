from __future__ import annotations

import math

import numpy as np
import pytest

from sovmap.exitplan.model import Distribution, Estimate, Plan, PlanError, Task
from sovmap.exitplan.schedule import forecast, priority_order, schedule


def _fixed(d: float) -> Estimate:
    return Estimate(d, d, d)


def _plan(teams: dict[str, int]) -> Plan:
    return Plan(
        tasks=(
            Task("t1", "t1", "A", _fixed(3)),
            Task("t2", "t2", "A", _fixed(2)),
            Task("t3", "t3", "B", _fixed(4), after=("t1",)),
            Task("t4", "t4", "B", _fixed(1), after=("t1",)),
            Task("t5", "t5", "B", _fixed(2), after=("t1",)),
            Task("t6", "t6", "A", _fixed(1), after=("t3", "t2")),
        ),
        teams=teams,
    )


def test_list_schedule_with_precedence_and_capacity() -> None:
    plan = _plan({"A": 1, "B": 2})
    # tails: t1 = 3 + 5, t3 = 4 + 1, t2 = 2 + 1, t5 = 2, t4 = 1, t6 = 1
    assert [plan.tasks[i].id for i in priority_order(plan)] == ["t1", "t3", "t2", "t5", "t4", "t6"]
    s = schedule(plan)
    got = {st.task.id: (st.start, st.finish, st.lane) for st in s.tasks}
    assert got == {
        "t1": (0, 3, 0),
        "t3": (3, 7, 0),
        "t2": (3, 5, 0),  # team A has one slot, busy with t1 until 3
        "t5": (3, 5, 1),
        "t4": (5, 6, 1),  # both B slots busy until 5
        "t6": (7, 8, 0),
    }
    assert s.makespan == 8


def test_capacity_one_serialises_and_unlimited_is_critical_path() -> None:
    tight = schedule(_plan({"A": 1, "B": 1}))
    # B: t3 3-7, t5 7-9, t4 9-10; A: t1 0-3, t2 3-5, t6 7-8
    assert tight.makespan == 10
    free = schedule(_plan({"A": 0, "B": 0}))
    assert {st.task.id: st.start for st in free.tasks} == {
        "t1": 0,
        "t2": 0,
        "t3": 3,
        "t4": 3,
        "t5": 3,
        "t6": 7,
    }
    assert free.makespan == 8


def test_deterministic_forecast_and_deadline() -> None:
    plan = _plan({"A": 1, "B": 2})
    fc, spans = forecast(plan, runs=50, seed=1, deadline=8.0)
    assert fc.p50 == fc.p90 == 8.0 and fc.p_deadline == 1.0 and spans.shape == (50,)
    assert forecast(plan, runs=10, seed=1, deadline=7.99)[0].p_deadline == 0.0


def _irwin_hall_cdf(x: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros_like(x)
    for k in range(n + 1):
        term = (-1) ** k * math.comb(n, k) * np.clip(x - k, 0, None) ** n
        out += term
    return out / math.factorial(n)


@pytest.mark.parametrize("shape", ["chain", "one-slot"])
def test_monte_carlo_matches_irwin_hall(shape: str) -> None:
    """Four U(0,1) tasks that must run one after another: the makespan is Irwin-Hall(4).

    Either through precedence (a chain) or through capacity (four independent tasks for a
    team with one slot). N = 20,000 runs: the mean (2) has a standard error of
    sqrt(1/3 / N) = 0.0041 and the variance (1/3) one of about 0.0031 (kurtosis 2.7), so a
    tolerance of four standard errors is 0.017 and 0.013; the Kolmogorov-Smirnov distance
    at significance 0.001 is 1.95 / sqrt(N) = 0.0138.
    """
    n, runs = 4, 20_000
    u = Estimate(0.0, 0.5, 1.0)
    if shape == "chain":
        tasks = tuple(
            Task(f"t{i}", "", "T", u, after=(f"t{i - 1}",) if i else ()) for i in range(n)
        )
        teams = {"T": 0}
    else:
        tasks = tuple(Task(f"t{i}", "", "T", u) for i in range(n))
        teams = {"T": 1}
    plan = Plan(tasks, teams, Distribution.UNIFORM)
    fc, spans = forecast(plan, runs=runs, seed=20260101)
    assert abs(fc.mean - 2.0) < 0.017
    assert abs(spans.var(ddof=1) - 1 / 3) < 0.013
    xs = np.sort(spans)
    cdf = _irwin_hall_cdf(xs, n)
    ecdf_hi = np.arange(1, runs + 1) / runs
    ecdf_lo = np.arange(0, runs) / runs
    d = max(float(np.max(ecdf_hi - cdf)), float(np.max(cdf - ecdf_lo)))
    assert d < 1.95 / math.sqrt(runs)
    assert abs(fc.p50 - 2.0) < 0.03  # the median of Irwin-Hall(4) is 2 (symmetry)


def test_parallel_slots_give_the_maximum() -> None:
    # four independent U(0,1) tasks on four slots: makespan = max, P(X <= x) = x**4
    tasks = tuple(Task(f"t{i}", "", "T", Estimate(0, 0.5, 1)) for i in range(4))
    fc, _ = forecast(Plan(tasks, {"T": 4}, Distribution.UNIFORM), runs=20_000, seed=3)
    assert abs(fc.p50 - 0.5**0.25) < 0.01
    assert abs(fc.p90 - 0.9**0.25) < 0.01


@pytest.mark.parametrize(
    ("dist", "mean", "var"),
    [(Distribution.PERT, 1.5, 1.5 * 3.5 / 7), (Distribution.TRIANGULAR, 2.0, 21 / 18)],
)
def test_three_point_distributions(dist: Distribution, mean: float, var: float) -> None:
    plan = Plan((Task("t", "", "T", Estimate(0, 1, 5)),), {"T": 1}, dist)
    fc, spans = forecast(plan, runs=40_000, seed=7)
    se = math.sqrt(var / 40_000)
    assert abs(fc.mean - mean) < 4 * se
    assert abs(spans.var() - var) < 0.05 * var
    assert spans.min() >= 0 and spans.max() <= 5


def test_plan_errors_name_task_and_field() -> None:
    with pytest.raises(PlanError, match=r"task 'b': field after: unknown task 'zz'"):
        Plan((Task("b", "", "T", _fixed(1), after=("zz",)),), {"T": 1}).validate()
    with pytest.raises(PlanError, match="cycle"):
        priority_order(
            Plan(
                (
                    Task("a", "", "T", _fixed(1), after=("b",)),
                    Task("b", "", "T", _fixed(1), after=("a",)),
                ),
                {"T": 1},
            )
        )
    with pytest.raises(PlanError, match="field estimate"):
        Plan((Task("a", "", "T", Estimate(3, 2, 4)),), {"T": 1}).validate()
    with pytest.raises(PlanError, match="field team"):
        Plan((Task("a", "", "X", _fixed(1)),), {"T": 1}).validate()
