"""One register's risk picture: every service and process scored, concentration, and the
sovereignty assessment of each direct provider. Pure: register, policy, answers in."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sovmap.knowledge.catalogue import Catalogue
from sovmap.register.model import Register
from sovmap.risk.concentration import (
    CapabilityConcentration,
    Dependence,
    capability_concentration,
    critical_dependence,
)
from sovmap.risk.policy import Policy
from sovmap.risk.scores import (
    Score,
    continuity,
    process_confidentiality,
    process_continuity,
    service_confidentiality,
)
from sovmap.risk.sovereignty import Assessment, assess, register_facts


@dataclass(frozen=True, slots=True)
class RiskReport:
    organisation: str
    policy: str
    services: tuple[tuple[Score, Score], ...]  # (confidentiality, continuity)
    processes: tuple[tuple[Score, Score], ...]
    concentration: tuple[CapabilityConcentration, ...]
    dependence: tuple[Dependence, ...]
    sovereignty: tuple[Assessment, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "organisation": self.organisation,
            "policy": self.policy,
            "processes": [
                {"id": c.subject, "confidentiality": c.to_json(), "continuity": k.to_json()}
                for c, k in self.processes
            ],
            "services": [
                {"id": c.subject, "confidentiality": c.to_json(), "continuity": k.to_json()}
                for c, k in self.services
            ],
            "concentration": [c.to_json() for c in self.concentration],
            "critical_dependence": [d.to_json() for d in self.dependence],
            "sovereignty": [a.to_json() for a in self.sovereignty],
        }


def assess_register(
    register: Register,
    policy: Policy,
    answers: Mapping[str, Mapping[str, bool]] | None = None,
    catalogue: Catalogue | None = None,
) -> RiskReport:
    answers = answers or {}
    services = tuple(
        (service_confidentiality(register, policy, sid), continuity(register, policy, sid))
        for sid in register.services
    )
    processes = tuple(
        (process_confidentiality(register, policy, p), process_continuity(register, policy, p))
        for p in register.processes.values()
    )
    direct = dict.fromkeys(
        s.provider.value
        for s in register.services.values()
        if s.provider.value in register.providers
    )
    sovereignty = tuple(
        assess(policy, register_facts(register, pid, catalogue), answers.get(pid, {}))
        for pid in direct
        if pid is not None
    )
    return RiskReport(
        register.organisation.id,
        policy.source,
        services,
        processes,
        tuple(capability_concentration(register, policy)),
        tuple(critical_dependence(register, policy)),
        sovereignty,
    )
