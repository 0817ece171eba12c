"""EU Cloud Sovereignty Framework assessment of a provider: SOV-1 ... SOV-8 and SEAL levels.

Each objective is a ladder of yes/no questions, one per SEAL step (policy file). A step is
reached when its question is answered yes - by the user, or automatically from catalogue
and register facts for the few questions facts can decide (legal entity in the EU, ultimate
parent in the EU, no extraterritorial-access tags anywhere in the chain). The objective's
level is the last step reached; an unanswered question stops the ladder and is listed.
Sovereignty score = sum(weight x level / 4) x 100; the provider's SEAL is the lowest
objective level (a tender's minimum SEAL applies to every objective).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sovmap.knowledge.catalogue import Catalogue
from sovmap.knowledge.catalogue import Provider as CatalogueProvider
from sovmap.register.model import Register
from sovmap.register.ownership import control_of
from sovmap.risk.policy import Policy


@dataclass(frozen=True, slots=True)
class Facts:
    """What catalogue and register say about a provider and its chain."""

    provider: str
    legal_country: str | None
    parent_country: str | None
    chain_tags: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class StepResult:
    question: str
    answer: bool | None
    by: str  # user | auto:<rule> | -


@dataclass(frozen=True, slots=True)
class ObjectiveResult:
    id: str
    name: str
    weight: float
    level: int
    steps: tuple[StepResult, ...]
    unanswered: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "weight": self.weight,
            "level": self.level,
            "steps": [{"question": s.question, "answer": s.answer, "by": s.by} for s in self.steps],
            "unanswered": list(self.unanswered),
        }


@dataclass(frozen=True, slots=True)
class Assessment:
    provider: str
    objectives: tuple[ObjectiveResult, ...]
    score: float  # 0..100
    seal: int
    provisional: bool  # some question that could raise a level is unanswered

    def to_json(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "score": round(self.score, 2),
            "seal": self.seal,
            "provisional": self.provisional,
            "objectives": [o.to_json() for o in self.objectives],
        }


def register_facts(
    register: Register, provider_id: str, catalogue: Catalogue | None = None
) -> Facts:
    """Facts from the register: the provider's country, its ultimate parent's country and
    the legal tags of every party in its chain (subcontractors, parents). With a catalogue,
    what the register leaves open is taken from the knowledge base entry of each party
    (``catalogue_id``): the parent's country and the legal tags."""
    prov = register.providers[provider_id]
    tags: list[str] = []
    catalogue_parent: str | None = None
    for pid in register.chain(provider_id):
        party = register.providers.get(pid)
        if party is None:
            continue
        tags += list(party.tags.value or ())
        entry = _entry(catalogue, party.catalogue_id.value)
        if entry is not None:
            tags += list(entry.tags)
            if pid == provider_id:
                catalogue_parent = entry.parent_country
    control = control_of(register, provider_id)
    if len(control.chain) == 1 and catalogue_parent:  # the register knows no parent
        parent_country: str | None = catalogue_parent
    else:  # the ultimate parent's (or, without a parent, the provider's own) jurisdiction
        parent_country = control.controlling or None
    return Facts(provider_id, prov.country.value, parent_country, tuple(dict.fromkeys(tags)))


def _entry(catalogue: Catalogue | None, cid: str | None) -> CatalogueProvider | None:
    if catalogue is None or cid is None:
        return None
    return catalogue.providers.get(cid)


def _auto(policy: Policy, rule: str, facts: Facts) -> bool | None:
    if rule == "legal-entity-in-eu":
        return None if facts.legal_country is None else policy.is_eu(facts.legal_country)
    if rule == "parent-in-eu":
        return None if facts.parent_country is None else policy.is_eu(facts.parent_country)
    if rule == "no-extraterritorial-tags":
        bad = set(policy.section("sovereignty")["extraterritorial_tags"])
        if bad & set(facts.chain_tags):
            return False
        return None  # absence of a tag is not proof: leave it to the user
    raise ValueError(f"unknown automatic rule {rule!r}")


def assess(policy: Policy, facts: Facts, answers: Mapping[str, bool]) -> Assessment:
    objectives = []
    for oid, spec in policy.section("sovereignty")["objectives"].items():
        level = 0
        steps: list[StepResult] = []
        unanswered: list[str] = []
        stopped = blocked = False
        for step in spec["ladder"]:
            qid = step["id"]
            if stopped:
                # questions that could still matter: up to the first step known to fail
                if qid in answers:
                    blocked = blocked or not answers[qid]
                elif "auto" in step and _auto(policy, step["auto"], facts) is False:
                    blocked = True
                elif not blocked:
                    unanswered.append(qid)
                steps.append(StepResult(qid, answers.get(qid), "user" if qid in answers else "-"))
                continue
            if qid in answers:
                answer: bool | None = bool(answers[qid])
                by = "user"
            elif "auto" in step:
                answer = _auto(policy, step["auto"], facts)
                by = f"auto:{step['auto']}" if answer is not None else "-"
            else:
                answer, by = None, "-"
            steps.append(StepResult(qid, answer, by))
            if answer is True:
                level += 1
            else:
                stopped = True
                if answer is None:
                    unanswered.append(qid)
        objectives.append(
            ObjectiveResult(
                oid, spec["name"], float(spec["weight"]), level, tuple(steps), tuple(unanswered)
            )
        )
    ladder_len = {
        oid: len(s["ladder"]) for oid, s in policy.section("sovereignty")["objectives"].items()
    }
    score = 100.0 * sum(o.weight * o.level / ladder_len[o.id] for o in objectives)
    provisional = any(
        o.unanswered and o.steps[o.level].answer is None
        for o in objectives
        if o.level < len(o.steps)
    )
    return Assessment(
        facts.provider,
        tuple(objectives),
        score,
        min(o.level for o in objectives),
        provisional,
    )
