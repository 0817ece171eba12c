"""The knowledge of the opt-in active probes (``data/active.yaml``): which tenant answers
and which SMTP banners and certificate names name a provider, each with its source and
weight; checked when loaded (read by :mod:`sovmap.classify.active`)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

from sovmap.model import Capability

TENANT_FIELDS = frozenset(
    {"NameSpaceType", "FederationBrandName", "CloudInstanceName", "tenant_id",
     "tenant_region_scope", "cloud_instance_name", "redirect"}
)  # fmt: skip
SMTP_PARTS = frozenset({"BANNER", "EHLO", "CERT-SAN", "CERT-SUBJECT", "CERT-ISSUER"})


class ActiveKnowledgeError(ValueError):
    """A row of ``active.yaml`` that cannot be used."""


@cache
def active_file() -> Mapping[str, Any]:
    """The bundled ``active.yaml`` as parsed YAML (endpoints, limits, patterns)."""
    text = (resources.files("sovmap.knowledge") / "data" / "active.yaml").read_text()
    raw: Mapping[str, Any] = yaml.safe_load(text)
    return raw


@dataclass(frozen=True, slots=True)
class Pattern:
    """One fact of the active-probe knowledge: a value that names a provider."""

    where: str  # a tenant field or an SMTP part
    regex: re.Pattern[str]
    provider: str
    capability: Capability
    weight: float
    source: str
    service: str = ""

    @property
    def ref(self) -> str:
        return f"active:{self.where}:{self.regex.pattern}"


@dataclass(frozen=True, slots=True)
class ActiveKnowledge:
    tenant: tuple[Pattern, ...]
    smtp: tuple[Pattern, ...]


def _pattern(row: Mapping[str, Any], where_key: str, allowed: frozenset[str]) -> Pattern:
    where = str(row.get(where_key, ""))
    if where not in allowed:
        raise ActiveKnowledgeError(f"active.yaml: {where_key} {where!r} unknown in {dict(row)}")
    if not str(row.get("source", "")).startswith("https://"):
        raise ActiveKnowledgeError(f"active.yaml: no https source in {dict(row)}")
    weight = row.get("weight")
    if isinstance(weight, bool) or not isinstance(weight, int | float) or not 0 <= weight <= 1:
        raise ActiveKnowledgeError(f"active.yaml: weight must be 0..1 in {dict(row)}")
    try:
        regex = re.compile(str(row["pattern"]), re.I)
        cap = Capability(str(row["capability"]))
    except (KeyError, re.error, ValueError) as exc:
        raise ActiveKnowledgeError(f"active.yaml: {exc} in {dict(row)}") from exc
    return Pattern(
        where,
        regex,
        str(row["provider"]),
        cap,
        weight,
        str(row["source"]),
        str(row.get("service", "")),
    )


@cache
def active_knowledge() -> ActiveKnowledge:
    """The tenant and SMTP patterns of ``active.yaml``, checked (fields, weights, sources)."""
    raw = active_file()
    return ActiveKnowledge(
        tenant=tuple(_pattern(r, "field", TENANT_FIELDS) for r in raw.get("tenant") or ()),
        smtp=tuple(_pattern(r, "part", SMTP_PARTS) for r in raw.get("smtp_patterns") or ()),
    )
