"""Fill a store with generated scans and findings (for web/report tests and benchmarks).

Rows go through the store's own tables; every finding carries evidence in the shape the
classifier writes (:class:`sovmap.model.Finding`), so pages render exactly what a real scan
would produce. Deterministic for a given seed.
"""

from __future__ import annotations

import json
import random
import zlib
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, insert

from sovmap.model import RR, Capability, Evidence, Finding, Observation, Status
from sovmap.orgs.model import (
    Derivation,
    Location,
    Mapping,
    Organisation,
    OrgDomain,
    OrgType,
    Unmapped,
)
from sovmap.orgs.store import save_org_set
from sovmap.store.schema import findings, scan_domains, scans


@dataclass(frozen=True, slots=True)
class P:
    id: str
    name: str
    parent: str
    jurisdiction: str
    tags: tuple[str, ...]
    mx: str  # MX host suffix for mailbox/gateway evidence


US_TAGS = ("us-cloud-act", "us-fisa-702")
PROVIDERS = {
    "microsoft": P(
        "microsoft",
        "Microsoft 365",
        "Microsoft Corporation",
        "US",
        US_TAGS,
        "mail.protection.outlook.com",
    ),
    "google": P("google", "Google Workspace", "Alphabet Inc.", "US", US_TAGS, "aspmx.l.google.com"),
    "proofpoint": P("proofpoint", "Proofpoint", "Thoma Bravo", "US", US_TAGS, "pphosted.com"),
    "transip": P("transip", "TransIP", "team.blue", "BE", (), "transip.email"),
    "ovhcloud": P("ovhcloud", "OVHcloud", "OVH Groupe SA", "FR", (), "mail.ovh.net"),
    "hetzner": P("hetzner", "Hetzner", "Hetzner Online GmbH", "DE", (), "your-server.de"),
    "cloudflare": P(
        "cloudflare", "Cloudflare", "Cloudflare, Inc.", "US", US_TAGS, "ns.cloudflare.com"
    ),
}
SOURCE = "https://example.org/fixture-source"


def _finding(domain: str, cap: Capability, p: P, rng: random.Random) -> Finding:
    host = f"{domain.replace('.', '-')}.{p.mx}"
    ev = Evidence(
        probe="mx" if cap in (Capability.MAILBOX, Capability.MAIL_GATEWAY) else "ns",
        qname=domain,
        rtype="MX" if cap in (Capability.MAILBOX, Capability.MAIL_GATEWAY) else "NS",
        value=f"10 {host}" if cap in (Capability.MAILBOX, Capability.MAIL_GATEWAY) else host,
        fingerprint=f"*.{p.mx}",
        source=SOURCE,
        weight=0.9,
    )
    us = p.jurisdiction == "US"
    return Finding(
        domain=domain,
        capability=cap,
        provider=p.id,
        provider_name=p.name,
        parent=p.parent,
        jurisdiction=p.jurisdiction,
        confidence=round(rng.uniform(0.6, 0.99), 2),
        code=f"{cap.name}_{'US' if us else 'NON_US'}_JURISDICTION",
        evidence=(ev,),
        tags=p.tags,
    )


def domain_findings(domain: str, rng: random.Random, us_bias: float = 0.6) -> list[Finding]:
    mail = "microsoft" if rng.random() < us_bias else rng.choice(["transip", "ovhcloud", "google"])
    out = [_finding(domain, Capability.MAILBOX, PROVIDERS[mail], rng)]
    if mail == "microsoft":
        out.append(_finding(domain, Capability.OFFICE, PROVIDERS["microsoft"], rng))
        out.append(_finding(domain, Capability.IDENTITY, PROVIDERS["microsoft"], rng))
        if rng.random() < 0.2:
            out.append(_finding(domain, Capability.MAIL_GATEWAY, PROVIDERS["proofpoint"], rng))
    dns = rng.choice(["cloudflare", "transip", "hetzner", "ovhcloud"])
    out.append(_finding(domain, Capability.DNS, PROVIDERS[dns], rng))
    return out


def add_scan(
    conn: Connection,
    domains: list[tuple[str, dict[str, object]]],
    *,
    seed: int = 1,
    us_bias: float = 0.6,
    started_at: str = "2026-01-01T00:00:00Z",
    label: str = "",
    batch: int = 5000,
) -> int:
    """Insert one finished scan of ``domains`` (name, attributes); returns its id."""
    rng = random.Random(seed)
    sid = conn.execute(
        insert(scans).values(
            started_at=started_at,
            finished_at=started_at,
            status="done",
            input="generated",
            input_digest="",
            shard="",
            knowledge_version="test",
            params="{}",
            label=label,
        )
    ).inserted_primary_key
    assert sid is not None
    scan_id = int(sid[0])
    dom_rows: list[dict[str, object]] = []
    f_rows: list[dict[str, object]] = []
    for pos, (name, attrs) in enumerate(domains):
        fs = domain_findings(name, rng, us_bias)
        obs = [
            Observation(
                "mx", name, "MX", Status.NOERROR, (RR(name, "MX", 3600, fs[0].evidence[0].value),)
            ).to_json()
        ]
        dom_rows.append(
            {
                "scan_id": scan_id,
                "domain": name,
                "position": pos,
                "attributes": json.dumps(attrs),
                "queries": 12,
                "errors": 0,
                "observations": zlib.compress(json.dumps(obs).encode()),
            }
        )
        for f in fs:
            j = f.to_json()
            f_rows.append(
                {
                    "scan_id": scan_id,
                    "domain": f.domain,
                    "capability": j["capability"],
                    "provider": f.provider,
                    "provider_name": f.provider_name,
                    "parent": f.parent,
                    "jurisdiction": f.jurisdiction,
                    "confidence": f.confidence,
                    "code": f.code,
                    "role": f.role,
                    "service": f.service,
                    "tags": json.dumps(j["tags"]),
                    "evidence": json.dumps(j["evidence"]),
                    "knowledge_version": "test",
                }
            )
        if len(dom_rows) >= batch:
            conn.execute(insert(scan_domains), dom_rows)
            conn.execute(insert(findings), f_rows)
            dom_rows, f_rows = [], []
    if dom_rows:
        conn.execute(insert(scan_domains), dom_rows)
    if f_rows:
        conn.execute(insert(findings), f_rows)
    return scan_id


def municipalities(n: int, seed: int = 7) -> list[tuple[str, dict[str, object]]]:
    """``n`` fictional organisations with domains and coordinates inside the Netherlands."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        name = f"gemeente{i:06d}.nl"
        attrs = {
            "name": f"Gemeente {i:06d}",
            "lat": round(rng.uniform(50.8, 53.4), 4),
            "lon": round(rng.uniform(3.4, 7.2), 4),
        }
        out.append((name, attrs))
    return out


def add_organisations(
    engine: Engine, orgs: list[tuple[str, dict[str, object]]], *, unmapped: int = 1
) -> int:
    """Store the organisations behind ``orgs`` (as from :func:`municipalities`) through the
    organisation room's own writer, one domain each; the first ``unmapped`` get an extra
    website that could not be mapped. Returns the set id."""
    people: list[Organisation] = []
    doms: list[OrgDomain] = []
    gaps: list[Unmapped] = []
    for i, (domain, attrs) in enumerate(orgs):
        oid = f"test:{domain.split('.')[0]}"
        lat, lon = attrs.get("lat"), attrs.get("lon")
        people.append(
            Organisation(
                id=oid,
                name=str(attrs.get("name", domain)),
                type=OrgType.MUNICIPALITY.value,
                country="NL",
                domains=(domain,),
                source="test",
                location=Location(
                    lat=float(lat) if isinstance(lat, int | float) else None,
                    lon=float(lon) if isinstance(lon, int | float) else None,
                ),
            )
        )
        doms.append(OrgDomain(oid, domain, Derivation.DOMAIN, domain))
        if i < unmapped:
            gaps.append(Unmapped(oid, "https://nl", "website", "PUBLIC_SUFFIX", "bare suffix"))
    return save_org_set(engine, "test", people, Mapping(tuple(doms), tuple(gaps)))
