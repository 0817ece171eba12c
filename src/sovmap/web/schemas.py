"""Typed answers of the API routes whose library returns plain JSON objects (figures, cut-off,
exit plan): pydantic models mirroring those objects, so ``/openapi.json`` describes every
field. They forbid fields they do not know, so a library change that adds one fails the web
tests (the OpenAPI fuzz test calls every route) instead of drifting from the schema unseen.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from sovmap.classify.posture import PostureFinding
from sovmap.store.queries import DomainDetail, FindingRow
from sovmap.store.snapshots import ScanInfo


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- headline figures -----------------------------------------------------------------------


class FigureOut(_Out):
    value: int | None = Field(description="null when unknown (never 0 for unknown)")
    definition: str
    query: str = Field(description="the SQL behind the figure")
    rows: str = Field(description="file name of the rows: /api/figures/{rows}")


# --- cut-off --------------------------------------------------------------------------------

Status = Literal["down", "degraded", "unaffected"]
Hours = float | Literal["inf"]


class SelectorOut(_Out):
    provider: str
    parent: str
    jurisdiction: str
    capability: str


class CutOut(_Out):
    selector: SelectorOut
    start_hours: float


class ScenarioOut(_Out):
    cuts: list[CutOut]
    ends_hours: Hours = Field(description='when access returns; "inf": never')
    assess_hours: float | None


class MatchedOut(_Out):
    provider: str
    code: str
    jurisdiction: str
    controlled: str
    text: str


class RangeOut(_Out):
    low: int | None
    high: int | None


class CutoffSummary(_Out):
    processes: int
    down: int
    degraded: int
    unaffected: int
    people_down: int | None
    people_down_range: RangeOut
    organisations_down: int | None
    organisations_down_range: RangeOut
    people_degraded: int | None
    people_degraded_range: RangeOut
    organisations_degraded: int | None
    organisations_degraded_range: RangeOut
    population: int | None
    restored_by_fallback: int
    fallback_exhausted: int
    rto_breached: int
    tolerable_outage_exceeded: int
    data_unreachable: int


class ProcessOut(_Out):
    id: str
    name: str
    status: Status
    since_hours: float | None
    path: list[str] = Field(description="the process, then the dependency chain")
    people: int | None
    organisations: int | None
    unreachable_data: list[str]
    fallback: str
    fallback_from_hours: float | None
    fallback_until_hours: Hours | None
    outage_hours: Hours
    rto_hours: float | None
    rto_breached: bool | None
    bearable_hours: float | None
    bearable_exceeded: bool | None
    impact: str
    impacts: list[str]
    status_at: Status | None
    codes: list[str]


class DataOut(_Out):
    id: str
    name: str
    classification: str
    unreachable_hours: float | None
    restorable_after_hours: float | None
    path: list[str]


class CutoffOut(_Out):
    people_affected: int | None
    organisations_affected: int | None
    scenario: ScenarioOut
    stopped: list[str]
    matched: list[MatchedOut]
    services_down: list[str]
    services_degraded: list[str]
    summary: CutoffSummary
    processes: list[ProcessOut]
    data: list[DataOut]


# --- exit plan ------------------------------------------------------------------------------


class ForecastOut(_Out):
    runs: int
    seed: int
    distribution: str
    mean_days: float
    std_days: float
    p10_days: float
    p50_days: float
    p90_days: float
    deadline_days: float | None
    p_deadline: float | None
    critical: dict[str, float] = Field(description="task -> share of runs it decides the end")
    correlation: float


class VariantOut(_Out):
    label: str
    tasks: int
    teams: dict[str, int | None]
    forecast: ForecastOut


class LowHigh(_Out):
    low: float
    high: float


class CorrelationOut(_Out):
    default: float
    low: float
    high: float


class SpreadOut(_Out):
    p10_days: float
    p90_days: float


class WeeksOut(_Out):
    p50: float
    p90: float


class SensitivityOut(_Out):
    assumption: str
    p50_days: float
    p90_days: float


class AlternativeOut(_Out):
    id: str
    name: str
    provider: str
    jurisdiction: str
    deployment: list[str]
    capabilities: list[str]
    maturity: str
    notes: str
    source: str
    knowledge_id: str


class TargetOut(_Out):
    service: str
    name: str
    capability: str
    provider: str
    jurisdiction: str
    options: list[AlternativeOut]


class ScheduledTaskOut(_Out):
    task: str
    name: str
    team: str
    group: str
    start_days: float
    finish_days: float
    estimate: list[float] = Field(description="optimistic, most likely, pessimistic (days)")
    after: list[str]
    basis: str
    service: str
    size_factor: float


class ExitOut(_Out):
    p50_days: float
    p90_days: float
    p_deadline: LowHigh | None
    correlation: CorrelationOut
    spread: dict[str, SpreadOut | None] = Field(description="default, low and high correlation")
    platforms: dict[str, list[str]]
    replacement_weeks: dict[str, WeeksOut]
    sensitivity: list[SensitivityOut]
    deadline_days: float | None
    targets: list[TargetOut]
    baseline: VariantOut
    what_ifs: list[VariantOut]
    schedule: list[ScheduledTaskOut]
    assumptions: list[str]


# --- one domain (GET /api/domains/{domain}) --------------------------------------------------


class PostureEvidenceOut(_Out):
    probe: str
    qname: str
    rtype: str
    value: str = Field(description="the record (or answer status) as stored")
    source: str = Field(description="the standard's specification")


class PostureOut(_Out):
    standard: Literal["dmarc", "spf", "dkim", "starttls", "dane", "dnssec", "mta-sts", "tls-rpt"]
    level: Literal["good", "weak", "missing", "unknown"] = Field(
        description="unknown: not asked or not answered in this scan (never counted as missing)"
    )
    code: str = Field(description="stable finding code, e.g. POSTURE_DMARC_REJECT")
    details: dict[str, str] = Field(description="e.g. p=reject, lookups=4")
    evidence: list[PostureEvidenceOut]


class DomainOut(_Out):
    """One domain of a scan: its findings with their evidence (location evidence has probe
    "location", fingerprint region:<cloud>:<region> and chain [cloud, region, country,
    city]) and its mail security posture, one entry per standard (empty when the domain does
    not exist)."""

    scan: ScanInfo
    domain: str
    attributes: dict[str, Any]
    queries: int
    errors: int
    findings: list[FindingRow]
    posture: list[PostureOut]


def domain_out(d: DomainDetail, found: list[PostureFinding]) -> DomainOut:
    """The API's answer from the store's values (not validated again: they are typed)."""
    posture = [
        PostureOut.model_construct(
            standard=p.standard,
            level=p.level,
            code=p.code,
            details=dict(p.details),
            evidence=[
                PostureEvidenceOut.model_construct(
                    probe=e.probe, qname=e.qname, rtype=e.rtype, value=e.value, source=e.source
                )
                for e in p.evidence
            ],
        )
        for p in found
    ]
    return DomainOut.model_construct(
        scan=d.scan,
        domain=d.domain,
        attributes=d.attributes,
        queries=d.queries,
        errors=d.errors,
        findings=list(d.findings),
        posture=posture,
    )
