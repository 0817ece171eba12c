"""Frozen value types shared by every room of sovmap.

Data flows one way: domains -> observations (raw DNS answers, kept) -> findings (with the
evidence that proves them). Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import Any, TypeVar

from sovmap.control import us_controlled  # the one rule lives in control.py


class Capability(StrEnum):
    """What a provider does for an organisation, as far as DNS can reveal it."""

    MAILBOX = "mailbox"
    MAIL_GATEWAY = "mail-gateway"
    OUTBOUND = "outbound-sender"
    DNS = "dns-hosting"
    WEB = "web-hosting"
    CDN = "cdn"
    IDENTITY = "identity"
    OFFICE = "office-suite"
    SAAS = "saas"


class Status(StrEnum):
    """Outcome of one DNS question. RCODE names, plus transport outcomes."""

    NOERROR = "NOERROR"
    NXDOMAIN = "NXDOMAIN"
    SERVFAIL = "SERVFAIL"
    REFUSED = "REFUSED"
    FORMERR = "FORMERR"
    NOTIMP = "NOTIMP"
    TIMEOUT = "TIMEOUT"
    MALFORMED = "MALFORMED"  # the answer could not be parsed or failed validation
    OTHER = "OTHER"

    @property
    def answered(self) -> bool:
        return self in _ANSWERED


_ANSWERED = frozenset({Status.NOERROR, Status.NXDOMAIN})


@dataclass(frozen=True, slots=True)
class RR:
    """One resource record as observed. ``name`` is lower-case, without the trailing dot.

    ``data`` is the record's data in a stable text form: an address for A/AAAA, a target
    name for CNAME/NS/PTR, ``"PREF HOST"`` for MX, ``"PRIO WEIGHT PORT TARGET"`` for SRV and
    the joined character-strings for TXT.
    """

    name: str
    rtype: str
    ttl: int
    data: str

    def to_json(self) -> list[Any]:
        return [self.name, self.rtype, self.ttl, self.data]

    @classmethod
    def from_json(cls, raw: list[Any]) -> RR:
        return cls(str(raw[0]), str(raw[1]), int(raw[2]), str(raw[3]))


@dataclass(frozen=True, slots=True)
class Observation:
    """The answer to one question, kept raw so a newer knowledge base can re-read it.

    ``probe`` names the slot of the probe plan that asked it (``mx``, ``autodiscover``,
    ``spf``, ...); ``via`` names the record that led to a follow-up question (an MX host,
    an SPF include).
    """

    probe: str
    qname: str
    qtype: str
    status: Status
    answers: tuple[RR, ...] = ()
    via: str = ""

    def records(self, rtype: str) -> tuple[RR, ...]:
        return tuple(r for r in self.answers if r.rtype == rtype)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "probe": self.probe,
            "qname": self.qname,
            "qtype": self.qtype,
            "status": self.status.value,
        }
        if self.answers:
            out["answers"] = [r.to_json() for r in self.answers]
        if self.via:
            out["via"] = self.via
        return out

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Observation:
        return cls(
            probe=str(raw["probe"]),
            qname=str(raw["qname"]),
            qtype=str(raw["qtype"]),
            status=Status(raw["status"]),
            answers=tuple(RR.from_json(a) for a in raw.get("answers", ())),
            via=str(raw.get("via", "")),
        )


_T = TypeVar("_T")


def slot_maker(cls: type[_T]) -> Callable[..., _T]:
    """A constructor of a frozen slots dataclass taking every field positionally, in the
    declared order, that sets the slots through their own descriptors: the object the
    generated ``__init__`` makes (no defaults, no ``__post_init__``), in about half the time,
    since it skips the frozen class's ``object.__setattr__`` per field. For hot paths only;
    tests hold each maker in use to the dataclass field by field."""
    if hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls.__name__} has a __post_init__ that slot_maker would skip")
    names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    env: dict[str, Any] = {"_new": object.__new__, "_cls": cls}
    env.update({f"_set_{n}": cls.__dict__[n].__set__ for n in names})
    args = ", ".join(names)
    body = "".join(f"    _set_{n}(o, {n})\n" for n in names)
    # the names are the dataclass's own field identifiers, nothing from outside
    exec(f"def make({args}):\n    o = _new(_cls)\n{body}    return o\n", env)
    make: Callable[..., _T] = env["make"]
    make.__qualname__ = f"slot_maker({cls.__name__})"
    return make


#: ``Observation(probe, qname, qtype, status, answers, via)`` for the scan's hot path, in
#: half the time of the generated ``__init__``; the same object (a test holds it to every
#: field).
new_observation: Callable[[str, str, str, Status, tuple[RR, ...], str], Observation] = slot_maker(
    Observation
)


@dataclass(frozen=True, slots=True)
class Evidence:
    """One observed record that supports a finding, and the knowledge it matched."""

    probe: str
    qname: str
    rtype: str
    value: str
    fingerprint: str  # the pattern of the matched fingerprint, or a rule code
    source: str  # where the fingerprint fact comes from (URL)
    weight: float
    chain: tuple[str, ...] = ()  # how we got here: SPF include path, CNAME chain

    @property
    def source_host(self) -> str:
        """The host of a web source (``https://host/...``), the text of its link on a page;
        empty when the source is not a web address."""
        if not self.source.startswith(("http://", "https://")):
            return ""
        return self.source.split("/", 3)[2]

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "probe": self.probe,
            "qname": self.qname,
            "rtype": self.rtype,
            "value": self.value,
            "fingerprint": self.fingerprint,
            "source": self.source,
            "weight": self.weight,
        }
        if self.chain:
            out["chain"] = list(self.chain)
        return out

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Evidence:
        return cls(
            probe=str(raw["probe"]),
            qname=str(raw["qname"]),
            rtype=str(raw["rtype"]),
            value=str(raw["value"]),
            fingerprint=str(raw["fingerprint"]),
            source=str(raw["source"]),
            weight=float(raw["weight"]),
            chain=tuple(raw.get("chain", ())),
        )


@dataclass(frozen=True, slots=True)
class Finding:
    """Who runs one capability of one domain, under which jurisdiction, and why we think so.

    ``code`` is a stable machine code (e.g. ``MAILBOX_US_JURISDICTION``); prose is rendered
    at the edge. ``jurisdiction`` is the ISO 3166 code of the state whose law controls the
    provider's ultimate parent (``"US"``, ``"DE"``, ...) or ``""`` when unknown;
    ``tags`` carries legal exposure tags (``us-cloud-act``, ``us-fisa-702``, ...).
    """

    domain: str
    capability: Capability
    provider: str  # provider id from the knowledge base, or a derived id ("self:example.nl")
    provider_name: str
    parent: str
    jurisdiction: str
    confidence: float
    code: str
    evidence: tuple[Evidence, ...] = ()
    tags: tuple[str, ...] = ()
    service: str = ""
    role: str = "primary"  # primary | additional | gateway-behind

    @property
    def us_controlled(self) -> bool:
        return us_controlled(self.jurisdiction, self.tags)

    def to_json(self) -> dict[str, Any]:
        return {
            "domain": self.domain,
            "capability": self.capability.value,
            "provider": self.provider,
            "provider_name": self.provider_name,
            "parent": self.parent,
            "jurisdiction": self.jurisdiction,
            "confidence": round(self.confidence, 3),
            "code": self.code,
            "tags": list(self.tags),
            "service": self.service,
            "role": self.role,
            "evidence": [e.to_json() for e in self.evidence],
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Finding:
        return cls(
            domain=str(raw["domain"]),
            capability=Capability(raw["capability"]),
            provider=str(raw["provider"]),
            provider_name=str(raw["provider_name"]),
            parent=str(raw["parent"]),
            jurisdiction=str(raw["jurisdiction"]),
            confidence=float(raw["confidence"]),
            code=str(raw["code"]),
            evidence=tuple(Evidence.from_json(e) for e in raw.get("evidence", ())),
            tags=tuple(raw.get("tags", ())),
            service=str(raw.get("service", "")),
            role=str(raw.get("role", "primary")),
        )


#: ``Evidence(...)`` and ``Finding(...)`` with every field given in order, for the
#: classifier's hot path (see :func:`slot_maker`).
new_evidence: Callable[[str, str, str, str, str, str, float, tuple[str, ...]], Evidence] = (
    slot_maker(Evidence)
)
new_finding: Callable[
    [
        str,
        Capability,
        str,
        str,
        str,
        str,
        float,
        str,
        tuple[Evidence, ...],
        tuple[str, ...],
        str,
        str,
    ],
    Finding,
] = slot_maker(Finding)


@dataclass(frozen=True, slots=True)
class DomainResult:
    """Everything one scan learned about one domain."""

    domain: str
    observations: tuple[Observation, ...]
    attributes: dict[str, str] = field(default_factory=dict)
    queries: int = 0
    errors: int = 0
    position: int = 0  # line of the input it came from
