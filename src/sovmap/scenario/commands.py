"""``sovmap cutoff``: what stops, for how long and why, when a provider is cut off.

A shell over :func:`sovmap.scenario.cutoff.cut_off`: parse, read the register and settings,
call, print. The library's errors reach :func:`sovmap.cli.main`, which prints them."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

from sovmap.register.files import load_register_dir
from sovmap.scenario.counting import served_lines
from sovmap.scenario.cutoff import cut_off
from sovmap.scenario.durations import format_duration
from sovmap.scenario.from_register import load_scenario_settings
from sovmap.scenario.model import ProcessOutcome, ScenarioResult, Selector, Status


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "cutoff",
        help="simulate a provider, parent, jurisdiction or capability being cut off",
        description="Simulate a cut-off on a register directory: which processes go down or "
        "degrade, for how long, whether their RTO and tolerable outage are exceeded, which data "
        "becomes unreachable, and the dependency path that explains each. Criteria combine "
        "(--jurisdiction US --capability identity: US-controlled identity services). "
        "Example: sovmap cutoff examples/register --jurisdiction US",
    )
    p.add_argument("path", type=Path, help="register directory")
    p.add_argument("--provider", default="", help="provider id (or knowledge-base id)")
    p.add_argument("--parent", default="", help="ultimate parent id: all its subsidiaries stop")
    p.add_argument(
        "--jurisdiction",
        default="",
        help="controlling jurisdiction: ISO country code (US), EU or non-EU; a country no "
        "provider is controlled from selects the providers headquartered there (IE)",
    )
    p.add_argument("--capability", default="", help="capability, e.g. identity")
    p.add_argument(
        "--at",
        default="",
        metavar="DURATION",
        help="also report each process's state this long after the cut-off starts (e.g. 3d)",
    )
    p.add_argument(
        "--duration",
        default="permanent",
        metavar="DURATION",
        help="how long the cut-off lasts (default: permanent)",
    )
    p.add_argument(
        "--settings", type=Path, help="scenario settings YAML (fallback start times, ...)"
    )
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(func=_cutoff)


def _cutoff(args: argparse.Namespace) -> int:
    sel = Selector(args.provider, args.parent, args.jurisdiction, args.capability)
    settings = load_scenario_settings(args.settings) if args.settings else None
    register = load_register_dir(args.path)
    res = cut_off(register, sel, at=args.at, duration=args.duration, settings=settings)
    if args.format == "json":
        print(json.dumps(res.to_json(), indent=2, ensure_ascii=False))
    else:
        print(render_text(res))
    return 0


def _hours(h: float | None) -> str:
    return "-" if h is None else format_duration(h)


def _outcome_line(p: ProcessOutcome) -> list[str]:
    outage = "-"
    if p.status is Status.DOWN:
        outage = _hours(p.outage_hours)
    rto = _hours(p.rto_hours) + (" BREACHED" if p.rto_breached else "")
    bear = _hours(p.bearable_hours) + (" EXCEEDED" if p.bearable_exceeded else "")
    fb = "-"
    if p.fallback:
        fb = f"from {_hours(p.fallback_from_hours)}"
        if p.fallback_until_hours is not None and math.isfinite(p.fallback_until_hours):
            fb += f" to {_hours(p.fallback_until_hours)}"
    elif "FALLBACK_UNUSABLE" in p.codes:
        fb = "unusable"
    row = [p.status.value, p.id, outage, rto, bear, p.impact or "-", fb]
    if p.status_at is not None:
        row.append(p.status_at.value)
    row.append(" > ".join(p.path[1:]) if len(p.path) > 1 else "")
    return row


def _matched_lines(res: ScenarioResult) -> list[str]:
    """Why each provider a jurisdiction criterion selected was selected."""
    if not res.matched:
        return []
    width = max(len(pid) for pid in res.matched)
    return ["Selected because:"] + [
        f"  {pid.ljust(width)}  {reason.text('en')}" for pid, reason in res.matched.items()
    ]


def render_text(res: ScenarioResult) -> str:
    sc = res.scenario
    what = "; ".join(c.selector.describe() for c in sc.cuts)
    lasting = "permanent" if math.isinf(sc.ends_hours) else f"lasting {_hours(sc.ends_hours)}"
    s = res.summary
    lines = [
        f"Cut-off: {what} ({lasting}); stops {len(res.stopped)}: {', '.join(res.stopped)}",
        *_matched_lines(res),
        f"Services down: {len(res.services_down)}; degraded: {len(res.services_degraded)}",
        f"Processes: {s['down']} down, {s['degraded']} degraded, {s['unaffected']} unaffected "
        f"(of {s['processes']})",
        *served_lines(res.summary, "en"),
        f"RTO breached: {s['rto_breached']}; longest bearable outage exceeded: "
        f"{s['tolerable_outage_exceeded']}; data assets unreachable: {s['data_unreachable']}",
        "",
    ]
    head = ["STATUS", "PROCESS", "OUTAGE", "RTO", "BEARABLE", "IMPACT", "FALLBACK"]
    if sc.assess_hours is not None:
        head.append(f"AT {_hours(sc.assess_hours)}")
    head.append("BECAUSE OF")
    order = {Status.DOWN: 0, Status.DEGRADED: 1, Status.UNAFFECTED: 2}
    rows = [head] + [
        _outcome_line(p) for p in sorted(res.processes, key=lambda p: (order[p.status], p.id))
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(len(head) - 1)]
    for r in rows:
        lines.append(
            "  ".join(c.ljust(w) for c, w in zip(r[:-1], widths, strict=True)) + "  " + r[-1]
        )
    lost = [d for d in res.data if d.unreachable_hours is not None]
    if lost:
        lines += ["", "Data that becomes unreachable:"]
        for d in lost:
            cls = f" ({d.classification})" if d.classification else ""
            back = (
                f"; restorable from a back-up after {_hours(d.restorable_after_hours)}"
                if d.restorable_after_hours is not None
                else "; no reachable back-up"
            )
            lines.append(f"  {d.id}{cls}: via {' > '.join(d.path[1:])}{back}")
    return "\n".join(lines)
