"""Turn outside-in scan findings into proposed register entries.

Proposals are *inferred* values with their evidence (the DNS records of the finding) and
source (``scan:<id>``, ``catalogue:<provider>``). They are written to a file of their own in
the register directory (``scan-import.yaml``); because an entered value always wins when
files are merged, a proposal never overwrites what a person entered, and a person confirms
a proposal by copying it or by adding ``confirmed_by``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeVar

from sovmap.knowledge.catalogue import Catalogue
from sovmap.knowledge.catalogue import Provider as CatalogueProvider
from sovmap.model import Capability, Finding
from sovmap.register.model import Deployment, Origin, Provider, Register, Service, Valued

SCAN_FILE = "scan-import.yaml"
T = TypeVar("T")


def _inferred(value: T, source: str, evidence: tuple[str, ...]) -> Valued[T]:
    return Valued(value, Origin.INFERRED, evidence=evidence, source=source)


#: capabilities that DNS shows only for a service run by the provider for the organisation
_SAAS = {
    Capability.MAILBOX,
    Capability.MAIL_GATEWAY,
    Capability.OUTBOUND,
    Capability.IDENTITY,
    Capability.OFFICE,
    Capability.SAAS,
    Capability.DNS,
    Capability.CDN,
}
MAX_EVIDENCE = 5


@dataclass(frozen=True, slots=True)
class Proposals:
    services: tuple[Service, ...]
    providers: tuple[Provider, ...]
    skipped: tuple[str, ...]  # findings not turned into proposals, with the reason


def _evidence(fs: list[Finding]) -> tuple[str, ...]:
    out: list[str] = []
    for f in fs:
        for e in f.evidence:
            line = f"{f.domain}: {e.rtype} {e.qname} -> {e.value} ({f.code})"
            if line not in out:
                out.append(line)
    return tuple(out[:MAX_EVIDENCE])


def _register_provider_id(register: Register, pid: str) -> str | None:
    if pid in register.providers:
        return pid
    for p in register.providers.values():
        if p.catalogue_id.value == pid:
            return p.id
    return None


def _provider_proposal(cp: CatalogueProvider, pid: str, same_entity: bool = True) -> Provider:
    """Catalogue facts about a provider. When the register's entry is another legal entity of
    the same group (matched by ``catalogue_id``, e.g. an EU subsidiary), only the group's
    facts - controlling jurisdiction, legal tags, ultimate parent - are proposed."""
    src = f"catalogue:{cp.id}"
    ev = cp.sources[:1] or (cp.file,)

    def inf(value: T) -> Valued[T]:
        return _inferred(value, src, ev) if value else Valued()

    return Provider(
        id=pid,
        name=cp.name,
        legal_name=inf(cp.legal_name) if same_entity else Valued(),
        country=inf(cp.legal_country) if same_entity else Valued(),
        parent_name=inf(cp.parent_name),
        parent_country=inf(cp.parent_country),
        jurisdiction=inf(cp.jurisdiction),
        tags=inf(tuple(cp.tags)),
        catalogue_id=inf(cp.id),
        origin=Origin.INFERRED,
        evidence=ev,
        source=src,
    )


def propose(
    register: Register, findings: Iterable[Finding], catalogue: Catalogue, scan_id: int
) -> Proposals:
    """Proposed services and providers for the findings on the organisation's domains."""
    domains = {d.lower().rstrip(".") for d in register.organisation.domains}
    groups: dict[tuple[str, Capability, str], list[Finding]] = {}
    skipped: list[str] = []
    for f in findings:
        if domains and f.domain.lower() not in domains:
            continue
        if f.provider not in catalogue.providers:
            skipped.append(
                f"{f.domain} {f.capability.value}: provider {f.provider!r} not in catalogue"
            )
            continue
        groups.setdefault((f.provider, f.capability, f.service), []).append(f)
    source = f"scan:{scan_id}"
    services: dict[str, Service] = {}
    providers: dict[str, Provider] = {}
    for (pid, capability, service_key), fs in groups.items():
        cp = catalogue.providers[pid]
        reg_pid = _register_provider_id(register, pid)
        if reg_pid is None:
            reg_pid = pid
            providers.setdefault(pid, _provider_proposal(cp, pid))
        else:
            # fill what the register does not know about a provider it has
            proposal = _provider_proposal(cp, reg_pid, same_entity=reg_pid == pid)
            providers.setdefault(reg_pid, proposal)
        evidence = _evidence(fs)
        existing = next(
            (
                s
                for s in register.services.values()
                if s.provider.value == reg_pid and s.capability.value == capability.value
            ),
            None,
        )
        if existing is not None:
            sid, name = existing.id, existing.name
        else:
            sid = service_key if service_key and service_key not in register.services else ""
            sid = sid or f"{capability.value}-{pid}"
            name = cp.services.get(service_key, f"{cp.name} ({capability.value})")
        if sid in services:
            continue

        def inf(value: T, ev: tuple[str, ...] = evidence) -> Valued[T]:
            return _inferred(value, source, ev)

        services[sid] = Service(
            id=sid,
            name=name,
            capability=inf(capability.value),
            provider=inf(reg_pid),
            deployment=inf(Deployment.SAAS) if capability in _SAAS else Valued(),
            origin=Origin.INFERRED,
            evidence=evidence,
            source=source,
        )
    return Proposals(tuple(services.values()), tuple(providers.values()), tuple(skipped))


def proposals_register(register: Register, proposals: Proposals) -> Register:
    """The proposals as a register of their own (same organisation), for writing."""
    return Register(
        organisation=register.organisation,
        services={s.id: s for s in proposals.services},
        providers={p.id: p for p in proposals.providers},
    )
