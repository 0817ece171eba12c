"""The risk policy: weights, jurisdiction classes and sovereignty objectives as data.

The bundled ``data/policy.yaml`` is the default; a user file given with ``--policy`` is
merged over it key by key (so a file may change one weight), and the result is validated
against ``schema/policy.schema.json``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from sovmap.errors import SovmapError
from sovmap.readers import InputError, load_yaml


class PolicyError(SovmapError, ValueError):
    """A policy file is malformed; the message names the file and field."""


@dataclass(frozen=True)
class Policy:
    data: Mapping[str, Any]
    source: str = "bundled"

    def jurisdiction_class(self, country: str | None) -> str:
        if not country:
            return "unknown"
        for name, cls in self.data["jurisdiction_classes"].items():
            if country in cls.get("countries", ()):
                return str(name)
        return "other"

    def class_factor(self, name: str, dimension: str) -> float:
        return float(self.data["jurisdiction_classes"][name][dimension])

    def tag_factor(self, tag: str, dimension: str) -> float:
        return float(self.data["tags"].get(tag, {}).get(dimension, 0.0))

    def tag_source(self, tag: str) -> str:
        return str(self.data["tags"].get(tag, {}).get("source", ""))

    def section(self, name: str) -> Mapping[str, Any]:
        section: Mapping[str, Any] = self.data[name]
        return section

    def is_eu(self, country: str | None) -> bool:
        return self.jurisdiction_class(country) == "eu"


@cache
def _schema() -> dict[str, Any]:
    text = (resources.files("sovmap.risk") / "schema" / "policy.schema.json").read_text()
    data: dict[str, Any] = json.loads(text)
    return data


def _merge(base: Any, over: Any) -> Any:
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for key, value in over.items():
            out[key] = _merge(base.get(key), value) if key in base else value
        return out
    return over


def validate_policy(data: Any, where: str) -> None:
    validator = jsonschema.Draft202012Validator(_schema())
    errors = sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        e = errors[0]
        path = "/".join(str(p) for p in e.absolute_path) or "(document)"
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise PolicyError(f"{where}: field {path}: {e.message}{more}")
    weights = data["sovereignty"]["objectives"]
    total = sum(float(o["weight"]) for o in weights.values())
    if abs(total - 1.0) > 1e-9:
        raise PolicyError(
            f"{where}: field sovereignty/objectives: weights add up to {total}, not 1"
        )


@cache
def default_policy() -> Policy:
    text = (resources.files("sovmap.risk") / "data" / "policy.yaml").read_text("utf-8")
    data = yaml.safe_load(text)
    validate_policy(data, "policy.yaml (bundled)")
    return Policy(data)


def load_policy(path: Path | None = None) -> Policy:
    """The bundled policy, with ``path`` (if given) merged over it."""
    base = default_policy()
    if path is None:
        return base
    try:
        over = load_yaml(Path(path))
    except InputError as exc:
        raise PolicyError(str(exc)) from exc
    if not isinstance(over, dict):
        raise PolicyError(f"{path}: a policy file is a mapping")
    merged = _merge(dict(base.data), over)
    validate_policy(merged, str(path))
    return Policy(merged, str(path))
