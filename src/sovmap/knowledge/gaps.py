"""Where the catalogue is blind: the most frequent operators of a scan's MX, NS and CNAME
targets that no fingerprint names, with counts and sample records, so the catalogue grows
from real scans (``sovmap knowledge gaps --db DB``).

Pure: stored observations and a catalogue in, a ranked list out. An operator is the
registrable domain of the host (``mx1.asp-bgld.at`` -> ``asp-bgld.at``); names under the
scanned domain's own registrable domain are its own, not a gap; answers of the wildcard
probes, names that cannot be host names (control bytes, address literals) and hosts under
``.invalid`` are left out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sovmap.knowledge.catalogue import Catalogue
from sovmap.knowledge.probes import wildcard_kinds
from sovmap.model import Observation, Status
from sovmap.records import is_address, registrable

#: record kinds reported, in this order
KINDS = ("MX", "NS", "CNAME")

#: fingerprint kinds that may name a host of each record kind
_MATCH_KINDS = {"MX": ("mx", "cname"), "NS": ("ns",), "CNAME": ("cname", "mx", "dkim", "srv")}

_HOST = re.compile(r"[a-z0-9_-]+(\.[a-z0-9_-]+)+")
_NEVER_RESOLVE = frozenset({"invalid", "localhost"})


@dataclass
class Gap:
    """One uncatalogued operator seen in one kind of record."""

    kind: str  # MX | NS | CNAME
    operator: str  # registrable domain of the hosts
    domains: set[str] = field(default_factory=set)
    hosts: set[str] = field(default_factory=set)
    samples: list[tuple[str, str]] = field(default_factory=list)  # (domain, record)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "operator": self.operator,
            "domains": len(self.domains),
            "hosts": len(self.hosts),
            "samples": [{"domain": d, "record": r} for d, r in self.samples],
        }


@dataclass(frozen=True)
class GapReport:
    domains: int  # domains read
    gaps: tuple[Gap, ...]  # ranked: most domains first, then kind and operator


def find_gaps(
    results: Iterable[tuple[str, Any, tuple[Observation, ...]]],
    cat: Catalogue,
    *,
    top: int = 25,
    samples: int = 3,
) -> GapReport:
    """The ``top`` uncatalogued operators per record kind of a scan's stored results
    (``Store.iter_results``), each with at most ``samples`` sample records."""
    if top < 1 or samples < 0:
        raise ValueError("top must be at least 1 and samples at least 0")
    wild_kinds = wildcard_kinds()
    guarded = frozenset(k for ks in wild_kinds.values() for k in ks)
    found: dict[tuple[str, str], Gap] = {}
    known: dict[tuple[str, str, str], bool] = {}  # (kind, host, probe) -> catalogued
    n = 0
    for domain, _attrs, observations in results:
        n += 1
        own = registrable(domain)
        # what a wildcard answers (the random labels' records) is the wildcard's, not an
        # answer of the guarded names
        wild = {
            r.data
            for o in observations
            if o.probe in wild_kinds
            for r in o.answers
            if r.name == o.qname
        }
        for obs in observations:
            if obs.probe in wild_kinds or obs.status is not Status.NOERROR:
                continue
            for r in obs.answers:
                if r.rtype == "MX" and obs.probe == "mx" and r.name == obs.qname:
                    kind, host = "MX", r.data.partition(" ")[2]
                elif r.rtype == "NS" and obs.probe == "ns" and r.name == obs.qname:
                    kind, host = "NS", r.data
                elif r.rtype == "CNAME":
                    kind, host = "CNAME", r.data
                else:
                    continue
                if wild and obs.probe in guarded and r.data in wild:
                    continue
                host = host.lower().rstrip(".")
                if not _reportable(host):
                    continue
                operator = registrable(host)
                if operator == own:
                    continue
                key = (kind, host, obs.probe)
                hit = known.get(key)
                if hit is None:
                    hit = known[key] = any(
                        cat.match_name(k, host, obs.probe) for k in _MATCH_KINDS[kind]
                    )
                if hit:
                    continue
                gap = found.get((kind, operator))
                if gap is None:
                    gap = found[(kind, operator)] = Gap(kind, operator)
                gap.hosts.add(host)
                if domain not in gap.domains:
                    gap.domains.add(domain)
                    if len(gap.samples) < samples:
                        gap.samples.append((domain, f"{r.rtype} {r.name} -> {r.data}"))
    ranked: list[Gap] = []
    for kind in KINDS:
        mine = sorted(
            (g for g in found.values() if g.kind == kind),
            key=lambda g: (-len(g.domains), g.operator),
        )
        ranked.extend(mine[:top])
    ranked.sort(key=lambda g: (-len(g.domains), KINDS.index(g.kind), g.operator))
    return GapReport(n, tuple(ranked))


def _reportable(host: str) -> bool:
    if not host or is_address(host) or not _HOST.fullmatch(host):
        return False
    return host.rpartition(".")[2] not in _NEVER_RESOLVE
