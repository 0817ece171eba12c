"""Scan history: change events between two scans and trend series per group. Pure.

A *subject* is an organisation when the domain is mapped to one (through the scan input's
``org_id`` attribute or the stored organisation mapping), else the domain itself. Per subject
and capability the providers of the old and the new scan are compared over the domains both
scans looked at; each difference becomes one or more :class:`ChangeEvent` with a stable
:class:`EventKind`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sovmap.control import us_controlled
from sovmap.counting import counts_as_us
from sovmap.model import Capability, Finding
from sovmap.orgs.model import Organisation


class EventKind(StrEnum):
    PROVIDER_CHANGED = "PROVIDER_CHANGED"  # providers differ, both scans found some
    NEW_US_DEPENDENCY = "NEW_US_DEPENDENCY"  # a US-controlled provider appeared
    US_DEPENDENCY_REMOVED = "US_DEPENDENCY_REMOVED"  # a US-controlled provider is gone
    DEPENDENCY_REMOVED = "DEPENDENCY_REMOVED"  # the capability has no provider any more
    NEW_CAPABILITY = "NEW_CAPABILITY"  # the capability was not found before
    JURISDICTION_CHANGED = "JURISDICTION_CHANGED"  # the set of jurisdictions differs


@dataclass(frozen=True, slots=True)
class OrgRef:
    """What history needs to know of an organisation."""

    id: str
    name: str
    type: str = ""
    parent_id: str = ""
    groups: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Provider:
    id: str
    name: str
    jurisdiction: str
    tags: tuple[str, ...] = ()

    @property
    def us_controlled(self) -> bool:
        return us_controlled(self.jurisdiction, self.tags)


@dataclass(frozen=True, slots=True)
class ChangeEvent:
    kind: EventKind
    subject: str  # org id, or the domain when unmapped
    subject_name: str
    subject_kind: str  # org | domain
    capability: Capability
    old: tuple[Provider, ...]
    new: tuple[Provider, ...]
    domains: tuple[str, ...]
    uncertain: tuple[str, ...] = ()  # domains with unanswered questions in either scan

    def to_json(self) -> dict[str, Any]:
        def ps(items: tuple[Provider, ...]) -> list[dict[str, str]]:
            return [{"id": p.id, "name": p.name, "jurisdiction": p.jurisdiction} for p in items]

        return {
            "kind": self.kind.value,
            "subject": self.subject,
            "subject_name": self.subject_name,
            "subject_kind": self.subject_kind,
            "capability": self.capability.value,
            "old": ps(self.old),
            "new": ps(self.new),
            "domains": list(self.domains),
            "uncertain": list(self.uncertain),
        }

    def render(self) -> str:
        def names(ps: tuple[Provider, ...]) -> str:
            return ", ".join(f"{p.name or p.id} ({p.jurisdiction or '?'})" for p in ps) or "-"

        who = (
            self.subject_name
            if self.subject_kind == "domain"
            else (f"{self.subject_name} [{self.subject}]")
        )
        note = f" [uncertain: DNS errors for {', '.join(self.uncertain)}]" if self.uncertain else ""
        return (
            f"{self.kind.value:<22} {who} | {self.capability.value} | "
            f"{names(self.old)} -> {names(self.new)}{note}"
        )


def refs_from_orgs(orgs: Iterable[Organisation]) -> dict[str, OrgRef]:
    return {o.id: OrgRef(o.id, o.name, o.type, o.parent_id, o.groups) for o in orgs}


def _split(value: str) -> list[str]:
    return [v.strip() for v in value.split(";") if v.strip()]


def domain_orgs(
    domains: Iterable[str],
    attributes: Mapping[str, Mapping[str, str]],
    mapped: Mapping[str, Sequence[str]],
    refs: Mapping[str, OrgRef],
) -> dict[str, tuple[OrgRef, ...]]:
    """The organisations of each scanned domain: the scan input's ``org_id`` attribute
    (``;``-separated, with ``org_name``/``org_type``/``group`` alongside) first, else the
    stored mapping. Domains of no organisation map to ``()``."""
    out: dict[str, tuple[OrgRef, ...]] = {}
    for domain in domains:
        attrs = attributes.get(domain, {})
        ids = _split(attrs.get("org_id", ""))
        if ids:
            names = _split(attrs.get("org_name", ""))
            types = _split(attrs.get("org_type", ""))
            groups = tuple(_split(attrs.get("group", "")))
            found = []
            for i, oid in enumerate(ids):
                known = refs.get(oid)
                found.append(
                    OrgRef(
                        oid,
                        known.name if known else (names[i] if i < len(names) else oid),
                        known.type if known else (types[i] if i < len(types) else ""),
                        known.parent_id if known else "",
                        tuple(dict.fromkeys((*(known.groups if known else ()), *groups))),
                    )
                )
            out[domain] = tuple(found)
        else:
            out[domain] = tuple(refs.get(i, OrgRef(i, i)) for i in mapped.get(domain, ()))
    return out


def _providers(fs: Iterable[Finding]) -> dict[str, Provider]:
    out: dict[str, Provider] = {}
    for f in fs:
        out.setdefault(f.provider, Provider(f.provider, f.provider_name, f.jurisdiction, f.tags))
    return out


def diff_scans(
    old: Sequence[Finding],
    new: Sequence[Finding],
    *,
    old_domains: Iterable[str],
    new_domains: Iterable[str],
    orgs_of: Mapping[str, Sequence[OrgRef]],
    incomplete: Iterable[str] = (),
) -> list[ChangeEvent]:
    """Change events between two scans, over the domains both scanned. Events that involve
    a domain in ``incomplete`` (unanswered questions in either scan: a timeout can look like
    a removed dependency) name those domains in ``uncertain``."""
    shaky = set(incomplete)
    common = set(old_domains) & set(new_domains)
    subjects: dict[tuple[str, str], tuple[str, str, set[str]]] = {}
    by_domain: dict[str, list[tuple[str, str]]] = {}
    for domain in common:
        refs = orgs_of.get(domain, ())
        keys = [("org", r.id) for r in refs] or [("domain", domain)]
        by_domain[domain] = keys
        for kind, sid in keys:
            name = next((r.name for r in refs if r.id == sid), sid)
            subjects.setdefault((kind, sid), (name, kind, set()))[2].add(domain)

    def gather(fs: Sequence[Finding]) -> dict[tuple[str, str, Capability], list[Finding]]:
        out: dict[tuple[str, str, Capability], list[Finding]] = {}
        for f in fs:
            for kind, sid in by_domain.get(f.domain, ()):
                out.setdefault((kind, sid, f.capability), []).append(f)
        return out

    before, after = gather(old), gather(new)
    events: list[ChangeEvent] = []
    caps = list(Capability)

    def order(k: tuple[str, str, Capability]) -> tuple[bool, str, str, int]:
        name = subjects[(k[0], k[1])][0]
        return (k[0] != "org", name.lower(), k[1], caps.index(k[2]))

    for key in sorted(set(before) | set(after), key=order):
        kind, sid, cap = key
        name, skind, doms = subjects[(kind, sid)]
        o, n = _providers(before.get(key, ())), _providers(after.get(key, ()))
        if set(o) == set(n) and all(o[p].jurisdiction == n[p].jurisdiction for p in o):
            continue
        op = tuple(o[p] for p in sorted(o))
        np_ = tuple(n[p] for p in sorted(n))

        doms_t = tuple(sorted(doms))

        def ev(
            k: EventKind,
            a: tuple[Provider, ...],
            b: tuple[Provider, ...],
            sid: str = sid,
            name: str = name,
            skind: str = skind,
            cap: Capability = cap,
            doms_t: tuple[str, ...] = doms_t,
        ) -> ChangeEvent:
            unsure = tuple(d for d in doms_t if d in shaky)
            return ChangeEvent(k, sid, name, skind, cap, a, b, doms_t, unsure)

        if o and n and set(o) != set(n):
            events.append(ev(EventKind.PROVIDER_CHANGED, op, np_))
        elif not o:
            events.append(ev(EventKind.NEW_CAPABILITY, op, np_))
        elif not n:
            events.append(ev(EventKind.DEPENDENCY_REMOVED, op, np_))
        old_us = {p for p, v in o.items() if v.us_controlled}
        new_us = {p for p, v in n.items() if v.us_controlled}
        for p in sorted(new_us - old_us):
            events.append(ev(EventKind.NEW_US_DEPENDENCY, op, (n[p],)))
        for p in sorted(old_us - new_us):
            events.append(ev(EventKind.US_DEPENDENCY_REMOVED, (o[p],), np_))
        oj = {v.jurisdiction for v in o.values()}
        nj = {v.jurisdiction for v in n.values()}
        if o and n and oj != nj:
            events.append(ev(EventKind.JURISDICTION_CHANGED, op, np_))
    return events


# --- trend -------------------------------------------------------------------------------


def in_group(ref: OrgRef, group: str) -> bool:
    """``all``, ``type:municipality``, ``parent:nl-min:szw``, ``group:NAME``, or a bare name
    that matches any of them."""
    if group == "all":
        return True
    kind, _, value = group.partition(":")
    if kind == "type" and value:
        return ref.type == value
    if kind == "parent" and value:
        return ref.parent_id == value
    if kind == "group" and value:
        return value in ref.groups
    return group in (ref.type, ref.parent_id) or group in ref.groups


@dataclass(frozen=True, slots=True)
class TrendPoint:
    scan_id: int
    started_at: str
    group: str
    organisations: int  # organisations of the group with a domain in this scan
    us_mailbox: int  # of those, with a mailbox finding at a US-controlled provider

    @property
    def share(self) -> float:
        return self.us_mailbox / self.organisations if self.organisations else 0.0


def trend_point(
    scan_id: int,
    started_at: str,
    group: str,
    found: Sequence[Finding],
    orgs_of: Mapping[str, Sequence[OrgRef]],
) -> TrendPoint:
    members: set[str] = set()
    us: set[str] = set()
    us_domains = {f.domain for f in found if f.capability == Capability.MAILBOX and counts_as_us(f)}
    for domain, refs in orgs_of.items():
        for r in refs:
            if in_group(r, group):
                members.add(r.id)
                if domain in us_domains:
                    us.add(r.id)
    return TrendPoint(scan_id, started_at, group, len(members), len(us))


def trend_csv(points: Sequence[TrendPoint]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["scan_id", "started_at", "group", "organisations", "us_mailbox", "share"])
    for p in points:
        w.writerow(
            [p.scan_id, p.started_at, p.group, p.organisations, p.us_mailbox, f"{p.share:.4f}"]
        )
    return buf.getvalue()
