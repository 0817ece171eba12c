"""Value types of the organisation room: organisations, their domains and why they are theirs."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class OrgType(StrEnum):
    """Kinds of public bodies; sources map their own vocabularies onto these."""

    MINISTRY = "ministry"
    PROVINCE = "province"
    MUNICIPALITY = "municipality"
    WATER_BOARD = "water-board"
    ZBO = "zbo"  # zelfstandig bestuursorgaan: independent administrative body
    AGENCY = "agency"  # agentschap: executive agency under a ministry
    JOINT_ARRANGEMENT = "joint-arrangement"  # gemeenschappelijke regeling
    HIGH_COUNCIL = "high-council"
    JUDICIARY = "judiciary"
    ADVISORY = "advisory-body"
    POLICE_FIRE = "police-fire"
    PUBLIC_BODY = "public-body"  # any other public organisation
    OTHER = "other"


class Derivation(StrEnum):
    """How a domain was tied to an organisation."""

    DOMAIN = "domain"  # given as a domain
    WEBSITE = "website"
    EMAIL = "email"
    OVERRIDE = "override"


@dataclass(frozen=True, slots=True)
class Location:
    """Where an organisation sits, as far as the source says."""

    lat: float | None = None
    lon: float | None = None
    place: str = ""
    municipality_code: str = ""

    def to_json(self) -> dict[str, Any]:
        pairs = (
            ("lat", self.lat),
            ("lon", self.lon),
            ("place", self.place),
            ("municipality_code", self.municipality_code),
        )
        return {k: v for k, v in pairs if v not in (None, "")}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Location:
        lat, lon = raw.get("lat"), raw.get("lon")
        return cls(
            lat=None if lat is None else float(lat),
            lon=None if lon is None else float(lon),
            place=str(raw.get("place", "")),
            municipality_code=str(raw.get("municipality_code", "")),
        )


@dataclass(frozen=True, slots=True)
class Organisation:
    """One public body as a source describes it.

    ``id`` is stable across imports of the same source (``nl-oo:12583``, ``wd:Q9899``,
    ``csv:uwv``); ``parent_id`` names another organisation's ``id`` (a ministry for an
    agency). ``groups`` holds extra group names a list assigns (``debate-2025``).
    """

    id: str
    name: str
    type: str = OrgType.OTHER.value
    parent_id: str = ""
    country: str = ""
    websites: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()  # given directly as domains
    source: str = ""
    source_id: str = ""
    source_url: str = ""
    abbreviation: str = ""
    location: Location = field(default_factory=Location)
    groups: tuple[str, ...] = ()
    ended: str = ""  # ISO date the body ceased to exist, when the source says so

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "type": self.type,
            "parent_id": self.parent_id,
            "country": self.country,
            "websites": list(self.websites),
            "emails": list(self.emails),
            "domains": list(self.domains),
            "source": self.source,
            "source_id": self.source_id,
            "source_url": self.source_url,
            "abbreviation": self.abbreviation,
            "location": self.location.to_json(),
            "groups": list(self.groups),
            "ended": self.ended,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Organisation:
        return cls(
            id=str(raw["id"]),
            name=str(raw["name"]),
            type=str(raw.get("type", OrgType.OTHER.value)),
            parent_id=str(raw.get("parent_id", "")),
            country=str(raw.get("country", "")),
            websites=tuple(raw.get("websites", ())),
            emails=tuple(raw.get("emails", ())),
            domains=tuple(raw.get("domains", ())),
            source=str(raw.get("source", "")),
            source_id=str(raw.get("source_id", "")),
            source_url=str(raw.get("source_url", "")),
            abbreviation=str(raw.get("abbreviation", "")),
            location=Location.from_json(raw.get("location") or {}),
            groups=tuple(raw.get("groups", ())),
            ended=str(raw.get("ended", "")),
        )


@dataclass(frozen=True, slots=True)
class OrgDomain:
    """One registrable domain of one organisation, with the value it came from."""

    org_id: str
    domain: str
    how: Derivation
    value: str  # the website, address or domain it was derived from
    reason: str = ""  # required for overrides


@dataclass(frozen=True, slots=True)
class Unmapped:
    """A value (or a whole organisation) that yielded no domain, with a stable code."""

    org_id: str
    value: str
    how: str
    code: str  # domains.PUBLIC_SUFFIX, NO_CONTACT, REMOVED_BY_OVERRIDE, ...
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Mapping:
    """The result of mapping a set of organisations to domains."""

    domains: tuple[OrgDomain, ...]
    unmapped: tuple[Unmapped, ...]

    def orgs_by_domain(self) -> dict[str, tuple[str, ...]]:
        out: dict[str, list[str]] = {}
        for d in self.domains:
            ids = out.setdefault(d.domain, [])
            if d.org_id not in ids:
                ids.append(d.org_id)
        return {k: tuple(v) for k, v in sorted(out.items())}

    def domains_of(self, org_id: str) -> tuple[str, ...]:
        return tuple(sorted({d.domain for d in self.domains if d.org_id == org_id}))
