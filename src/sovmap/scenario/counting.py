"""Who is affected: the one definition of "people (organisations) served by processes that go
down", used by ``sovmap cutoff``, the web's cut-off page, the report and the brief.

A process serves *audience groups* (``organisation.audiences`` in the register). Members are
counted once however many processes serve them:

* a group ``within`` another is part of it: when both are affected only the larger counts;
* groups declared ``disjoint_from`` each other (or whose ancestors are) add up;
* groups neither nested nor disjoint may overlap in an unknown way: their union lies between
  the largest of them and their sum (capped at the declared population), and is reported as
  that range, not as one number;
* a process with no audience and only a ``people_served`` figure is a group of its own whose
  overlap with the others is unknown;
* a process whose audience is not known at all (or a group of unknown size) makes the upper
  end unknown (the declared population when there is one): unknown is never counted as 0.

:class:`Served` is the answer: ``low`` and ``high`` bounds and ``value`` (the count when the
bounds meet, else None).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import combinations
from typing import Any, Literal

from sovmap.i18n import format_number, t

Kind = Literal["people", "organisations"]


@dataclass(frozen=True, slots=True)
class AudienceGroup:
    """A group of people and/or organisations; sizes None are unknown."""

    id: str
    name: str = ""
    people: int | None = None
    organisations: int | None = None
    within: str = ""
    disjoint_from: tuple[str, ...] = ()

    def size(self, kind: Kind) -> int | None:
        return self.people if kind == "people" else self.organisations


@dataclass(frozen=True, slots=True)
class Audience:
    """Whom one process serves: group ids, or (older registers) bare counts, or nothing known.

    ``groups`` empty and both counts None: unknown."""

    groups: tuple[str, ...] = ()
    people: int | None = None
    organisations: int | None = None

    @property
    def known(self) -> bool:
        return bool(self.groups) or self.people is not None or self.organisations is not None


@dataclass(frozen=True, slots=True)
class Served:
    """How many are served, each counted once: between ``low`` and ``high`` (None: no known
    upper bound)."""

    low: int
    high: int | None

    @property
    def exact(self) -> bool:
        return self.high is not None and self.low == self.high

    @property
    def value(self) -> int | None:
        """The count when it is determined, else None (unknown)."""
        return self.low if self.exact else None

    def to_json(self) -> dict[str, Any]:
        return {"value": self.value, "low": self.low, "high": self.high}


@dataclass(frozen=True, slots=True)
class Population:
    """What the organisation serves in all, and the groups its processes serve."""

    groups: Mapping[str, AudienceGroup]
    people: int | None = None  # the declared population; caps every people count

    def validate(self, process_audiences: Mapping[str, Audience]) -> list[str]:
        """Problems as ``where: message`` (unknown group ids, ``within`` cycles)."""
        out = []
        for g in self.groups.values():
            for ref, fld in [(g.within, "within")] + [
                (d, "disjoint_from") for d in g.disjoint_from
            ]:
                if ref and ref not in self.groups:
                    out.append(f"audience {g.id!r}: field {fld}: unknown audience {ref!r}")
            if g.id in self._ancestors(g.id):
                out.append(f"audience {g.id!r}: field within: the chain returns to itself")
        for pid, aud in process_audiences.items():
            for gid in aud.groups:
                if gid not in self.groups:
                    out.append(f"process {pid!r}: field audience: unknown audience {gid!r}")
        return out

    def _ancestors(self, gid: str) -> list[str]:
        chain: list[str] = []
        cur = self.groups.get(gid)
        while cur is not None and cur.within and cur.within not in chain:
            chain.append(cur.within)
            cur = self.groups.get(cur.within)
        return chain

    def _disjoint(self, a: str, b: str) -> bool:
        up_a = {a, *self._ancestors(a)}
        up_b = {b, *self._ancestors(b)}
        return any(
            y in self.groups[x].disjoint_from or x in self.groups[y].disjoint_from
            for x in up_a
            for y in up_b
            if x in self.groups and y in self.groups
        )

    def served(self, audiences: Iterable[Audience], kind: Kind) -> Served:
        """Members of ``kind`` in the union of ``audiences``, each counted once."""
        ids: set[str] = set()
        loose: list[int] = []  # bare counts of processes without groups: overlap unknown
        unknown = False
        for aud in audiences:
            if aud.groups:
                ids.update(aud.groups)
            else:
                bare = aud.people if kind == "people" else aud.organisations
                if bare is not None:
                    loose.append(bare)
                elif not aud.known:
                    unknown = True
                # a process with only the other kind's count serves none of this kind
        top = sorted(g for g in ids if not any(a in ids for a in self._ancestors(g)))
        sizes: list[int] = []
        for g in top:
            s = self.groups[g].size(kind) if g in self.groups else None
            if s is None:
                unknown = True
            else:
                sizes.append(s)
        known_top = [g for g in top if g in self.groups and self.groups[g].size(kind) is not None]
        all_disjoint = not loose and all(
            self._disjoint(a, b) or 0 in (self.groups[a].size(kind), self.groups[b].size(kind))
            for a, b in combinations(known_top, 2)
        )
        cap = self.people if kind == "people" else None
        every = sizes + loose
        total = sum(every)
        low = total if all_disjoint else max(every, default=0)
        high: int | None = total
        if cap is not None:
            high = min(total, cap)
            low = min(low, cap)
        if unknown:
            high = cap
        return Served(low, high)


def unknown_population() -> Population:
    """No groups and no declared population: every count is a range or unknown."""
    return Population({})


def served_text(s: Served, lang: str) -> str:
    """A count as a reader sees it: the number, "between X and Y", or "unknown"."""
    if s.exact:
        return format_number(s.low, lang)
    if s.high is None:
        return t(lang, "UNKNOWN")
    return t(lang, "BETWEEN", low=format_number(s.low, lang), high=format_number(s.high, lang))


def served_lines(summary: Mapping[str, Any], lang: str) -> list[str]:
    """The lines every surface prints about who is affected, from a cut-off's summary:
    served by processes that go down / are degraded (each counted once), the declared
    population, and how many fallbacks carry a process to the end versus run out."""
    out = []
    for code, label in (("CUT_SERVED_DOWN", "down"), ("CUT_SERVED_DEGRADED", "degraded")):
        parts = {
            kind: served_text(Served(**summary[f"{kind}_{label}_range"]), lang)
            for kind in ("people", "organisations")
        }
        out.append(t(lang, code, **parts))
    out.append(t(lang, "CUT_POPULATION", population=format_number(summary["population"], lang)))
    out.append(
        t(
            lang,
            "CUT_FALLBACK_RESTORES",
            n=summary["restored_by_fallback"],
            exhausted=summary["fallback_exhausted"],
        )
    )
    return out


__all__ = ["Audience", "AudienceGroup", "Population", "Served", "served_lines", "served_text"]
