"""``sovmap exit``: plan leaving foreign-controlled services and forecast how long it takes.

A shell over :func:`sovmap.exitplan.api.plan_register_exit`: parse, read, call, print."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from sovmap.exitplan.api import plan_register_exit
from sovmap.exitplan.build import WhatIf, load_exit_settings, parse_what_if
from sovmap.exitplan.catalogue import options_for
from sovmap.exitplan.gap import Gap, gap_lines, uncovered_gaps
from sovmap.exitplan.model import PlanError
from sovmap.exitplan.render import gantt_html, gantt_png, render_text
from sovmap.register.files import load_register_dir
from sovmap.scenario.cutoff import cut_off
from sovmap.scenario.model import ScenarioError, Selector


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "exit",
        help="exit plans: European options, migration schedule, Monte-Carlo forecast",
        description="Plan leaving foreign-controlled services. "
        "Example: sovmap exit plan examples/register --deadline 9mo",
    )
    es = p.add_subparsers(dest="exit_command", metavar="ACTION", required=True)
    plan = es.add_parser(
        "plan",
        help="build the plan from a register and forecast its duration",
        description="Build an exit plan for a register directory from the default migration "
        "templates (or exit-plan settings), schedule it with team capacities and run a "
        "Monte-Carlo forecast; state the probability of finishing before the deadline. "
        "Example: sovmap exit plan examples/register --deadline 9mo --what-if capacity+2 "
        "--what-if prebuilt-fallback --html plan.html",
    )
    plan.add_argument("path", type=Path, help="register directory")
    plan.add_argument("--deadline", default="", help="e.g. 9mo, 18mo, 2y")
    plan.add_argument("--runs", type=int, default=10_000, help="Monte-Carlo runs (default 10000)")
    plan.add_argument("--seed", type=int, default=None, help="random seed (reproducible runs)")
    plan.add_argument("--settings", type=Path, help="exit-plan settings YAML (exit.schema.json)")
    plan.add_argument(
        "--jurisdiction",
        action="append",
        default=[],
        help="leave services controlled from here: ISO code, EU or non-EU (default US; repeatable)",
    )
    plan.add_argument(
        "--what-if",
        action="append",
        default=[],
        dest="what_if",
        help="prebuilt-fallback[=CAP], data-backup[=CAP], capacity+N, capacity*K, "
        "capacity:TEAM=N (repeatable; compared side by side)",
    )
    plan.add_argument("--gantt", type=Path, help="write the Gantt chart as PNG")
    plan.add_argument("--html", type=Path, help="write a self-contained HTML report")
    plan.add_argument("--format", choices=("text", "json"), default="text")
    plan.set_defaults(func=_plan)
    opts = es.add_parser(
        "options",
        help="list European alternatives for a capability",
        description="List European alternatives from the bundled catalogue. "
        "Example: sovmap exit options identity",
    )
    opts.add_argument("capability")
    opts.set_defaults(func=_options)


#: Monte-Carlo runs at most: the schedule holds a few runs x tasks float arrays (about 40
#: bytes per run and task: 10,000 runs of 500 tasks take some 200 MB, 100,000 runs 2 GB).
MAX_RUNS = 100_000
#: A what-if team capacity (people working in parallel) at most, and a scale factor at most.
MAX_CAPACITY = 1_000
MAX_SCALE = 100.0
_BYTES_PER_RUN_AND_TASK = 40


def _check_plan_options(args: argparse.Namespace) -> None:
    """Every option checked before the register is read or a run simulated."""
    if not 1 <= args.runs <= MAX_RUNS:
        raise PlanError(
            f"--runs {args.runs:,}: give 1 to {MAX_RUNS:,} (memory grows with runs: about "
            f"{_BYTES_PER_RUN_AND_TASK * 500 * MAX_RUNS / 1e9:.0f} GB for {MAX_RUNS:,} runs of "
            "500 tasks)"
        )
    if args.seed is not None and not 0 <= args.seed < 2**63:
        raise PlanError(f"--seed {args.seed}: give a whole number from 0 to 2^63-1")
    for text in args.what_if:
        for wi in _flatten(parse_what_if(text)):
            too_big = [n for n in wi.capacity.values() if n > MAX_CAPACITY]
            if wi.add > MAX_CAPACITY or too_big:
                raise PlanError(
                    f"--what-if {text}: a team capacity of at most {MAX_CAPACITY:,} people "
                    "(each slot is simulated in every run)"
                )
            if not 0 < wi.scale <= MAX_SCALE:
                raise PlanError(f"--what-if {text}: a factor above 0 and at most {MAX_SCALE:g}")
    for option, out in (("--gantt", args.gantt), ("--html", args.html)):
        if out is not None and not out.parent.is_dir():
            raise PlanError(f"{option} {out}: no directory {out.parent}")


def _flatten(wi: WhatIf) -> list[WhatIf]:
    return [wi, *(x for also in wi.also for x in _flatten(also))]


def _plan(args: argparse.Namespace) -> int:
    _check_plan_options(args)
    settings = load_exit_settings(args.settings) if args.settings else None
    register = load_register_dir(args.path)
    rep = plan_register_exit(
        register,
        settings=settings,
        deadline=args.deadline,
        runs=args.runs,
        seed=args.seed,
        jurisdictions=tuple(args.jurisdiction),
        what_ifs=tuple(args.what_if),
        settings_name=str(args.settings or ""),
        sensitivity=True,
    )
    # the gap after an acute cut-off of what the plan leaves (the first jurisdiction, US)
    try:
        cut = cut_off(register, Selector(jurisdiction=(args.jurisdiction or ["US"])[0]))
    except ScenarioError:  # the selector stops nothing: no cut-off, no gap
        gaps: tuple[Gap, ...] = ()
    else:
        gaps = uncovered_gaps(register, cut, rep)
    if args.gantt:
        gantt_png(rep, args.gantt)
    if args.html:
        args.html.write_text(gantt_html(rep), encoding="utf-8")
    if args.format == "json":
        out = rep.to_json() | {"gaps": [g.to_json() for g in gaps]}
        print(json.dumps(out, indent=2, ensure_ascii=False))
    else:
        print("\n".join([render_text(rep), "", *gap_lines(gaps)]))
    return 0


def _options(args: argparse.Namespace) -> int:
    alts = options_for(args.capability)
    if not alts:
        raise PlanError(f"no alternatives for capability {args.capability!r} in the catalogue")
    for a in alts:
        print(
            f"{a.id:<20} {a.name[:40]:<40} {a.jurisdiction or '-':<3} {a.maturity:<12} "
            f"{','.join(a.deployment):<28} {a.source}"
        )
    return 0
