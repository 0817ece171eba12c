"""The inside-out register as a typed graph of frozen values.

organisation -> processes -> services (applications and ICT services) -> providers
(with subcontractors and ultimate parent); data assets linked to the services that store or
process them; contracts; dependencies between services.

Every attribute that a person could know or not know is a :class:`Valued`: the value plus
where it came from (entered by a person, inferred from a scan or another source with its
evidence, or missing). Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Generic, TypeVar

T = TypeVar("T")
E = TypeVar("E", bound=StrEnum)


class Origin(StrEnum):
    """Where a value comes from."""

    ENTERED = "entered"  # typed in by a person (the register files)
    INFERRED = "inferred"  # derived from a scan, the catalogue or another source, with evidence
    MISSING = "missing"  # nobody knows yet


@dataclass(frozen=True, slots=True)
class Location:
    """Where a value was read: file (relative to the register directory) and 1-based line."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True, slots=True)
class Valued(Generic[T]):
    """One value with its provenance.

    ``source`` names where an inferred value comes from (``scan:12``, ``catalogue:microsoft``,
    a URL); ``evidence`` lists the facts that support it; ``confirmed_by`` names the person
    who confirmed an inferred value. ``at`` is where it was read and is not part of the
    meaning (two values read from different lines are equal).
    """

    value: T | None = None
    origin: Origin = Origin.MISSING
    evidence: tuple[str, ...] = ()
    source: str = ""
    confirmed_by: str = ""
    at: Location | None = field(default=None, compare=False)

    @classmethod
    def entered(cls, value: T, confirmed_by: str = "") -> Valued[T]:
        return cls(value, Origin.ENTERED, confirmed_by=confirmed_by)

    @classmethod
    def inferred(cls, value: T, source: str, evidence: tuple[str, ...] = ()) -> Valued[T]:
        return cls(value, Origin.INFERRED, evidence=evidence, source=source)

    @classmethod
    def missing(cls) -> Valued[T]:
        return cls()

    @property
    def known(self) -> bool:
        return self.value is not None

    @property
    def confirmed(self) -> bool:
        """Entered by a person, or inferred and confirmed by one."""
        return self.origin is Origin.ENTERED or bool(self.confirmed_by)

    def get(self, default: T) -> T:
        return default if self.value is None else self.value

    def __bool__(self) -> bool:  # pragma: no cover - guard against `if valued:` mistakes
        raise TypeError("use .known or .value on a Valued, not its truth value")


def missing() -> Valued[T]:
    """Factory for dataclass defaults: ``field(default_factory=missing)``."""
    return Valued()


class Criticality(StrEnum):
    CRITICAL = "critical"  # DORA: critical or important function
    IMPORTANT = "important"
    NORMAL = "normal"


class Level(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class Deployment(StrEnum):
    SAAS = "saas"
    PAAS = "paas"
    IAAS = "iaas"
    ON_PREMISES = "on-premises"
    PRIVATE_CLOUD = "private-cloud"  # run for the organisation alone (e.g. a shared service centre)


class KeyControl(StrEnum):
    """Who can decrypt the data at rest."""

    CUSTOMER_EXTERNAL = "customer-external"  # keys held outside the provider (own HSM, double key)
    CUSTOMER_MANAGED = "customer-managed"  # customer key in the provider's key service (BYOK)
    PROVIDER_MANAGED = "provider-managed"
    NONE = "none"  # not encrypted at rest


class Classification(StrEnum):
    """Data classification, in increasing order (Dutch BIO/VIRBI levels at the top)."""

    PUBLIC = "public"
    INTERNAL = "internal"
    CONFIDENTIAL = "confidential"  # departementaal vertrouwelijk
    STATE_CONFIDENTIAL = "state-confidential"  # Stg. Confidentieel
    STATE_SECRET = "state-secret"  # Stg. Geheim
    STATE_TOP_SECRET = "state-top-secret"  # Stg. Zeer Geheim

    @property
    def rank(self) -> int:
        return list(Classification).index(self)


class Substitutability(StrEnum):
    """DORA B_07.01 c0050 levels."""

    EASY = "easy"
    MEDIUM = "medium"
    HARD = "hard"  # highly complex
    NONE = "none"  # not substitutable


class ExitPlan(StrEnum):
    NONE = "none"
    DOCUMENTED = "documented"
    TESTED = "tested"


class Reintegration(StrEnum):
    EASY = "easy"
    DIFFICULT = "difficult"
    HIGHLY_COMPLEX = "highly-complex"


class Reliance(StrEnum):
    """DORA B_02.02 c0180 levels."""

    NOT_SIGNIFICANT = "not-significant"
    LOW = "low"
    MATERIAL = "material"
    FULL = "full"


class ServiceKind(StrEnum):
    APPLICATION = "application"
    ICT_SERVICE = "ict-service"


class DependencyKind(StrEnum):
    HOSTED_ON = "hosted-on"  # a SaaS runs on a hyperscaler
    IDENTITY = "identity"  # sign-on through another service (Entra ID SSO)
    MAIL = "mail"  # mail relayed through / delivered by another service
    NETWORK = "network"
    DATA = "data"  # reads data from another service
    BACKUP = "backup"  # backed up to another service
    OTHER = "other"


class ContractKind(StrEnum):
    STANDALONE = "standalone"
    OVERARCHING = "overarching"
    SUBSEQUENT = "subsequent"


class DataUse(StrEnum):
    STORES = "stores"
    PROCESSES = "processes"


@dataclass(frozen=True, slots=True)
class Dependency:
    """This service needs ``service`` to work (e.g. a SaaS is ``hosted-on`` AWS)."""

    service: str
    kind: DependencyKind
    origin: Origin = Origin.ENTERED
    note: str = ""
    at: Location | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class EscalationStep:
    """What happens to a process after an outage has lasted ``after_hours``."""

    after_hours: float
    impact: Level
    description: str = ""


@dataclass(frozen=True, slots=True)
class Subcontract:
    """A provider in the chain behind a provider (``rank`` 2 = direct subcontractor)."""

    provider: str
    role: str = ""
    rank: int = 2
    services: tuple[str, ...] = ()  # the register services concerned; empty = all of them
    origin: Origin = Origin.ENTERED
    at: Location | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Audience:
    """A group of people and/or organisations that processes serve (``organisation.audiences``).

    ``within``: the id of a larger group that contains this one; ``disjoint_from``: groups
    that share no member with this one. Groups neither nested nor disjoint may overlap in an
    unknown way. A size that is None is unknown (never 0)."""

    id: str
    name: str = ""
    people: int | None = None
    organisations: int | None = None
    within: str = ""
    disjoint_from: tuple[str, ...] = ()
    source: str = ""


@dataclass(frozen=True, slots=True)
class DataLink:
    service: str
    use: DataUse = DataUse.STORES


@dataclass(frozen=True, slots=True)
class Organisation:
    id: str
    name: str
    lei: Valued[str] = field(default_factory=missing)
    euid: Valued[str] = field(default_factory=missing)
    country: Valued[str] = field(default_factory=missing)
    kind: Valued[str] = field(default_factory=missing)  # e.g. executive-agency, municipality
    dora_entity_type: Valued[str] = field(default_factory=missing)  # eba_CT code, for RoI
    sector: Valued[str] = field(default_factory=missing)
    currency: Valued[str] = field(default_factory=missing)
    competent_authority: Valued[str] = field(default_factory=missing)
    total_assets: Valued[float] = field(default_factory=missing)
    # DORA B_01.02 of the organisation itself: place in its group and register dates
    hierarchy: Valued[str] = field(default_factory=missing)  # ultimate-parent, parent, ...
    parent_lei: Valued[str] = field(default_factory=missing)  # LEI of the direct parent
    integrated_on: Valued[date] = field(default_factory=missing)
    updated_on: Valued[date] = field(default_factory=missing)
    reported_on: Valued[date] = field(default_factory=missing)  # B_01.01 date of the reporting
    #: DORA B_99.01: the organisation's definitions of the RoI's scales, as 'c0010: text'
    dora_definitions: Valued[tuple[str, ...]] = field(default_factory=missing)
    #: people the organisation serves in all (e.g. a country's population), with its source
    population: Valued[int] = field(default_factory=missing)
    audiences: tuple[Audience, ...] = ()  # the groups processes serve (Process.audience)
    domains: tuple[str, ...] = ()
    at: Location | None = field(default=None, compare=False)
    #: where each field and list item was read ("services", "services.2"); not part of meaning
    locations: Mapping[str, Location] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Process:
    """A business process (a DORA function): what the organisation does for whom."""

    id: str
    name: str
    description: str = ""
    criticality: Valued[Criticality] = field(default_factory=missing)
    criticality_reason: Valued[str] = field(default_factory=missing)
    assessed_on: Valued[date] = field(default_factory=missing)
    rto_hours: Valued[float] = field(default_factory=missing)
    rpo_hours: Valued[float] = field(default_factory=missing)
    people_served: Valued[int] = field(default_factory=missing)
    organisations_served: Valued[int] = field(default_factory=missing)
    audience: tuple[str, ...] = ()  # ids of organisation.audiences this process serves
    legal_basis: Valued[str] = field(default_factory=missing)
    discontinuing_impact: Valued[Level] = field(default_factory=missing)
    licensed_activity: Valued[str] = field(default_factory=missing)  # DORA B_06.01 c0020 code
    entity: Valued[str] = field(default_factory=missing)  # LEI of the group entity (DORA)
    services: tuple[str, ...] = ()
    escalation: tuple[EscalationStep, ...] = ()
    fallback: Valued[str] = field(default_factory=missing)  # manual or alternative procedure
    fallback_days: Valued[float] = field(default_factory=missing)  # how long it can carry
    origin: Origin = Origin.ENTERED
    at: Location | None = field(default=None, compare=False)
    #: where each field and list item was read ("services", "services.2"); not part of meaning
    locations: Mapping[str, Location] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Service:
    """An application or ICT service, run by a provider (or by the organisation itself)."""

    id: str
    name: str
    kind: ServiceKind = ServiceKind.ICT_SERVICE
    capability: Valued[str] = field(default_factory=missing)
    product: Valued[str] = field(default_factory=missing)
    provider: Valued[str] = field(default_factory=missing)  # provider id
    deployment: Valued[Deployment] = field(default_factory=missing)
    data_location: Valued[str] = field(default_factory=missing)  # ISO 3166 country, data at rest
    processing_location: Valued[str] = field(default_factory=missing)
    key_control: Valued[KeyControl] = field(default_factory=missing)
    dora_service_type: Valued[str] = field(default_factory=missing)  # S01..S19
    contract: Valued[str] = field(default_factory=missing)  # contract id
    stores_data: Valued[bool] = field(default_factory=missing)
    reliance: Valued[Reliance] = field(default_factory=missing)
    substitutability: Valued[Substitutability] = field(default_factory=missing)
    #: DORA B_07.01 c0060: no-alternatives | migration | both
    substitutability_reason: Valued[str] = field(default_factory=missing)
    #: DORA B_02.02 c0170; when missing, derived from the data assets the service holds
    data_sensitivity: Valued[Level] = field(default_factory=missing)
    #: DORA B_02.02 c0130 (country from which the service is provided)
    provision_country: Valued[str] = field(default_factory=missing)
    reintegration: Valued[Reintegration] = field(default_factory=missing)
    discontinuing_impact: Valued[Level] = field(default_factory=missing)
    exit_plan: Valued[ExitPlan] = field(default_factory=missing)
    alternatives: Valued[tuple[str, ...]] = field(default_factory=missing)  # names or ids
    last_audit: Valued[date] = field(default_factory=missing)
    users: Valued[int] = field(default_factory=missing)
    fallback: Valued[str] = field(default_factory=missing)  # id of a service that can take over
    backup: Valued[str] = field(default_factory=missing)  # id of the service holding backups
    depends_on: tuple[Dependency, ...] = ()
    origin: Origin = Origin.ENTERED
    evidence: tuple[str, ...] = ()
    source: str = ""
    at: Location | None = field(default=None, compare=False)
    #: where each field and list item was read ("services", "services.2"); not part of meaning
    locations: Mapping[str, Location] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Provider:
    """A legal entity that provides services, with who controls it and which law reaches it."""

    id: str
    name: str
    legal_name: Valued[str] = field(default_factory=missing)
    lei: Valued[str] = field(default_factory=missing)
    euid: Valued[str] = field(default_factory=missing)
    country: Valued[str] = field(default_factory=missing)  # headquarters
    parent: Valued[str] = field(default_factory=missing)  # id of the ultimate parent's entry
    parent_name: Valued[str] = field(default_factory=missing)
    parent_country: Valued[str] = field(default_factory=missing)
    parent_lei: Valued[str] = field(default_factory=missing)
    jurisdiction: Valued[str] = field(default_factory=missing)  # state whose law controls it
    tags: Valued[tuple[str, ...]] = field(default_factory=missing)  # legal exposure tags
    catalogue_id: Valued[str] = field(default_factory=missing)  # id in the knowledge base
    person_type: Valued[str] = field(default_factory=missing)  # legal-person | individual
    # identifiers other than LEI/EUID (DORA B_05.01): crn, vat, passport, national-id
    other_id: Valued[str] = field(default_factory=missing)
    other_id_type: Valued[str] = field(default_factory=missing)
    extra_id: Valued[str] = field(default_factory=missing)
    extra_id_type: Valued[str] = field(default_factory=missing)
    subcontractors: tuple[Subcontract, ...] = ()
    origin: Origin = Origin.ENTERED
    evidence: tuple[str, ...] = ()
    source: str = ""
    at: Location | None = field(default=None, compare=False)
    #: where each field and list item was read ("services", "services.2"); not part of meaning
    locations: Mapping[str, Location] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class DataAsset:
    id: str
    name: str
    classification: Valued[Classification] = field(default_factory=missing)
    personal_data: Valued[bool] = field(default_factory=missing)
    special_categories: Valued[bool] = field(default_factory=missing)  # GDPR art. 9/10, BSN
    base_register: Valued[bool] = field(default_factory=missing)  # a Dutch basisregistratie
    records: Valued[int] = field(default_factory=missing)
    processes: tuple[str, ...] = ()
    services: tuple[DataLink, ...] = ()
    origin: Origin = Origin.ENTERED
    at: Location | None = field(default=None, compare=False)
    #: where each field and list item was read ("services", "services.2"); not part of meaning
    locations: Mapping[str, Location] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Contract:
    id: str  # the contractual arrangement reference number
    name: str = ""
    provider: Valued[str] = field(default_factory=missing)
    services: tuple[str, ...] = ()
    kind: Valued[ContractKind] = field(default_factory=missing)
    overarching: Valued[str] = field(default_factory=missing)
    start: Valued[date] = field(default_factory=missing)
    end: Valued[date] = field(default_factory=missing)
    notice_days: Valued[int] = field(default_factory=missing)  # for the organisation
    provider_notice_days: Valued[int] = field(default_factory=missing)
    exit_clause: Valued[bool] = field(default_factory=missing)
    exit_assistance_months: Valued[int] = field(default_factory=missing)
    governing_law: Valued[str] = field(default_factory=missing)
    annual_cost: Valued[float] = field(default_factory=missing)
    currency: Valued[str] = field(default_factory=missing)
    termination_reason: Valued[str] = field(default_factory=missing)
    # DORA group links (LEIs of group entities, ids of branches, contract references);
    # empty signed_by / used_by mean the organisation itself
    signed_by: tuple[str, ...] = ()  # B_03.01: entities signing to receive the services
    used_by: tuple[str, ...] = ()  # B_04.01: entities or branches using the services
    provided_by: tuple[str, ...] = ()  # B_03.03: group entities providing (intra-group)
    linked: tuple[str, ...] = ()  # B_02.03: intra-group arrangements this one relies on
    origin: Origin = Origin.ENTERED
    at: Location | None = field(default=None, compare=False)
    #: where each field and list item was read ("services", "services.2"); not part of meaning
    locations: Mapping[str, Location] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class GroupEntity:
    """Another entity of the organisation's group in the DORA register (B_01.02)."""

    id: str
    name: str
    lei: Valued[str] = field(default_factory=missing)
    country: Valued[str] = field(default_factory=missing)
    dora_entity_type: Valued[str] = field(default_factory=missing)  # eba_CT code
    hierarchy: Valued[str] = field(default_factory=missing)  # ultimate-parent, subsidiary, ...
    parent_lei: Valued[str] = field(default_factory=missing)
    currency: Valued[str] = field(default_factory=missing)
    total_assets: Valued[float] = field(default_factory=missing)
    integrated_on: Valued[date] = field(default_factory=missing)
    updated_on: Valued[date] = field(default_factory=missing)
    deleted_on: Valued[date] = field(default_factory=missing)
    origin: Origin = Origin.ENTERED
    at: Location | None = field(default=None, compare=False)
    locations: Mapping[str, Location] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Branch:
    """A branch of a group entity (DORA B_01.03); ``id`` is its identification code."""

    id: str
    name: str
    entity: Valued[str] = field(default_factory=missing)  # LEI of the head office
    country: Valued[str] = field(default_factory=missing)
    origin: Origin = Origin.ENTERED
    at: Location | None = field(default=None, compare=False)
    locations: Mapping[str, Location] = field(default_factory=dict, compare=False, repr=False)


def where(entity: object, key: str) -> Location | None:
    """Location of a field or list item (``"services.2"``) of an entity, else of the entity."""
    locations: Mapping[str, Location] = getattr(entity, "locations", {})
    found = locations.get(key) or locations.get(key.split(".", maxsplit=1)[0])
    return found or getattr(entity, "at", None)


@dataclass(frozen=True, slots=True)
class Register:
    """One organisation's register. Mappings keep file order and are keyed by id."""

    organisation: Organisation
    processes: Mapping[str, Process] = field(default_factory=dict)
    services: Mapping[str, Service] = field(default_factory=dict)
    providers: Mapping[str, Provider] = field(default_factory=dict)
    data_assets: Mapping[str, DataAsset] = field(default_factory=dict)
    contracts: Mapping[str, Contract] = field(default_factory=dict)
    entities: Mapping[str, GroupEntity] = field(default_factory=dict)  # DORA group
    branches: Mapping[str, Branch] = field(default_factory=dict)

    def provider_of(self, service_id: str) -> Provider | None:
        svc = self.services.get(service_id)
        if svc is None or svc.provider.value is None:
            return None
        return self.providers.get(svc.provider.value)

    def processes_using(self, service_id: str) -> tuple[Process, ...]:
        """Processes that use a service directly or through dependencies."""
        return tuple(p for p in self.processes.values() if service_id in self.closure(p.services))

    def closure(self, service_ids: tuple[str, ...] | list[str]) -> tuple[str, ...]:
        """The services plus everything they depend on, transitively, in discovery order."""
        seen: dict[str, None] = {}
        stack = list(reversed(service_ids))
        while stack:
            sid = stack.pop()
            if sid in seen:
                continue
            seen[sid] = None
            svc = self.services.get(sid)
            if svc is not None:
                stack.extend(reversed([d.service for d in svc.depends_on]))
        return tuple(seen)

    def data_of(self, service_id: str) -> tuple[DataAsset, ...]:
        return tuple(
            d for d in self.data_assets.values() if any(x.service == service_id for x in d.services)
        )

    def chain(self, provider_id: str, service_id: str = "") -> tuple[str, ...]:
        """The provider, its subcontractors (for this service) and their ultimate parents."""
        seen: dict[str, None] = {}
        stack = [provider_id]
        while stack:
            pid = stack.pop()
            if pid in seen:
                continue
            seen[pid] = None
            prov = self.providers.get(pid)
            if prov is None:
                continue
            if prov.parent.value and prov.parent.value != pid:
                stack.append(prov.parent.value)
            for sub in prov.subcontractors:
                if not service_id or not sub.services or service_id in sub.services:
                    stack.append(sub.provider)
        return tuple(seen)

    def values(self) -> Iterator[tuple[str, str, Valued[object]]]:
        """Every Valued attribute as (entity id, field name, value), for quality reports."""
        groups: tuple[Mapping[str, object], ...] = (
            {self.organisation.id: self.organisation},
            self.processes,
            self.services,
            self.providers,
            self.data_assets,
            self.contracts,
            self.entities,
            self.branches,
        )
        for group in groups:
            for eid, entity in group.items():
                for name in entity.__dataclass_fields__:  # type: ignore[attr-defined]
                    v = getattr(entity, name)
                    if isinstance(v, Valued):
                        yield eid, name, v
