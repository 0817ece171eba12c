"""Who ultimately controls a provider, under which jurisdiction, with which legal reach.

This is the one home of that question. Every room (scan summary, figures, risk, cut-off,
report, web) asks it here; no other code compares jurisdiction strings.

- The *controlling jurisdiction* is the state whose law controls the provider's ultimate
  parent (``"US"`` for Microsoft Ireland). ``""`` means unknown.
- The *headquarters* is the provider's own country of registration (``"IE"`` for Microsoft
  Ireland).
- A provider is *US-controlled* when its controlling jurisdiction is the US or it carries the
  CLOUD Act tag (a US parent of a provider registered elsewhere).
- Unknown control is never counted as "not US": figures count it as unknown, risk treats it as
  the worst case (:func:`worst_case_us`).

The facts (EU member states, the US-law tag) live in ``knowledge/data/jurisdictions.yaml``
with their source. Nothing here imports another sovmap module, so every layer may use it; the
rule's SQL form (:func:`us_controlled_sql`) sits next to its Python form.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import yaml
from sqlalchemy import func

US = "US"
UNKNOWN = "unknown"


@cache
def _facts() -> dict[str, Any]:
    text = (resources.files("sovmap") / "knowledge" / "data" / "jurisdictions.yaml").read_text(
        encoding="utf-8"
    )
    data: dict[str, Any] = yaml.safe_load(text)
    return data


@cache
def eu_member_states() -> frozenset[str]:
    """ISO 3166 codes of the EU member states (the list and its source are data)."""
    return frozenset(str(c).upper() for c in _facts()["eu_member_states"]["codes"])


def us_law_tag() -> str:
    return str(_facts()["us_law_tag"]["tag"])


#: the CLOUD Act tag, read once from the data file (hot paths compare against it)
US_LAW_TAG = us_law_tag()


_UNKNOWN_TEXTS = ("?", "UNKNOWN", "NONE", "NULL")


def normalise_code(code: str | None) -> str:
    """A jurisdiction code as compared here: upper-case, trimmed; ``""`` for unknown."""
    if not code:
        return ""
    text = str(code).strip().upper()
    return "" if text in _UNKNOWN_TEXTS else text


def us_controlled(jurisdiction: str | None, tags: Iterable[str] = ()) -> bool:
    """The rule for "US-controlled": the controlling state is the US, or the provider is
    reachable by the CLOUD Act (a US parent of a provider registered elsewhere). Unknown
    control is *not* US-controlled here: it is counted as unknown (see :func:`worst_case_us`)."""
    return normalise_code(jurisdiction) == US or US_LAW_TAG in tuple(tags)


def us_controlled_sql(jurisdiction: Any, tags: Any) -> Any:
    """:func:`us_controlled` as a SQL condition over a jurisdiction column and a JSON tags
    column (the store's form), for queries that count in the database."""
    return (func.upper(func.trim(jurisdiction)) == US) | tags.contains(f'"{US_LAW_TAG}"')


def known_sql(jurisdiction: Any) -> Any:
    """Control known (the negation of unknown in :func:`normalise_code`) as a SQL condition."""
    code = func.upper(func.trim(func.coalesce(jurisdiction, "")))
    return (code != "") & code.not_in(_UNKNOWN_TEXTS)


def worst_case_us(jurisdiction: str | None, tags: Iterable[str] = ()) -> bool:
    """US-controlled, or control unknown: the worst case that risk and cut-off assume."""
    return not normalise_code(jurisdiction) or us_controlled(jurisdiction, tags)


#: the jurisdiction of the Union's own institutions (the European Commission), an EU one
EU_INSTITUTIONS = "EU"


def eu_controlled(jurisdiction: str | None, tags: Iterable[str] = ()) -> bool:
    """Controlled from an EU member state (or by the Union itself, ``"EU"``) and not
    reachable by US law."""
    code = normalise_code(jurisdiction)
    in_eu = code in eu_member_states() or code == EU_INSTITUTIONS
    return in_eu and not us_controlled(code, tags)


def jurisdiction_class(jurisdiction: str | None, tags: Iterable[str] = ()) -> str:
    """``"US"`` for US-controlled, ``"unknown"`` when control is unknown, else the code of the
    controlling state: the classes the scan summary and the figures count by."""
    code = normalise_code(jurisdiction)
    if not code:
        return UNKNOWN
    return US if us_controlled(code, tags) else code


@dataclass(frozen=True, slots=True)
class Link:
    """One company of an ownership chain, as far as it is known."""

    id: str
    name: str = ""
    country: str = ""  # where it is registered (headquarters)
    jurisdiction: str = ""  # the state whose law controls it, where stated
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Control:
    """The answer for one provider: its chain up to the ultimate parent and what follows."""

    provider: str
    chain: tuple[Link, ...]  # the provider first, its ultimate parent last
    controlling: str  # ISO code of the controlling state; "" when unknown
    headquarters: str  # the provider's own country; "" when unknown
    tags: tuple[str, ...] = ()  # legal reach tags gathered over the chain

    @property
    def ultimate_parent(self) -> Link:
        return self.chain[-1]

    @property
    def group(self) -> str:
        """The id of the group the provider belongs to: its topmost link with an id (a parent
        known by country only has none, so the provider is then its own group)."""
        return next((link.id for link in reversed(self.chain) if link.id), self.provider)

    @property
    def known(self) -> bool:
        return bool(self.controlling)

    @property
    def us_controlled(self) -> bool:
        return us_controlled(self.controlling, self.tags)

    @property
    def eu_controlled(self) -> bool:
        return eu_controlled(self.controlling, self.tags)

    @property
    def jurisdiction_class(self) -> str:
        return jurisdiction_class(self.controlling, self.tags)

    @property
    def effective(self) -> str:
        """The controlling state, with US law's reach over a foreign subsidiary made explicit:
        ``"US"`` for a provider tagged with the CLOUD Act whatever its stated jurisdiction."""
        return US if self.us_controlled else self.controlling


def control_from_chain(chain: Sequence[Link]) -> Control:
    """Control of ``chain[0]`` from its ownership chain (``chain[-1]`` the ultimate parent).

    The controlling state is the first stated jurisdiction from the top down, else the top's
    country of registration; a tag anywhere in the chain reaches the provider (a subsidiary
    answers to its parent's law)."""
    if not chain:
        raise ValueError("an ownership chain has at least the provider itself")
    controlling = ""
    for link in reversed(chain):
        if normalise_code(link.jurisdiction):
            controlling = normalise_code(link.jurisdiction)
            break
    if not controlling:
        controlling = normalise_code(chain[-1].country)
    tags: list[str] = []
    for link in chain:
        tags.extend(t for t in link.tags if t not in tags)
    return Control(
        provider=chain[0].id,
        chain=tuple(chain),
        controlling=controlling,
        headquarters=normalise_code(chain[0].country),
        tags=tuple(tags),
    )


# -- selecting by jurisdiction -------------------------------------------------------------

EU = "EU"
NON_EU = "NON-EU"


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a provider matched a selector: a stable code and its values, rendered at the edge.

    Codes: ``CONTROLLED_FROM`` (controlling state), ``CONTROL_UNKNOWN`` (control unknown,
    matched as the worst case by ``non-EU``), ``HEADQUARTERED_IN`` (no provider is controlled
    from the selected country, this one is registered there and controlled from ``controlled``).
    """

    code: str
    jurisdiction: str = ""
    controlled: str = ""

    def to_json(self, lang: str = "en") -> dict[str, str]:
        return {
            "code": self.code,
            "jurisdiction": self.jurisdiction,
            "controlled": self.controlled,
            "text": self.text(lang),
        }

    def text(self, lang: str = "en") -> str:
        ctl = self.controlled or ("onbekend" if lang == "nl" else "unknown")
        if self.code == "CONTROLLED_FROM":
            return (
                f"zeggenschap vanuit {self.jurisdiction}"
                if lang == "nl"
                else f"controlled from {self.jurisdiction}"
            )
        if self.code == "CONTROL_UNKNOWN":
            return (
                "zeggenschap onbekend, als slechtste geval meegeteld"
                if lang == "nl"
                else "control unknown, counted as the worst case"
            )
        return (
            f"hoofdkantoor in {self.jurisdiction}, zeggenschap vanuit {ctl}"
            if lang == "nl"
            else f"headquartered in {self.jurisdiction}, controlled from {ctl}"
        )


@dataclass(frozen=True, slots=True)
class Selection:
    """What a jurisdiction selector matched among a set of providers, and how."""

    selector: str
    matched: dict[str, Reason] = field(default_factory=dict)  # provider id -> reason
    by_headquarters: bool = False  # nothing was controlled from there; matched by seat
    suggestions: tuple[str, ...] = ()  # selectors that would match, when nothing did


def parse_selector(text: str) -> str:
    """``US``, ``IE``, ``EU``, ``non-EU`` (any case) -> the canonical selector; ValueError
    for anything else."""
    code = str(text or "").strip().upper().replace("_", "-")
    if code in (EU, NON_EU, "NONEU"):
        return NON_EU if code.startswith("NON") else EU
    if len(code) == 2 and code.isascii() and code.isalpha():
        return code
    raise ValueError(
        f"{text!r} is not a jurisdiction: give an ISO 3166 country code (US, IE, ...), EU or non-EU"
    )


def _controlled_match(selector: str, c: Control) -> Reason | None:
    eff = c.effective
    if selector == EU:
        return Reason("CONTROLLED_FROM", eff) if c.eu_controlled else None
    if selector == NON_EU:
        if not c.known and not c.us_controlled:
            return Reason("CONTROL_UNKNOWN")
        return None if c.eu_controlled else Reason("CONTROLLED_FROM", eff)
    return Reason("CONTROLLED_FROM", eff) if eff == selector else None


def controlled_from(selector: str, control: Control) -> Reason | None:
    """Why ``control`` is controlled from what ``selector`` names (``US``, ``EU``, ``non-EU``),
    or None: the match by controlling jurisdiction only, without the headquarters fallback."""
    return _controlled_match(parse_selector(selector), control)


def select_jurisdiction(selector: str, controls: Iterable[Control]) -> Selection:
    """Providers matched by a jurisdiction selector.

    First by controlling jurisdiction; where no provider is controlled from the selected
    country, by headquarters country, saying so. ``EU``/``non-EU`` mean controlled from an EU
    member state or not (unknown control counts as non-EU: the worst case). When nothing
    matches, ``suggestions`` lists the selectors that would."""
    sel = parse_selector(selector)
    items = list(controls)
    matched = {c.provider: r for c in items if (r := _controlled_match(sel, c)) is not None}
    if matched or sel in (EU, NON_EU):
        return Selection(sel, matched, suggestions=() if matched else suggest(items))
    seat = {
        c.provider: Reason("HEADQUARTERED_IN", sel, c.effective)
        for c in items
        if c.headquarters == sel
    }
    if seat:
        return Selection(sel, seat, by_headquarters=True)
    return Selection(sel, {}, suggestions=suggest(items))


def suggest(controls: Iterable[Control]) -> tuple[str, ...]:
    """The selectors that would match something among these providers, most common first."""
    count: dict[str, int] = {}
    for c in controls:
        for key in (c.effective or None, EU if c.eu_controlled else "non-EU"):
            if key:
                count[key] = count.get(key, 0) + 1
    return tuple(k for k, _ in sorted(count.items(), key=lambda kv: (-kv[1], kv[0])))


__all__ = [
    "EU",
    "EU_INSTITUTIONS",
    "NON_EU",
    "UNKNOWN",
    "US",
    "US_LAW_TAG",
    "Control",
    "Link",
    "Reason",
    "Selection",
    "control_from_chain",
    "controlled_from",
    "eu_controlled",
    "eu_member_states",
    "jurisdiction_class",
    "known_sql",
    "normalise_code",
    "parse_selector",
    "select_jurisdiction",
    "suggest",
    "us_controlled",
    "us_controlled_sql",
    "us_law_tag",
    "worst_case_us",
]
