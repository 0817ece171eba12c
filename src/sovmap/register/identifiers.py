"""Identifier formats: LEI (ISO 17442, check digits ISO 7064 MOD 97-10), EUID, ISO 3166
country codes and ISO 4217 currency codes (code lists in ``data/iso.yaml``), and the DORA
ICT-service-type taxonomy (``data/ict_service_types.yaml``)."""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from typing import Any

import yaml

_LEI = re.compile(r"^[A-Z0-9]{18}[0-9]{2}$")
# EUID (Implementing Regulation (EU) 2021/1042): country code, register code, '.', number
_EUID = re.compile(r"^([A-Z]{2})([A-Z0-9]{1,13})\.([A-Za-z0-9./-]{1,40})$")


def _numeric(text: str) -> int:
    return int("".join(str(int(ch, 36)) for ch in text))


def lei_check_digits(prefix18: str) -> str:
    """The two check digits for an 18-character LEI prefix (ISO 17442 / ISO 7064 MOD 97-10)."""
    prefix18 = prefix18.upper()
    if not re.fullmatch(r"[A-Z0-9]{18}", prefix18):
        raise ValueError(f"an LEI prefix has 18 letters or digits, not {prefix18!r}")
    return f"{98 - _numeric(prefix18 + '00') % 97:02d}"


def lei_problem(lei: str) -> str:
    """'' when ``lei`` is a well-formed LEI with valid check digits, else the reason."""
    if not _LEI.fullmatch(lei):
        return "an LEI has 18 upper-case letters or digits followed by 2 check digits"
    if _numeric(lei) % 97 != 1 or not 2 <= int(lei[18:]) <= 98:  # MOD 97-10 gives 02..98
        return f"check digits do not match (expected {lei_check_digits(lei[:18])})"
    return ""


def euid_problem(euid: str) -> str:
    m = _EUID.fullmatch(euid)
    if m is None:
        return "an EUID is <country><register>.<number>, e.g. NLNHR.12345678"
    if m.group(1) not in countries():
        return f"{m.group(1)!r} is not an ISO 3166 country code"
    return ""


@cache
def _iso() -> dict[str, Any]:
    text = (resources.files("sovmap.register") / "data" / "iso.yaml").read_text("utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    return data


@cache
def countries() -> frozenset[str]:
    return frozenset(_iso()["countries"]["codes"])


@cache
def currencies() -> frozenset[str]:
    return frozenset(_iso()["currencies"]["codes"])


@cache
def ict_service_types() -> dict[str, dict[str, Any]]:
    text = (resources.files("sovmap.register") / "data" / "ict_service_types.yaml").read_text(
        "utf-8"
    )
    data: dict[str, Any] = yaml.safe_load(text)
    types: dict[str, dict[str, Any]] = data["types"]
    return types
