"""The parliamentary brief: the six questions answered from the store, the register, the
cut-off scenario and the exit plan. Every figure carries the rows and query behind it."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Connection, and_, select

from sovmap.control import us_controlled
from sovmap.exitplan.api import DAYS_PER_MONTH, ExitReport, standard_assumptions
from sovmap.exitplan.catalogue import default_templates, options_for
from sovmap.exitplan.gap import uncovered_gaps
from sovmap.figures import Figure as HeadlineFigure
from sovmap.figures import Figures
from sovmap.register.model import Register
from sovmap.register.ownership import control_of
from sovmap.report.model import Figure, Note, Rows, Section
from sovmap.scenario.model import ScenarioResult, Status
from sovmap.store.notes import Key
from sovmap.store.notes import Note as FindingNote
from sovmap.store.notes import disputed_rows as count_disputed
from sovmap.store.schema import findings
from sovmap.store.snapshots import list_scans


def _sql(stmt: Any) -> str:
    return " ".join(str(stmt.compile(compile_kwargs={"literal_binds": True})).split())


def _primary(conn: Connection, scan_id: int, capability: str) -> tuple[str, list[Any]]:
    stmt = (
        select(
            findings.c.domain,
            findings.c.provider,
            findings.c.provider_name,
            findings.c.parent,
            findings.c.jurisdiction,
            findings.c.confidence,
            findings.c.tags,
            findings.c.id,
        )
        .where(
            and_(
                findings.c.scan_id == scan_id,
                findings.c.capability == capability,
                findings.c.role == "primary",
            )
        )
        .order_by(findings.c.domain)
    )
    return _sql(stmt), list(conn.execute(stmt))


FINDING_HEADER = (
    "domain",
    "provider",
    "provider_name",
    "parent",
    "jurisdiction",
    "confidence",
    "finding_id",
)


def provider_is_us(register: Register, provider_id: str, service_id: str = "") -> bool:
    """Any party in the provider's chain (itself, subcontractors) is US-controlled, by the
    one control rule (:func:`sovmap.register.ownership.control_of`)."""
    return any(
        control_of(register, pid).us_controlled for pid in register.chain(provider_id, service_id)
    )


def us_services(register: Register) -> list[str]:
    return sorted(
        sid
        for sid, s in register.services.items()
        if s.provider.value
        and s.provider.value in register.providers
        and provider_is_us(register, s.provider.value, sid)
    )


def headline_rows(fig: HeadlineFigure) -> Rows:
    """A headline figure's rows as the brief links them (``data/<figure id>.csv``)."""
    return Rows(fig.id, fig.header, fig.rows, fig.query)


def marked_rows(fig: HeadlineFigure, disputes: Mapping[Key, FindingNote]) -> Rows:
    """A capability figure's rows with a ``disputed`` column (the figure's value unchanged:
    a dispute is stated beside it, never subtracted)."""
    marked = tuple(
        (*r, "disputed" if (str(r[0]), str(r[1]), str(r[3])) in disputes else "") for r in fig.rows
    )
    return Rows(fig.id, (*fig.header, "disputed"), marked, fig.query)


def q1(
    headline: Figures,
    register: Register | None,
    cut: ScenarioResult | None,
    disputes: Mapping[Key, FindingNote] | None = None,
) -> tuple[Section, list[Rows]]:
    figs: list[Figure] = []
    notes: list[Note] = []
    rows: list[Rows] = []
    scan = headline.scan
    disputes = disputes or {}
    if scan is not None:
        for code, fid, params in (
            ("Q1_DOMAINS", "domains_scanned", {"scan": scan.id}),
            ("Q1_MAIL_US", "mailbox_us_domains", {}),
            ("Q1_GATEWAY_US", "mail_gateway_us_domains", {}),
        ):
            hf = headline[fid]
            if fid != "domains_scanned" and disputes:
                # notes.disputed_rows: how many counted rows someone disputes, beside the value
                params = {**params, "disputed": count_disputed(hf.rows, set(disputes))}
                rows.append(marked_rows(hf, disputes))
            else:
                rows.append(headline_rows(hf))
            figs.append(Figure(code, hf.value, hf.id, params, figure=hf.id))
        for key, n in sorted(disputes.items())[:50]:
            domain, capability, provider = key
            notes.append(
                Note(
                    "NOTE_DISPUTED_LINE",
                    {
                        "domain": domain,
                        "capability": capability,
                        "provider": provider,
                        "user": n.username,
                        "at": n.at[:10],
                        "text": n.text,
                    },
                )
            )
        orgs, orgs_us = headline["organisations"], headline["organisations_mailbox_us"]
        if orgs_us.value is not None:
            rows.append(headline_rows(orgs_us))
            figs.append(
                Figure(
                    "Q1_ORGS_MAIL_US",
                    orgs_us.value,
                    orgs_us.id,
                    {"total": orgs.value},
                    figure=orgs_us.id,
                )
            )
        else:
            notes.append(Note("NO_ORGS"))
    else:
        notes.append(Note("NO_SCAN"))
    if register is not None and cut is not None:
        hit = [p for p in cut.processes if p.status is not Status.UNAFFECTED]
        rows.append(
            Rows(
                "q1_processes_us",
                ("process", "name", "status", "dependency_path"),
                tuple((p.id, p.name, p.status.value, " > ".join(p.path[1:])) for p in hit),
                "sovmap.scenario.cutoff.cut_off(register, Selector(jurisdiction='US'))",
            )
        )
        figs.append(
            Figure("Q1_PROCESSES_US", len(hit), "q1_processes_us", {"total": len(cut.processes)})
        )
        svc = set(us_services(register))
        regs = []
        for a in register.data_assets.values():
            at = [link.service for link in a.services if link.service in svc]
            if at and (a.base_register.value or a.personal_data.value):
                regs.append(
                    (
                        a.id,
                        a.name,
                        bool(a.base_register.value),
                        bool(a.personal_data.value),
                        ";".join(at),
                    )
                )
        rows.append(
            Rows(
                "q1_registers_us",
                ("data_asset", "name", "base_register", "personal_data", "services"),
                tuple(sorted(regs)),
                "register data assets (base_register or personal_data) linked to services "
                "whose provider chain has a US country or parent country",
            )
        )
        figs.append(Figure("Q1_REGISTERS_US", len(regs), "q1_registers_us"))
    else:
        notes.append(Note("NO_REGISTER"))
    return Section("Q1", tuple(figs), tuple(notes), ("q1_processes_us",) if register else ()), rows


def q2(conn: Connection | None, register: Register | None) -> tuple[Section, list[Rows]]:
    figs: list[Figure] = []
    notes: list[Note] = []
    rows: list[Rows] = []
    if register is not None:
        out = []
        for sid in us_services(register):
            s = register.services[sid]
            c = register.contracts.get(s.contract.value or "")
            out.append(
                (
                    sid,
                    s.name,
                    s.provider.value,
                    str(s.exit_plan.value or "missing"),
                    "; ".join(s.alternatives.value or ()),
                    c.end.value if c and c.end.value else None,
                    c.notice_days.value if c and c.notice_days.value is not None else "",
                )
            )
        rows.append(
            Rows(
                "q2_services_us",
                (
                    "service",
                    "name",
                    "provider",
                    "exit_plan",
                    "alternatives",
                    "contract_end",
                    "notice_days",
                ),
                tuple(out),
                "register services whose provider chain is US-controlled, with exit_plan, "
                "alternatives and their contract",
            )
        )
        figs.append(Figure("Q2_SERVICES_US", len(out), "q2_services_us"))
        figs.append(Figure("Q2_EXIT_TESTED", sum(r[3] == "tested" for r in out), "q2_services_us"))
        figs.append(
            Figure("Q2_EXIT_NONE", sum(r[3] in ("none", "missing") for r in out), "q2_services_us")
        )
        notes.append(Note("Q2_NO_PLAN_FIELD"))
    else:
        notes.append(Note("NO_REGISTER"))
    if conn is not None:
        done = [s for s in list_scans(conn) if s.finished]
        if len(done) >= 2:
            old, new = done[-2], done[-1]
            qo, before = _primary(conn, old.id, "mailbox")
            _, after = _primary(conn, new.id, "mailbox")
            was = {r[0]: r for r in before}
            moved = []
            for r in after:
                o = was.get(r[0])
                if o is not None and o[1] != r[1]:
                    moved.append(
                        (
                            r[0],
                            o[2],
                            o[4],
                            r[2],
                            r[4],
                            us_controlled(r[4], json.loads(r[6] or "[]")),
                        )
                    )
            rows.append(
                Rows(
                    "q2_moves",
                    (
                        "domain",
                        "old_provider",
                        "old_jurisdiction",
                        "new_provider",
                        "new_jurisdiction",
                        "to_us",
                    ),
                    tuple(moved),
                    f"{qo} -- compared between scans {old.id} and {new.id}",
                )
            )
            params = {"old": old.id, "new": new.id}
            figs.append(Figure("Q2_MOVES", len(moved), "q2_moves", params))
            figs.append(Figure("Q2_MOVES_TO_US", sum(1 for m in moved if m[5]), "q2_moves"))
    return Section("Q2", tuple(figs), tuple(notes), ("q2_services_us",) if register else ()), rows


def q3(
    cut: ScenarioResult | None,
    register: Register | None = None,
    rep: ExitReport | None = None,
) -> tuple[Section, list[Rows]]:
    """Consequences of a cut-off: people and organisations counted once
    (:mod:`sovmap.scenario.counting`), fallbacks that last versus run out, and, with an exit
    plan, the uncovered gap per process (:mod:`sovmap.exitplan.gap`)."""
    if cut is None:
        return Section("Q3", notes=(Note("NO_REGISTER"),)), []
    s = cut.summary
    call = "sovmap.scenario.cutoff.cut_off(register, Selector(jurisdiction='US'))"
    procs = Rows(
        "q3_processes",
        (
            "process",
            "name",
            "status",
            "outage_hours",
            "rto_hours",
            "rto_breached",
            "bearable_hours",
            "bearable_exceeded",
            "people",
            "organisations",
            "fallback",
            "fallback_weeks",
            "path",
        ),
        tuple(
            (
                p.id,
                p.name,
                p.status.value,
                p.outage_hours if p.status is Status.DOWN else "",
                p.rto_hours,
                p.rto_breached,
                p.bearable_hours,
                p.bearable_exceeded,
                p.people,
                p.organisations,
                p.fallback,
                None
                if p.fallback_until_hours is None
                else round(p.fallback_until_hours / 168.0, 1),
                " > ".join(p.path[1:]),
            )
            for p in cut.processes
        ),
        call,
    )
    data = Rows(
        "q3_data",
        (
            "data_asset",
            "name",
            "classification",
            "unreachable_from_hours",
            "restorable_after_hours",
            "path",
        ),
        tuple(
            (
                d.id,
                d.name,
                d.classification,
                d.unreachable_hours,
                d.restorable_after_hours,
                " > ".join(d.path[1:]),
            )
            for d in cut.data
            if d.unreachable_hours is not None
        ),
        call,
    )
    figs = [
        Figure("Q3_DOWN", s["down"], "q3_processes"),
        Figure("Q3_DEGRADED", s["degraded"], "q3_processes"),
        Figure("Q3_PEOPLE", s["people_down"], "q3_processes"),
        Figure("Q3_ORGS", s["organisations_down"], "q3_processes"),
        Figure("Q3_RTO", s["rto_breached"], "q3_processes"),
        Figure("Q3_BEARABLE", s["tolerable_outage_exceeded"], "q3_processes"),
        Figure("Q3_DATA", s["data_unreachable"], "q3_data"),
        Figure("Q3_FALLBACKS", s["restored_by_fallback"], "q3_processes"),
    ]
    notes = [Note("Q3_SCENARIO")]
    if register is not None and register.organisation.population.value is not None:
        pop = register.organisation.population
        notes.append(Note("Q3_POPULATION", {"population": pop.value, "source": pop.source or "-"}))
    rng = s["people_down_range"]
    if s["people_down"] is None:
        notes.append(Note("Q3_PEOPLE_RANGE", {"low": rng["low"], "high": rng["high"]}))
    tables = ["q3_processes"]
    out = [procs, data]
    if register is not None and rep is not None:
        gaps = uncovered_gaps(register, cut, rep)
        out.append(
            Rows(
                "q3_gap",
                (
                    "process",
                    "fallback_weeks",
                    "replacement_p50_weeks",
                    "replacement_p90_weeks",
                    "gap_p50_weeks",
                    "gap_p90_weeks",
                    "services",
                ),
                tuple(
                    (
                        g.process,
                        g.fallback_weeks,
                        None if g.replacement_weeks is None else round(g.replacement_weeks[0]),
                        None if g.replacement_weeks is None else round(g.replacement_weeks[1]),
                        "open" if g.gap_weeks is None else round(g.gap_weeks[0]),
                        "open" if g.gap_weeks is None else round(g.gap_weeks[1]),
                        ";".join(g.replaced_by + g.not_planned),
                    )
                    for g in gaps
                ),
                call + " and sovmap.exitplan.gap.uncovered_gaps(register, cut, plan)",
            )
        )
        figs.append(Figure("Q3_GAP", sum(1 for g in gaps if g.has_gap), "q3_gap"))
        notes.append(Note("Q3_GAP_NOTE"))
        tables.append("q3_gap")
    return Section("Q3", tuple(figs), tuple(notes), tuple(tables)), out


def q4(register: Register | None) -> tuple[Section, list[Rows]]:
    if register is None:
        return Section("Q4", notes=(Note("NO_REGISTER"),)), []
    svc = set(us_services(register))
    out = []
    for a in sorted(register.data_assets.values(), key=lambda a: a.id):
        at = [link.service for link in a.services if link.service in svc]
        keys = sorted({str(register.services[s].key_control.value or "missing") for s in at})
        out.append(
            (
                a.id,
                a.name,
                str(a.classification.value or "missing"),
                a.records.value,
                bool(at),
                ";".join(at),
                ";".join(keys),
            )
        )
    rows = Rows(
        "q4_data",
        (
            "data_asset",
            "name",
            "classification",
            "records",
            "exposed",
            "us_services",
            "key_control",
        ),
        tuple(out),
        "register data assets, the services that store or process them, and whether a "
        "party in those services' provider chain is US-controlled",
    )
    by_class: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
    for r in out:
        by_class[r[2]].append(r)
    figs = []
    for cls, items in by_class.items():
        exposed = [r for r in items if r[4]]
        p = {"classification": cls}
        figs.append(Figure("Q4_ASSETS", len(items), "q4_data", p))
        figs.append(Figure("Q4_EXPOSED", len(exposed), "q4_data", p))
        records = [r[3] for r in exposed]
        known = None if any(n is None for n in records) else sum(int(n) for n in records)
        figs.append(Figure("Q4_RECORDS", known, "q4_data", p))
        figs.append(
            Figure(
                "Q4_PROVIDER_KEYS",
                sum(1 for r in exposed if "provider-managed" in r[6]),
                "q4_data",
                p,
            )
        )
    return Section("Q4", tuple(figs), (), ("q4_data",)), [rows]


def q5(rep: ExitReport | None, register_dir: str = "REGISTER") -> tuple[Section, list[Rows]]:
    if rep is None:
        return Section("Q5", notes=(Note("NO_REGISTER"),)), []
    fc = rep.baseline.forecast
    command = f"sovmap exit plan {register_dir} --runs {fc.runs} --seed {fc.seed}"
    if rep.deadline_days is not None:
        command += f" --deadline {round(rep.deadline_days / DAYS_PER_MONTH, 2):g}mo"
    if rep.settings_used:
        command += f" --settings {rep.settings_used}"
    call = command + " --format json"
    sched = Rows(
        "q5_schedule",
        (
            "task",
            "name",
            "group",
            "team",
            "start_days",
            "finish_days",
            "optimistic",
            "likely",
            "pessimistic",
        ),
        tuple(
            (
                s.task.id,
                s.task.name,
                s.task.group,
                s.task.team,
                round(s.start, 1),
                round(s.finish, 1),
                s.task.estimate.optimistic,
                s.task.estimate.likely,
                s.task.estimate.pessimistic,
            )
            for s in rep.schedule.tasks
        ),
        call,
    )
    targets = Rows(
        "q5_targets",
        ("service", "name", "capability", "provider", "jurisdiction"),
        tuple(
            (t.service, t.name, t.capability, t.provider_name or t.provider, t.jurisdiction)
            for t in rep.targets
        ),
        call,
    )
    rho, lo, hi = rep.rho
    figs = [
        Figure("Q5_SCOPE", len(rep.targets), "q5_targets"),
        Figure("Q5_P50", round(fc.p50 / DAYS_PER_MONTH, 1), "q5_schedule"),
        Figure("Q5_P90", round(fc.p90 / DAYS_PER_MONTH, 1), "q5_schedule"),
        Figure("Q5_RHO", rho, "q5_schedule"),
    ]
    rng = rep.p_deadline_range
    if rep.deadline_days is not None and fc.p_deadline is not None and rng is not None:
        figs.append(
            Figure("Q5_DEADLINE", round(rep.deadline_days / DAYS_PER_MONTH, 1), "q5_schedule")
        )
        figs.append(Figure("Q5_PROBABILITY", round(100 * fc.p_deadline, 1), "q5_schedule"))
        params = {"rho_low": lo, "rho_high": hi}
        figs.append(Figure("Q5_P_DEADLINE_LOW", round(100 * rng[0], 1), "q5_schedule", params))
        figs.append(Figure("Q5_P_DEADLINE_HIGH", round(100 * rng[1], 1), "q5_schedule"))
    notes = [Note("Q5_REPRODUCE", {"command": command}), *assumption_notes(rep)]
    return Section("Q5", tuple(figs), tuple(notes), ("q5_targets",)), [sched, targets]


def assumption_notes(rep: ExitReport) -> list[Note]:
    """Every assumption of the exit plan as catalogued notes (rendered in NL and EN)."""
    plan = rep.baseline.plan
    rho, lo, hi = rep.rho
    tpl = default_templates()
    out = [
        Note("A_CORRELATION", {"rho": rho, "low": lo, "high": hi}),
        Note(
            "A_PLATFORMS",
            {"platforms": "; ".join(f"{p}: {', '.join(s)}" for p, s in rep.platforms.items())},
        ),
    ]
    for r in plan.risks:
        code = "RISK_" + r.id.upper().replace("-", "_")
        out.append(
            Note(
                "A_RISK",
                {
                    "name": code,
                    "probability": round(100 * r.probability),
                    "low": r.delay.optimistic,
                    "high": r.delay.pessimistic,
                },
            )
        )
    out.append(Note("A_SIZE"))
    for n in plan.notes:
        if n.startswith("Size unknown: "):
            driver, _, service = n.removeprefix("Size unknown: ").partition(" of ")
            out.append(Note("A_UNKNOWN_SIZE", {"driver": driver, "service": service.split(";")[0]}))
    teams = ", ".join(f"{k}={v or '∞'}" for k, v in sorted(plan.teams.items()))
    out += [
        Note("A_TEAMS", {"teams": teams}),
        Note("A_START"),
        Note("A_ESTIMATES", {"sources": "; ".join(src for _, src in tpl.calibration)}),
    ]
    standard = set(standard_assumptions(plan, tpl, rep.rho))  # the rest came from the settings file
    out += [
        Note("A_USER", {"text": a.strip()})
        for a in rep.assumptions
        if a not in standard and not a.startswith("  ")
    ]
    return out


def q6(capabilities: Iterable[str]) -> tuple[Section, list[Rows]]:
    out = []
    caps = sorted(set(capabilities))
    for cap in caps:
        for a in options_for(cap):
            out.append(
                (cap, a.name, a.provider, a.jurisdiction, ",".join(a.deployment), a.maturity)
            )
    rows = Rows(
        "q6_alternatives",
        ("capability", "alternative", "provider", "jurisdiction", "deployment", "maturity"),
        tuple(out),
        "sovmap.exitplan.catalogue.options_for(capability) for each capability in use",
    )
    figs = (
        Figure("Q6_CAPABILITIES", len(Counter(r[0] for r in out)), "q6_alternatives"),
        Figure("Q6_OPTIONS", len(out), "q6_alternatives"),
    )
    return Section("Q6", figs, (), ("q6_alternatives",)), [rows]
