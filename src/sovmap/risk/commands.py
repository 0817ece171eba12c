"""``sovmap risk`` and ``sovmap sector``: explained risk scores for one register, and the
concentration across many."""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sovmap.cli import CommandError
from sovmap.readers import InputError, load_yaml
from sovmap.register.files import load_register_or_roi
from sovmap.risk.policy import Policy, load_policy
from sovmap.risk.report import RiskReport, assess_register
from sovmap.risk.scores import Score
from sovmap.risk.sector import SectorReport, sector

EXAMPLE = "examples/register"


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "risk",
        help="explained confidentiality, continuity and concentration risk of a register",
        description="Score every service and process of a register (confidentiality and "
        "continuity exposure), concentration per capability and provider, and the EU Cloud "
        "Sovereignty Framework level of each provider; every score lists its facts and "
        f"weights. Example: sovmap risk {EXAMPLE} --format json",
    )
    p.add_argument("path", type=Path, help="register directory")
    p.add_argument("--policy", type=Path, help="policy file merged over the bundled one")
    p.add_argument("--answers", type=Path, help="YAML: providers: {ID: {QUESTION: yes|no}}")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument("--top", type=int, default=10, help="rows per table in text output")
    p.add_argument(
        "--questions",
        action="store_true",
        help="list the unanswered sovereignty questions of each provider (text output)",
    )
    p.set_defaults(func=_risk)
    s: argparse.ArgumentParser = sub.add_parser(
        "sector",
        help="concentration across many registers or DORA registers of information",
        description="Read many register directories or DORA RoI packages and report "
        "concentration across the sector and provider groups critical to many entities. "
        "Example: sovmap sector examples/register examples/roi",
    )
    s.add_argument("paths", type=Path, nargs="+", help="register directories or RoI packages")
    s.add_argument("--policy", type=Path, help="policy file merged over the bundled one")
    s.add_argument("--format", choices=("text", "json"), default="text")
    s.set_defaults(func=_sector)


def _answers(path: Path | None) -> Mapping[str, Mapping[str, bool]]:
    if path is None:
        return {}
    try:
        data = load_yaml(path) or {}
    except InputError as exc:
        raise CommandError(str(exc)) from exc
    providers = data.get("providers", {}) if isinstance(data, dict) else None
    if not isinstance(providers, dict):
        raise CommandError(f"{path}: expected a mapping `providers: {{ID: {{QUESTION: yes}}}}`")
    out: dict[str, dict[str, bool]] = {}
    for pid, qs in providers.items():
        if not isinstance(qs, dict) or not all(isinstance(v, bool) for v in qs.values()):
            raise CommandError(f"{path}: providers.{pid}: answers are yes or no")
        out[str(pid)] = {str(k): v for k, v in qs.items()}
    return out


_SHOWN = (
    "REACH",
    "SENSITIVITY",
    "KEY_CONTROL",
    "KEYS_IN_USE",
    "SINGLE_PROVIDER",
    "SUBSTITUTABILITY",
    "EXIT_PLAN",
    "MISSING_PROVIDER",
    "PARTY_REACH",
    "PARTY_UNKNOWN",
)


def _top_factors(score: Score, n: int = 4) -> str:
    parts = []
    for f in score.factors:
        if f.code in _SHOWN:
            if f.code == "PARTY_REACH":
                parts.append(f"{f.subject}={f.value:g}x{f.weight:g}")
            else:
                parts.append(f"{f.code.lower()}={f.value:g}")
        if len(parts) >= n:
            break
    return ", ".join(parts)


def _print_questions(report: RiskReport, policy: Policy) -> None:
    texts = {
        step["id"]: step["question"]
        for o in policy.section("sovereignty")["objectives"].values()
        for step in o["ladder"]
    }
    print("\nunanswered sovereignty questions (answer with --answers FILE):")
    for a in report.sovereignty:
        open_q = [q for o in a.objectives for q in o.unanswered]
        if open_q:
            print(f"  {a.provider}:")
            for q in open_q:
                print(f"    {q}: {texts.get(q, '')}")


def _print_report(report: RiskReport, top: int) -> None:
    print(f"risk of {report.organisation} (policy: {report.policy})")
    print("\nprocesses by exposure (0-100):")
    print(f"  {'process':<26} {'conf':>5} {'cont':>5}  driven by")
    rows = sorted(report.processes, key=lambda cs: -max(cs[0].value, cs[1].value))
    for c, k in rows[:top]:
        print(
            f"  {c.subject:<26} {c.value:5.1f} {k.value:5.1f}  "
            f"conf: {c.because or '-'} [{_top_factors(c)}]; "
            f"cont: {k.because or '-'} [{_top_factors(k)}]"
        )
    print("\ncritical processes depending on a provider group (chain included):")
    for d in [d for d in report.dependence if d.kind == "group"][:top]:
        print(f"  {d.subject:<26} {100 * d.share:5.1f}%  ({len(d.processes)} processes)")
    print("\nconcentration per capability (HHI 0-10000 over provider groups):")
    for cc in report.concentration[:top]:
        shares = ", ".join(f"{g} {n}" for g, n in cc.shares)
        print(f"  {cc.capability:<22} {cc.hhi:7.0f} {cc.level:<8} {shares}")
    print("\nEU Cloud Sovereignty Framework (score 0-100, SEAL = lowest objective level):")
    for a in report.sovereignty[:top]:
        levels = " ".join(f"{o.id[4:]}:{o.level}" for o in a.objectives)
        open_q = sum(len(o.unanswered) for o in a.objectives)
        flag = f"provisional, {open_q} unanswered" if a.provisional else "complete"
        print(f"  {a.provider:<22} {a.score:5.1f} SEAL-{a.seal}  [{levels}]  {flag}")


def _risk(args: argparse.Namespace) -> int:
    policy = load_policy(args.policy)
    reg = load_register_or_roi(args.path)
    from sovmap.knowledge.catalogue import default_catalogue

    report = assess_register(reg, policy, _answers(args.answers), default_catalogue())
    if args.format == "json":
        print(json.dumps(report.to_json(), indent=1))
    else:
        _print_report(report, args.top)
        if args.questions:
            _print_questions(report, policy)
    return 0


def _print_sector(report: SectorReport) -> None:
    n = len(report.entities)
    print(f"sector of {n} entities")
    print("\nprovider groups by entities with a critical process depending on them:")
    for g in report.groups[:20]:
        print(
            f"  {g.name[:34]:<34} critical for {len(g.critical_entities)}/{n}, "
            f"used by {len(g.entities)}/{n}"
        )
    print("\nconcentration per capability across the sector (HHI over groups, by entities):")
    for c in report.capabilities:
        print(f"  {c.capability:<22} {c.hhi:7.0f} {c.level}")


def _sector(args: argparse.Namespace) -> int:
    policy = load_policy(args.policy)
    registers = [load_register_or_roi(p) for p in args.paths]
    report = sector(registers, policy)
    if args.format == "json":
        print(json.dumps(report.to_json(), indent=1))
    else:
        _print_sector(report)
    return 0
