"""Data location evidence: the published cloud region of the addresses behind a finding.

Pure, like the rest of the classifier. For each finding, the addresses of the hosts its
evidence names (an MX host's A/AAAA answers, a web name's addresses, an address itself) are
looked up in the catalogue's region index (``sovmap.knowledge.regions``); each address in a
published region adds one evidence ``probe="location"`` whose fingerprint is
``region:<cloud>:<region id>`` and whose chain is ``(cloud, region name, country, city)``.
The finding itself (provider, jurisdiction, confidence) is unchanged: where the data centre
is and who controls the provider are two different facts, shown side by side.

Every surface says a location the same way: :func:`data_centre` (a sentence from the message
catalogue, NL/EN) for readers, :func:`data_location` (region ids and countries) for tables.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from sovmap.i18n import has, t
from sovmap.knowledge.catalogue import Catalogue
from sovmap.knowledge.regions import Region, RegionIndex
from sovmap.model import Evidence, Finding, Observation
from sovmap.records import is_address

LOCATION_PROBE = "location"
MAX_PER_FINDING = 8  # located addresses kept per finding
_ADDRESS_TYPES = ("A", "AAAA")


def _addresses(observations: Iterable[Observation]) -> dict[str, list[tuple[str, str]]]:
    """Name asked -> [(rtype, address)] of every answered A/AAAA query (CNAME chains end in
    the name asked, so a web name's addresses are under the name itself)."""
    out: dict[str, list[tuple[str, str]]] = {}
    for o in observations:
        if o.qtype not in _ADDRESS_TYPES:
            continue
        for r in o.answers:
            if r.rtype in _ADDRESS_TYPES:
                out.setdefault(o.qname.lower().rstrip("."), []).append((r.rtype, r.data))
    return out


def _hosts_of(
    e: Evidence, addresses: dict[str, list[tuple[str, str]]]
) -> list[tuple[str, str, str]]:
    """(host, rtype, address) behind one piece of evidence."""
    if e.rtype in _ADDRESS_TYPES and is_address(e.value):
        return [(e.qname, e.rtype, e.value)]
    names: list[str] = []
    if e.rtype in ("MX", "CNAME", "NS", "SRV"):
        names.append(e.value.split()[-1] if e.value else "")
    if e.rtype == "CNAME":
        names.append(e.qname)
    out = []
    for n in names:
        key = n.lower().rstrip(".")
        out += [(key, t, a) for t, a in addresses.get(key, ())]
    return out


def location_evidence(host: str, rtype: str, address: str, region: Region) -> Evidence:
    return Evidence(
        probe=LOCATION_PROBE,
        qname=host,
        rtype=rtype,
        value=address,
        fingerprint=region.ref,
        source=region.source,
        weight=0.0,  # a fact beside the finding, not a vote for its provider
        chain=(region.cloud_name, region.name, region.country, region.city),
    )


def with_locations(
    findings: list[Finding], observations: tuple[Observation, ...], catalogue: Catalogue
) -> list[Finding]:
    """``findings`` with location evidence added where an address sits in a known region."""
    index: RegionIndex | None = catalogue.locations
    if not index or not findings:
        return findings
    addresses = _addresses(observations)
    out: list[Finding] = []
    for f in findings:
        seen: set[str] = set()
        extra: list[Evidence] = []
        for e in f.evidence:
            if e.probe == LOCATION_PROBE:
                continue
            for host, rtype, address in _hosts_of(e, addresses):
                if address in seen or len(extra) >= MAX_PER_FINDING:
                    continue
                seen.add(address)
                region = index.locate(address)
                if region is not None:
                    extra.append(location_evidence(host, rtype, address, region))
        out.append(replace(f, evidence=f.evidence + tuple(extra)) if extra else f)
    return out


def located(f: Finding) -> list[Evidence]:
    """The location evidence of a finding (as stored)."""
    return [
        e for e in f.evidence if e.probe == LOCATION_PROBE and e.fingerprint.startswith("region:")
    ]


def _place(e: Evidence) -> tuple[str, str, str, str, str, str]:
    """(cloud id, region id, cloud name, region name, country, city) of a location evidence,
    names falling back to ids; country and city "" when the region table does not know."""
    _, cloud, region = [*e.fingerprint.split(":", 2), "", ""][:3]
    cloud_name, region_name, country, city = (*e.chain, "", "", "", "")[:4]
    return cloud, region, cloud_name or cloud, region_name or region, country, city


def country_name(code: str, lang: str) -> str:
    """A country code as the catalogue names it (LOC_COUNTRY_<code>), the code itself when
    the catalogue has no name for it, "country unknown" for none."""
    if not code:
        return t(lang, "EXPLAIN_COUNTRY_UNKNOWN")
    key = f"LOC_COUNTRY_{code}"
    return t(lang, key) if has(lang, key) else code


def data_centre(e: Evidence, lang: str) -> str:
    """One location evidence as a reader says it: "data centre: West Europe (Amsterdam area,
    the Netherlands) of Azure" / "datacentrum: ... van Azure"."""
    _, _, cloud, region, country, city = _place(e)
    code = "EXPLAIN_DATA_CENTRE" if city else "EXPLAIN_DATA_CENTRE_NO_CITY"
    return t(lang, code, region=region, city=city, country=country_name(country, lang), cloud=cloud)


def data_location(f: Finding) -> list[tuple[str, str]]:
    """The distinct (``cloud:region`` id, country code or "") of a finding's located
    addresses, in evidence order: the data location column of tabular exports."""
    out: list[tuple[str, str]] = []
    for e in located(f):
        cloud, region, _, _, country, _ = _place(e)
        ref = (f"{cloud}:{region}", country)
        if ref not in out:
            out.append(ref)
    return out


@dataclass(frozen=True, slots=True)
class LocatedHost:
    """One address behind one finding, in a published cloud region."""

    domain: str
    capability: str
    provider: str
    provider_name: str
    jurisdiction: str
    us_controlled: bool
    host: str
    address: str
    cloud: str
    region: str
    region_name: str
    country: str  # "" when the region table does not know the region
    city: str

    def to_json(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in self.__slots__}
        out["jurisdiction"] = self.jurisdiction or None
        out["country"] = self.country or None
        out["city"] = self.city or None
        return out


def located_hosts(findings: Iterable[Finding]) -> list[LocatedHost]:
    """Every located address of every finding, in the findings' order."""
    out: list[LocatedHost] = []
    for f in findings:
        for e in located(f):
            _, region, cloud, region_name, country, city = _place(e)
            out.append(
                LocatedHost(
                    domain=f.domain,
                    capability=f.capability.value,
                    provider=f.provider,
                    provider_name=f.provider_name,
                    jurisdiction=f.jurisdiction,
                    us_controlled=f.us_controlled,
                    host=e.qname,
                    address=e.value,
                    cloud=cloud,
                    region=region,
                    region_name=region_name,
                    country=country,
                    city=city,
                )
            )
    return out


@dataclass(frozen=True, slots=True)
class CountryCount:
    country: str  # "" = unknown
    hosts: int
    domains: int
    us_controlled_hosts: int

    def to_json(self) -> dict[str, Any]:
        return {
            "country": self.country or None,
            "hosts": self.hosts,
            "domains": self.domains,
            "us_controlled_hosts": self.us_controlled_hosts,
        }


def by_country(rows: Iterable[LocatedHost]) -> list[CountryCount]:
    """Which country's data centres hold how many hosts (distinct addresses) of how many
    domains, and how many of those hosts serve a US-controlled provider; most hosts first."""
    hosts: dict[str, set[str]] = {}
    domains: dict[str, set[str]] = {}
    us: dict[str, set[str]] = {}
    for r in rows:
        hosts.setdefault(r.country, set()).add(r.address)
        domains.setdefault(r.country, set()).add(r.domain)
        if r.us_controlled:
            us.setdefault(r.country, set()).add(r.address)
    counts = [CountryCount(c, len(hosts[c]), len(domains[c]), len(us.get(c, ()))) for c in hosts]
    return sorted(counts, key=lambda c: (-c.hosts, c.country == "", c.country))
