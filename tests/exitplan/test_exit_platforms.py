"""Exit per target platform, sized from the register, with correlated durations."""

from __future__ import annotations

import json
import shutil
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sovmap.cli import main
from sovmap.exitplan.api import plan_register_exit
from sovmap.exitplan.build import ExitTarget, build_plan, load_exit_settings
from sovmap.exitplan.catalogue import default_templates
from sovmap.exitplan.schedule import forecast
from sovmap.register.files import load_register_dir

EXAMPLE = Path(__file__).parents[2] / "examples" / "register"
M365 = Path(__file__).parents[2] / "examples" / "scenario" / "ldh-exit-m365.yaml"
CAPS = ["identity", "mailbox", "office-suite", "collaboration", "file-sharing",
        "device-management", "saas", "iaas", "chat", "email"]  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(CAPS), st.one_of(st.none(), st.integers(1, 100_000))),
        min_size=1,
        max_size=8,
    )
)
def test_property_no_shared_task_is_planned_twice(items: list[tuple[str, int | None]]) -> None:
    tpl = default_templates()
    targets = tuple(
        ExitTarget(f"s{i}", f"S{i}", cap, "p", users=users) for i, (cap, users) in enumerate(items)
    )
    plan = build_plan(targets)
    ids = [t.id for t in plan.tasks]
    assert len(ids) == len(set(ids))
    shared = Counter((t.group, t.step) for t in plan.tasks if not t.service)
    assert all(n == 1 for n in shared.values()), shared
    # one procurement per lot: one per platform present, one per stand-alone service
    platforms = {tpl.platform_of(tpl.canonical(c)) or f"s{i}" for i, (c, _) in enumerate(items)}
    assert sum(1 for t in plan.tasks if t.step == "procure") == len(platforms)
    # every service moving to a platform waits for that platform's build
    for t in targets:
        plat = tpl.platform_of(tpl.canonical(t.capability))
        if plat and any(x.id == f"{plat}/build" for x in plan.tasks):
            own = [x for x in plan.tasks if x.service == t.service]
            reach = _ancestors(plan, [x.id for x in own])
            assert f"{plat}/build" in reach or not own


def _ancestors(plan: object, ids: list[str]) -> set[str]:
    preds = {t.id: t.after for t in plan.tasks}  # type: ignore[attr-defined]
    seen: set[str] = set()
    stack = list(ids)
    while stack:
        i = stack.pop()
        for a in preds.get(i, ()):
            if a not in seen:
                seen.add(a)
                stack.append(a)
    return seen


def test_example_platforms_plan_identity_once() -> None:
    rep = plan_register_exit(load_register_dir(EXAMPLE), settings=load_exit_settings(M365),
                             runs=500, seed=1)  # fmt: skip
    ids = [t.id for t in rep.baseline.plan.tasks]
    assert rep.platforms == {
        "workplace": ("exchange-online", "teams", "sharepoint-online"),
        "identity": ("entra-id",),
        "devices": ("intune",),
    }
    assert sum(1 for i in ids if i.endswith("/procure")) == 3  # one per lot
    assert sum(1 for i in ids if i.endswith("/mfa")) == 1
    assert {
        "workplace/dpia",
        "workplace/works-council",
        "workplace/bio",
        "workplace/archive",
    } <= set(ids)


def _users(tmp_path: Path, users: int) -> Path:
    reg = tmp_path / f"reg{users}"
    shutil.copytree(EXAMPLE, reg)
    svc = reg / "services.yaml"
    text = svc.read_text(encoding="utf-8")
    assert text.count("users: 28000") == 5
    svc.write_text(text.replace("users: 28000", f"users: {users}"), encoding="utf-8")
    return reg


def test_size_moves_the_forecast(tmp_path: Path) -> None:
    """Every service's users 28,000 -> 60 moves P50 by at least 15 %."""
    st_ = load_exit_settings(M365)
    big = plan_register_exit(load_register_dir(_users(tmp_path, 28000)), settings=st_,
                             runs=4000, seed=11)  # fmt: skip
    small = plan_register_exit(load_register_dir(_users(tmp_path, 60)), settings=st_,
                               runs=4000, seed=11)  # fmt: skip
    p_big, p_small = big.baseline.forecast.p50, small.baseline.forecast.p50
    assert p_small <= 0.85 * p_big, (p_big, p_small)
    migrate = {t.id: t for t in small.baseline.plan.tasks}["exchange-online/migrate"]
    assert migrate.size_factor == pytest.approx(0.05)  # clamped at the curve's minimum


def test_raising_rho_widens_p10_p90() -> None:
    rep = plan_register_exit(load_register_dir(EXAMPLE), settings=load_exit_settings(M365),
                             runs=200, seed=3)  # fmt: skip
    plan = rep.baseline.plan
    widths = []
    for rho in (0.0, 0.3, 0.6, 0.9):
        fc, _ = forecast(replace(plan, correlation=rho), runs=6000, seed=5)
        widths.append(fc.p90 - fc.p10)
    assert widths == sorted(widths) and widths[-1] > 1.5 * widths[0], widths


def test_correlation_keeps_each_task_marginal() -> None:
    rep = plan_register_exit(load_register_dir(EXAMPLE), settings=load_exit_settings(M365),
                             runs=200, seed=3)  # fmt: skip
    import numpy as np

    from sovmap.exitplan.schedule import sample_durations

    plan = replace(rep.baseline.plan, risks=())
    a = sample_durations(replace(plan, correlation=0.0), 20000, np.random.default_rng(1))
    b = sample_durations(replace(plan, correlation=0.8), 20000, np.random.default_rng(1))
    # same draws per task, re-ordered: identical marginals, correlated columns
    assert np.allclose(np.sort(a[:, 0]), np.sort(b[:, 0]))
    corr = np.corrcoef(b[:, :6], rowvar=False)[np.triu_indices(6, 1)]
    assert corr.mean() > 0.6 and abs(np.corrcoef(a[:, :6], rowvar=False)[0, 1]) < 0.05


def test_exit_json_interface_and_gap(capsys: pytest.CaptureFixture[str]) -> None:
    t0 = time.perf_counter()
    assert main(["exit", "plan", str(EXAMPLE), "--deadline", "9mo", "--format", "json",
                 "--seed", "2"]) == 0  # fmt: skip
    elapsed = time.perf_counter() - t0
    data = json.loads(capsys.readouterr().out)
    assert data["p50_days"] > 0 and data["p90_days"] >= data["p50_days"]
    low, high = data["p_deadline"]["low"], data["p_deadline"]["high"]
    assert 0.0 <= low <= high <= 1.0
    assert data["correlation"] == {"default": 0.5, "low": 0.2, "high": 0.8}
    assert data["baseline"]["forecast"]["runs"] == 10_000
    assert data["gaps"] and all("gap_weeks" in g for g in data["gaps"])
    assert elapsed < 120  # three forecasts of 10,000 runs; printed in the docs, not a benchmark
    assert main(["exit", "plan", str(EXAMPLE), "--deadline", "9mo", "--runs", "500"]) == 0
    out = capsys.readouterr().out
    assert "over rho 0.2-0.8" in out and "Uncovered gap after an acute cut-off" in out
    assert "Processes with a gap:" in out and "Task delays are correlated" in out


def test_gantt_grouped_per_platform_with_dates(tmp_path: Path) -> None:
    from datetime import date

    from sovmap.exitplan.render import gantt_html, gantt_png, gantt_rows, task_label

    rep = plan_register_exit(load_register_dir(EXAMPLE), settings=load_exit_settings(M365),
                             deadline="9mo", runs=300, seed=1)  # fmt: skip
    groups = [g for g, _ in gantt_rows(rep)]
    assert groups == ["identity", "workplace", "devices"]
    labels = [task_label(st) for _, items in gantt_rows(rep) for st in items]
    assert all(len(x) <= 46 and not x.endswith(("-", " ")) for x in labels)
    page = gantt_html(rep)
    assert "<b>workplace</b>" in page and f"deadline {date.today().year}" not in page
    assert "P50 20" in page  # the P50 marker carries its calendar date
    png = tmp_path / "g.png"
    gantt_png(rep, png, start=date(2026, 12, 5))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_targets_follow_control_through_the_supply_chain() -> None:
    """The contracted service is the unit to leave; hosting it runs on is the supplier's."""
    rep = plan_register_exit(load_register_dir(EXAMPLE), runs=200, seed=1)
    by_id = {t.service: t for t in rep.targets}
    assert "aws-frankfurt" not in by_id and "azure-westeurope" not in by_id
    assert {p for p, _ in by_id["contact-centre"].suppliers} >= {"aws-emea"}
    assert by_id["contact-centre"].jurisdiction == "NL"  # its own provider is Dutch
    assert {p for p, _ in by_id["zaaksysteem"].suppliers} >= {"microsoft-ireland"}
    # selecting EU leaves it too: it is controlled from NL itself
    eu = plan_register_exit(load_register_dir(EXAMPLE), runs=200, seed=1, jurisdictions=("EU",))
    assert {t.service for t in eu.targets} >= {"contact-centre"}  # Dutch-controlled itself


def test_sensitivity_table_ranks_what_moves_the_date() -> None:
    rep = plan_register_exit(load_register_dir(EXAMPLE), settings=load_exit_settings(M365),
                             runs=1000, seed=4, sensitivity=True)  # fmt: skip
    p50 = rep.baseline.forecast.p50
    moves = [abs(x - p50) for _, x, _ in rep.sensitivity]
    assert moves == sorted(moves, reverse=True) and len(moves) == 7
    table = {a: (x, y) for a, x, y in rep.sensitivity}
    assert table["estimates 25 % longer"][0] > p50
    assert table["target platforms already built (prebuilt-fallback)"][0] < p50
    # correlation barely moves the median but widens the tail
    assert (
        table["correlation rho 0.8 instead of 0.5"][1] > table["independent durations (rho 0)"][1]
    )


def test_gantt_svg_for_report_and_web() -> None:
    from datetime import date

    from sovmap.report.gantt import gantt_svg

    rep = plan_register_exit(load_register_dir(EXAMPLE), settings=load_exit_settings(M365),
                             deadline="9mo", runs=300, seed=1)  # fmt: skip
    svg = str(gantt_svg(rep))
    assert svg.startswith("<svg") and svg.count('class="mark"') == 3
    for group in ("identity", "workplace", "devices"):
        assert f'data-from="plan">{group}</text>' in svg
    # calendar months on the axis, in the chart's language
    assert f"Jan {date.today().year + 1}<" in svg
    assert "deadline " in svg and "P50 " in svg and "P90 " in svg
    nl = str(gantt_svg(rep, "nl"))
    assert f"jan {date.today().year + 1}<" in nl and "termijn " in nl and "maanden" in nl
    assert "deadline" not in nl and "months" not in nl


def test_gap_with_a_lasting_fallback_is_zero_and_valid_json() -> None:
    from sovmap.exitplan.gap import uncovered_gaps
    from sovmap.scenario.cutoff import cut_off
    from sovmap.scenario.model import Selector

    reg = load_register_dir(EXAMPLE)
    proc = reg.processes["aangifte-ib"]
    lasting = replace(proc, fallback_days=replace(proc.fallback_days, value=None))
    reg = replace(reg, processes={**reg.processes, "aangifte-ib": lasting})
    rep = plan_register_exit(reg, runs=300, seed=1)
    gaps = {
        g.process: g for g in uncovered_gaps(reg, cut_off(reg, Selector(jurisdiction="US")), rep)
    }
    g = gaps["aangifte-ib"]
    assert g.gap_weeks == (0.0, 0.0) and not g.has_gap
    assert json.loads(json.dumps(g.to_json(), allow_nan=False))["fallback_weeks"] == "inf"
    # without a fallback the gap is the whole time until the replacement is in use
    w = gaps["werkplek"]
    assert w.fallback_weeks is None and w.gap_weeks == pytest.approx(w.replacement_weeks)
