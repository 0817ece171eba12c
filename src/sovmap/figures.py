"""The headline figures: one definition of each, with its query and the rows behind it.

Every surface — the scan summary, ``sovmap figures``, ``GET /api/figures``, the web pages,
the report's ``figures.json`` and the NL/EN brief — takes its numbers from here, so the same
question gets the same answer in every room, and every figure equals the row count of the
CSV it links to (:attr:`Figure.rows`).

Definitions (see also docs/report.md, "Headline figures"):

- ``domains_scanned``: every domain the scan stored, with or without findings.
- ``<capability>_us_domains``: domains for which a provider runs the capability (any role but
  a rejected ``candidate``: primary, behind a gateway or relay, relay, additional sender) and
  at least one such finding is at a US-controlled provider (:func:`sovmap.control.us_controlled`)
  with confidence at or above :data:`THRESHOLD`.
- ``<capability>_non_us_domains``: domains with a finding of the capability, none counted as US
  above, and at least one at a provider whose control is known, at or above the threshold.
- ``<capability>_unknown_domains``: domains with a finding of the capability that is neither:
  control unknown, or confidence below the threshold. These three partition the domains that
  have a finding of the capability; domains without any are not counted in them.
- ``organisations_mailbox_us``: organisations (newest organisation set of each source) with at
  least one domain counted in ``mailbox_us_domains``; unknown (null) without organisations.
- ``organisations``: organisations of those sets; unknown without organisations.
- ``register_providers``, ``register_providers_us_controlled``,
  ``register_providers_control_unknown``, ``register_services``,
  ``register_services_us_controlled``: from the inside-out register (control by
  :func:`sovmap.register.ownership.control_of`, a service counted when its provider is
  US-controlled); unknown without a register.

Capability ids use ``_`` for ``-`` (``mail_gateway_us_domains``).
"""

from __future__ import annotations

import csv
import io
import json
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, and_, case, delete, func, insert, literal, select

from sovmap import i18n
from sovmap.control import known_sql, us_controlled_sql
from sovmap.counting import THRESHOLD, UNCOUNTED_ROLES, counts_as_us
from sovmap.counting import rank as class_rank
from sovmap.model import Capability
from sovmap.store.schema import findings, scan_domains
from sovmap.store.schema import scan_figures as kept_figures
from sovmap.store.snapshots import ScanInfo, scan_info

if TYPE_CHECKING:
    from sovmap.register.model import Register


US, NON_US, UNKNOWN = "us", "non_us", "unknown"
_CLASS_RANK = {US: 2, NON_US: 1, UNKNOWN: 0}


@dataclass(frozen=True, slots=True)
class Definition:
    id: str
    en: str
    nl: str


@dataclass(frozen=True, slots=True)
class Figure:
    """A headline figure: its value (None: unknown), definition, query and the rows behind it.
    ``value == len(rows)`` whenever the value is known."""

    id: str
    value: int | None
    definition: Definition
    query: str
    header: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]

    def csv_text(self) -> str:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(self.header)
        w.writerows(self.rows)
        return buf.getvalue()

    def to_json(self, lang: str = "en") -> dict[str, Any]:
        return {
            "value": self.value,
            "definition": self.definition.nl if lang == "nl" else self.definition.en,
            "query": self.query,
            "rows": f"{self.id}.csv",
        }


def slug(capability: Capability | str) -> str:
    return str(capability.value if isinstance(capability, Capability) else capability).replace(
        "-", "_"
    )


def _definitions() -> dict[str, Definition]:
    """Each figure's definition in English and Dutch, from the message catalogue."""

    def both(code: str, **params: Any) -> tuple[str, str]:
        out = []
        for lang in ("en", "nl"):
            values = {
                k: (i18n.value(lang, "capability", v) if k == "capability" else v)
                for k, v in params.items()
            }
            values["threshold"] = i18n.format_number(THRESHOLD, lang, 1)
            out.append(i18n.t(lang, code, **values))
        return out[0], out[1]

    out = {"domains_scanned": Definition("domains_scanned", *both("FIG_DOMAINS_SCANNED"))}
    for cap in Capability:
        for cls, code in (
            (US, "FIG_CAP_US"),
            (NON_US, "FIG_CAP_NON_US"),
            (UNKNOWN, "FIG_CAP_UNKNOWN"),
        ):
            fid = f"{slug(cap)}_{cls}_domains"
            out[fid] = Definition(fid, *both(code, capability=cap.value))
    for fid in (
        "organisations",
        "organisations_mailbox_us",
        "register_providers",
        "register_providers_us_controlled",
        "register_providers_control_unknown",
        "register_services",
        "register_services_us_controlled",
    ):
        out[fid] = Definition(fid, *both(f"FIG_{fid.upper()}"))
    return out


DEFINITIONS = _definitions()
SCAN_FIGURES = (
    "domains_scanned",
    *(f"{slug(c)}_{k}_domains" for c in Capability for k in (US, NON_US, UNKNOWN)),
)
ORG_FIGURES = ("organisations", "organisations_mailbox_us")
REGISTER_FIGURES = (
    "register_providers",
    "register_providers_us_controlled",
    "register_providers_control_unknown",
    "register_services",
    "register_services_us_controlled",
)


def _unknown(ids: Iterable[str]) -> list[Figure]:
    """Figures whose value is unknown (no scan, no organisations, no register)."""
    return [Figure(fid, None, DEFINITIONS[fid], "", (), ()) for fid in ids]


def _sql(stmt: Any) -> str:
    return " ".join(str(stmt.compile(compile_kwargs={"literal_binds": True})).split())


def _class_stmt(scan_id: int) -> Any:
    """Per (capability, domain) with a counted finding: its class rank (2 US, 1 non-US,
    0 unknown): the one query every capability figure counts or lists."""
    sure = findings.c.confidence >= THRESHOLD
    rank = case(
        (and_(sure, us_controlled_sql(findings.c.jurisdiction, findings.c.tags)), literal(2)),
        (and_(sure, known_sql(findings.c.jurisdiction)), literal(1)),
        else_=literal(0),
    )
    return (
        select(findings.c.capability, findings.c.domain, func.max(rank).label("rank"))
        .where(findings.c.scan_id == scan_id, findings.c.role.not_in(UNCOUNTED_ROLES))
        .group_by(findings.c.capability, findings.c.domain)
    )


def _deciding(conn: Connection, scan_id: int) -> dict[tuple[str, str], tuple[Any, ...]]:
    """The finding that decided each (capability, domain)'s class: for the linked rows."""
    stmt = (
        select(
            findings.c.capability,
            findings.c.domain,
            findings.c.provider,
            findings.c.provider_name,
            findings.c.jurisdiction,
            findings.c.confidence,
            findings.c.role,
            findings.c.id,
            findings.c.tags,
        )
        .where(findings.c.scan_id == scan_id, findings.c.role.not_in(UNCOUNTED_ROLES))
        .order_by(findings.c.id)
    )
    best: dict[tuple[str, str], tuple[int, float, tuple[Any, ...]]] = {}
    for cap, dom, prov, name, jur, conf, role, fid, tags in conn.execute(stmt):
        rank = class_rank(jur or "", json.loads(tags or "[]"), float(conf))
        key = (cap, dom)
        row = (prov, name, jur or "", round(float(conf), 3), role, int(fid))
        have = best.get(key)
        if have is None or (rank, float(conf)) > (have[0], have[1]):
            best[key] = (rank, float(conf), row)
    return {k: v[2] for k, v in best.items()}


_CAP_HEADER = (
    "domain",
    "capability",
    "class",
    "provider",
    "provider_name",
    "jurisdiction",
    "confidence",
    "role",
    "finding_id",
)
_RANK_CLASS = {2: US, 1: NON_US, 0: UNKNOWN}


def scan_figures(
    conn: Connection, scan: ScanInfo | None, *, rows: bool = True, use_kept: bool = True
) -> list[Figure]:
    """The scan's figures; every value unknown without a scan. With ``rows`` false only the
    values are read (the scan summary of a million domains); each figure's rows are then
    empty but its value is the count of the same query, or the value the scan kept when it
    ended (:func:`keep_scan_figures`, the same count) unless ``use_kept`` is false."""
    if scan is None:
        return _unknown(SCAN_FIGURES)
    kept = None if rows or not use_kept else kept_values(conn, [scan.id]).get(scan.id)
    dom_stmt = (
        select(scan_domains.c.domain, scan_domains.c.position)
        .where(scan_domains.c.scan_id == scan.id)
        .order_by(scan_domains.c.domain)
    )
    out: list[Figure] = []
    cls_stmt = _class_stmt(scan.id)
    if rows:
        drows = tuple((str(d), int(p)) for d, p in conn.execute(dom_stmt))
        n_domains: int = len(drows)
    elif kept is not None:
        drows = ()
        n_domains = int(kept["domains_scanned"] or 0)
    else:
        drows = ()
        n_domains = int(
            conn.execute(
                select(func.count())
                .select_from(scan_domains)
                .where(scan_domains.c.scan_id == scan.id)
            ).scalar_one()
        )
    out.append(
        Figure(
            "domains_scanned",
            n_domains,
            DEFINITIONS["domains_scanned"],
            _sql(dom_stmt),
            ("domain", "position"),
            drows,
        )
    )
    per: dict[tuple[str, str], list[tuple[Any, ...]]] = {}
    counts: dict[tuple[str, str], int] = {}
    if rows:
        decided = _deciding(conn, scan.id)
        for cap, dom, rank in conn.execute(cls_stmt.order_by(findings.c.domain)):
            cls = _RANK_CLASS[int(rank)]
            d = decided.get((cap, dom), ("", "", "", None, "", None))
            per.setdefault((cap, cls), []).append((dom, cap, cls, *d))
        counts = {k: len(v) for k, v in per.items()}
    elif kept is not None:
        counts = {
            (cap.value, cls): int(kept[f"{slug(cap)}_{cls}_domains"] or 0)
            for cap in Capability
            for cls in (US, NON_US, UNKNOWN)
        }
    else:
        sub = cls_stmt.subquery()
        for cap, rank, n in conn.execute(
            select(sub.c.capability, sub.c.rank, func.count()).group_by(
                sub.c.capability, sub.c.rank
            )
        ):
            counts[(cap, _RANK_CLASS[int(rank)])] = int(n)
    query = _sql(cls_stmt)
    for cap in Capability:
        for cls in (US, NON_US, UNKNOWN):
            fid = f"{slug(cap)}_{cls}_domains"
            rank_value = {US: 2, NON_US: 1, UNKNOWN: 0}[cls]
            out.append(
                Figure(
                    fid,
                    counts.get((cap.value, cls), 0),
                    DEFINITIONS[fid],
                    f"{query} -- capability = '{cap.value}' and rank = {rank_value}",
                    _CAP_HEADER,
                    tuple(per.get((cap.value, cls), ())),
                )
            )
    return out


def org_figures(conn: Connection, scan: ScanInfo | None) -> list[Figure]:
    """Organisations and those with a domain in ``mailbox_us_domains``; unknown (None)
    without organisations in the store."""
    from sovmap.store.org_tables import organisations
    from sovmap.store.queries import current_sets, org_domain_pairs

    sets = current_sets(conn)
    if not sets:
        return _unknown(ORG_FIGURES)
    org_stmt = (
        select(organisations.c.org_id, func.max(organisations.c.name))
        .where(organisations.c.set_id.in_(sets))
        .group_by(organisations.c.org_id)
        .order_by(organisations.c.org_id)
    )
    names = {str(o): str(n) for o, n in conn.execute(org_stmt)}
    orgs = Figure(
        "organisations",
        len(names),
        DEFINITIONS["organisations"],
        _sql(org_stmt),
        ("org_id", "name"),
        tuple(sorted(names.items())),
    )
    if scan is None:
        return [orgs, *_unknown(ORG_FIGURES[1:])]
    us_domains = capability_domains(conn, scan.id, Capability.MAILBOX.value)
    per_org: dict[str, list[str]] = {}
    for oid, dom in sorted(set(org_domain_pairs(conn, sets))):
        if dom in us_domains:
            per_org.setdefault(oid, []).append(dom)
    rows = tuple(
        (oid, names.get(oid, oid), " ".join(doms)) for oid, doms in sorted(per_org.items())
    )
    return [
        orgs,
        Figure(
            "organisations_mailbox_us",
            len(rows),
            DEFINITIONS["organisations_mailbox_us"],
            "organisations of the newest set of each source joined through org_domains with "
            "the rows of mailbox_us_domains",
            ("org_id", "name", "domains"),
            rows,
        ),
    ]


def register_figures(register: Register | None) -> list[Figure]:
    """Figures of the inside-out register; unknown (None) without one."""
    if register is None:
        return _unknown(REGISTER_FIGURES)
    from sovmap.register.ownership import control_of

    controls = {pid: control_of(register, pid) for pid in sorted(register.providers)}
    prov_header = ("provider", "name", "controlling_jurisdiction", "ultimate_parent")

    def prow(pid: str) -> tuple[Any, ...]:
        c = controls[pid]
        return (pid, register.providers[pid].name, c.controlling, c.ultimate_parent.id)

    all_p = tuple(prow(p) for p in controls)
    us_p = tuple(prow(p) for p, c in controls.items() if c.us_controlled)
    unk_p = tuple(prow(p) for p, c in controls.items() if not c.known and not c.us_controlled)
    services = sorted(register.services)
    svc_header = ("service", "provider", "controlling_jurisdiction")

    def srow(sid: str) -> tuple[Any, ...]:
        pid = register.services[sid].provider.value or ""
        c = controls.get(pid)
        return (sid, pid, c.controlling if c else "")

    us_s = tuple(
        srow(s)
        for s in services
        if (pid := register.services[s].provider.value)
        and pid in controls
        and controls[pid].us_controlled
    )
    q = "register (loaded once), control by sovmap.register.ownership.control_of"
    return [
        Figure(
            "register_providers",
            len(all_p),
            DEFINITIONS["register_providers"],
            q,
            prov_header,
            all_p,
        ),
        Figure(
            "register_providers_us_controlled",
            len(us_p),
            DEFINITIONS["register_providers_us_controlled"],
            q,
            prov_header,
            us_p,
        ),
        Figure(
            "register_providers_control_unknown",
            len(unk_p),
            DEFINITIONS["register_providers_control_unknown"],
            q,
            prov_header,
            unk_p,
        ),
        Figure(
            "register_services",
            len(services),
            DEFINITIONS["register_services"],
            q,
            svc_header,
            tuple(srow(s) for s in services),
        ),
        Figure(
            "register_services_us_controlled",
            len(us_s),
            DEFINITIONS["register_services_us_controlled"],
            q,
            svc_header,
            us_s,
        ),
    ]


@dataclass(frozen=True, slots=True)
class Figures:
    """All headline figures of one scan (and register), in a stable order."""

    scan: ScanInfo | None
    items: tuple[Figure, ...]

    def __getitem__(self, fid: str) -> Figure:
        for f in self.items:
            if f.id == fid:
                return f
        raise KeyError(fid)

    def __iter__(self) -> Iterator[Figure]:
        return iter(self.items)

    def value(self, fid: str) -> int | None:
        return self[fid].value

    def values(self) -> dict[str, int | None]:
        return {f.id: f.value for f in self.items}

    def to_json(self, lang: str = "en") -> dict[str, Any]:
        """The object of ``sovmap figures --format json``, ``GET /api/figures`` and the
        report's ``figures.json``: figure id -> {value, definition, query, rows}."""
        return {f.id: f.to_json(lang) for f in self.items}


def compute(
    conn: Connection | None,
    scan: ScanInfo | None,
    register: Register | None = None,
    *,
    rows: bool = True,
) -> Figures:
    """Every headline figure of ``scan`` (None: unknown) and ``register`` (None: unknown)."""
    items: list[Figure] = []
    if conn is not None:
        items.extend(scan_figures(conn, scan, rows=rows))
        items.extend(org_figures(conn, scan))
    else:
        items.extend(_unknown(SCAN_FIGURES + ORG_FIGURES))
    items.extend(register_figures(register))
    return Figures(scan, tuple(items))


def format_value(value: int | None, lang: str = "en") -> str:
    """A figure as a reader sees it: the catalogue's number format ("unknown"/"onbekend",
    never 0, for an unknown figure)."""
    return i18n.format_number(value, lang)


def render_text(figs: Figures, lang: str = "en") -> Iterator[str]:
    """``sovmap figures`` as text: one figure a line with its definition."""
    scan = figs.scan
    if scan is None:
        yield i18n.t(lang, "FIG_NO_SCAN")
    else:
        yield i18n.t(lang, "FIG_SCAN", scan=scan.id, started=scan.started_at)
    for f in figs:
        text = f.definition.nl if lang == "nl" else f.definition.en
        yield f"{f.id:<40} {format_value(f.value, lang):>10}  {text}"


def capability_domains(conn: Connection, scan_id: int, capability: str, cls: str = US) -> set[str]:
    """The domains a capability figure counts (``mailbox`` and ``us``: the rows of
    ``mailbox_us_domains``), from the same query as the figure."""
    sub = _class_stmt(scan_id).subquery()
    return {
        str(d)
        for (d,) in conn.execute(
            select(sub.c.domain).where(
                sub.c.capability == capability, sub.c.rank == _CLASS_RANK[cls]
            )
        )
    }


#: the kept row that says under which counting rule the values were kept
_RULE_ROW = "_rule"


@cache
def _rule_mark() -> int:
    """A fingerprint of the counting rule: the capability query's SQL (which holds the
    threshold, the uncounted roles and the control rule's SQL, with the EU member states and
    the US-law tag from the knowledge data) and the figure ids. Kept values counted under
    another rule (another tool version) are not used."""
    text = _sql(_class_stmt(0)) + "|" + ",".join(SCAN_FIGURES)
    return zlib.crc32(text.encode("utf-8")) & 0x7FFFFFFF


def keep_scan_figures(conn: Connection, scan_id: int) -> ScanInfo | None:
    """Count a finished scan's own figures and keep their values in the store (replacing
    values kept before), so trend points read them instead of recounting every scan.
    ``sovmap scan`` calls it when a scan ends and ``sovmap reclassify`` when it has rewritten
    the findings. None (nothing kept) when the scan is not finished."""
    scan = scan_info(conn, scan_id)
    if scan is None or not scan.finished:
        return None
    values = [(f.id, f.value) for f in scan_figures(conn, scan, rows=False, use_kept=False)]
    conn.execute(delete(kept_figures).where(kept_figures.c.scan_id == scan_id))
    conn.execute(
        insert(kept_figures),
        [
            {"scan_id": scan_id, "figure": fid, "value": value}
            for fid, value in (*values, (_RULE_ROW, _rule_mark()))
        ],
    )
    return scan


def kept_values(conn: Connection, scan_ids: Iterable[int]) -> dict[int, dict[str, int | None]]:
    """Scan id -> its kept figure values, for the scans whose values were kept whole and under
    the current counting rule (others are absent: count them)."""
    ids = sorted(set(scan_ids))
    out: dict[int, dict[str, int | None]] = {}
    for i in range(0, len(ids), 500):
        stmt = select(kept_figures.c.scan_id, kept_figures.c.figure, kept_figures.c.value).where(
            kept_figures.c.scan_id.in_(ids[i : i + 500])
        )
        for sid, fid, value in conn.execute(stmt):
            out.setdefault(int(sid), {})[str(fid)] = None if value is None else int(value)
    mark = _rule_mark()
    return {
        sid: {k: v for k, v in vals.items() if k != _RULE_ROW}
        for sid, vals in out.items()
        if vals.get(_RULE_ROW) == mark and all(f in vals for f in SCAN_FIGURES)
    }


def us_share_by_scan(conn: Connection, scans: Iterable[ScanInfo]) -> dict[int, dict[str, float]]:
    """Per finished scan, capability -> percentage of its scanned domains counted in
    ``<capability>_us_domains``: the trend chart's points (unknown scans are left out). The
    values the scan kept when it ended are used (:func:`keep_scan_figures`); a scan without
    them is counted here, with the same rule."""
    done = [s for s in scans if s.finished and s.domains]
    kept = kept_values(conn, (s.id for s in done))
    out: dict[int, dict[str, float]] = {}
    for s in done:
        values = kept.get(s.id)
        if values is None:
            # the scan's own figures only (the same rule as the headline figures): the
            # organisation figures, which a trend point does not show, cost most of the time
            values = {f.id: f.value for f in scan_figures(conn, s, rows=False, use_kept=False)}
        n = values.get("domains_scanned") or 0
        us = ((cap.value, values.get(f"{slug(cap)}_us_domains")) for cap in Capability)
        out[s.id] = {c: round(100.0 * v / n, 2) for c, v in sorted(us) if n and v}
    return out


def us_by_capability(figs: Figures) -> dict[str, int]:
    """Capability -> ``<capability>_us_domains`` (known values only)."""
    out = {}
    for cap in Capability:
        v = figs.value(f"{slug(cap)}_us_domains")
        if v is not None:
            out[cap.value] = v
    return out


def headline(figs: Figures) -> Iterable[tuple[Capability, int | None, int | None, int | None]]:
    """(capability, US, non-US, unknown) domains per capability: the summary table."""
    for cap in Capability:
        s = slug(cap)
        yield (
            cap,
            figs.value(f"{s}_us_domains"),
            figs.value(f"{s}_non_us_domains"),
            figs.value(f"{s}_unknown_domains"),
        )


__all__ = [
    "DEFINITIONS",
    "THRESHOLD",
    "Definition",
    "Figure",
    "Figures",
    "capability_domains",
    "compute",
    "counts_as_us",
    "format_value",
    "headline",
    "keep_scan_figures",
    "kept_values",
    "org_figures",
    "register_figures",
    "render_text",
    "scan_figures",
    "slug",
    "us_by_capability",
    "us_share_by_scan",
]
