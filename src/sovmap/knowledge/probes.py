"""The probe plan as data (``data/probes.yaml``): the kinds of question the scan asks, one
row each, and the questions asked for every domain.

A kind says its order (the position of its row: observations are stored and classified in
that order), its role (``base``: asked for every domain; ``follow-up``: asked from answers),
whether its answers are shared across domains (the scanner caches them) and which signal
extractor reads it. The scan (``sovmap.collect``) and the classifier (``sovmap.classify``)
both read this one table; it sits below both.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any

import yaml

ROLES = ("base", "follow-up", "active")


class ProbeKindError(ValueError):
    """An unknown probe kind, or a kinds table that contradicts itself."""


@dataclass(frozen=True, slots=True)
class ProbeKind:
    name: str
    order: int
    role: str  # base | follow-up
    shared: bool  # answers the same for every domain: cached across domains
    extractor: str  # name of the signal extractor that reads its observations
    reveals: str
    # the ``--probe`` group that asks it ("" = always asked): posture, http, smtp; a stored
    # observation of a group a replay does not ask is carried over as it is
    opt_in: str = ""


def parse_kinds(rows: list[dict[str, Any]]) -> Mapping[str, ProbeKind]:
    """The ``kinds`` rows of a probe file, by name, in order."""
    kinds: dict[str, ProbeKind] = {}
    for i, row in enumerate(rows):
        name = str(row.get("kind", ""))
        if not name or name in kinds:
            raise ProbeKindError(f"probe kinds: row {i + 1}: missing or repeated kind {name!r}")
        role = str(row.get("role", "base"))
        if role not in ROLES:
            raise ProbeKindError(f"probe kind {name}: role must be one of {ROLES}, not {role!r}")
        if not row.get("extractor"):
            raise ProbeKindError(f"probe kind {name}: no extractor")
        kinds[name] = ProbeKind(
            name=name,
            order=i,
            role=role,
            shared=bool(row.get("shared", False)),
            extractor=str(row["extractor"]),
            reveals=str(row.get("reveals", "")),
            opt_in=str(row.get("opt_in", "")),
        )
    return MappingProxyType(kinds)


@cache
def probe_file() -> Mapping[str, Any]:
    """The bundled probe file as parsed YAML (kinds, questions, DKIM selectors, follow-ups)."""
    text = (resources.files("sovmap.knowledge") / "data" / "probes.yaml").read_text()
    raw = yaml.safe_load(text)
    return MappingProxyType(raw)


@cache
def probe_kinds() -> Mapping[str, ProbeKind]:
    """The bundled probe kinds, by name, in order."""
    return parse_kinds(list(probe_file()["kinds"]))


def probe_kind(name: str) -> ProbeKind:
    """The kind called ``name``; an unknown kind is an error."""
    kind = probe_kinds().get(name)
    if kind is None:
        raise ProbeKindError(f"unknown probe kind {name!r} (known: {', '.join(probe_kinds())})")
    return kind


@cache
def wildcard_kinds() -> Mapping[str, frozenset[str]]:
    """Kinds that ask a random label (only a wildcard answers there), each with the kinds
    whose answers that wildcard could give (``wildcard_guard`` in the probe file)."""
    return parse_wildcard_guard(probe_file().get("wildcard_guard") or {}, probe_kinds())


def parse_wildcard_guard(
    raw: Mapping[str, Any], kinds: Mapping[str, ProbeKind]
) -> Mapping[str, frozenset[str]]:
    """The ``wildcard_guard`` table: every kind named in it must be in the kinds table."""
    out: dict[str, frozenset[str]] = {}
    for name, guarded in raw.items():
        for k in [name, *guarded]:
            if k not in kinds:
                raise ProbeKindError(f"wildcard_guard: {k!r} is not a probe kind")
        out[str(name)] = frozenset(str(g) for g in guarded)
    return MappingProxyType(out)
