"""Bundled address-prefix lists of providers (the ``ip`` fingerprints too long to keep inline).

Each file ``data/prefixes/<provider-id>.json`` holds::

    {"provider": "amazon", "capability": "web-hosting", "service": "aws",
     "source": "https://...", "fetched": "2026-11-01", "weight": 0.6,
     "prefixes": ["3.5.140.0/22", ...]}
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any

from sovmap.knowledge.catalogue import Fingerprint, KnowledgeError
from sovmap.model import Capability


def prefix_dir() -> Path:
    return Path(str(resources.files("sovmap.knowledge") / "data" / "prefixes"))


def prefix_files(extra_dirs: Iterable[Path] = ()) -> list[Path]:
    """Bundled lists, then ``*.json`` in each user directory (a refreshed list written with
    ``sovmap knowledge refresh-prefixes --out DIR`` replaces the bundled one of the same name)."""
    chosen = {f.name: f for f in sorted(prefix_dir().glob("*.json"))}
    for d in extra_dirs:
        for f in sorted(Path(d).glob("*.json")):
            chosen[f.name] = f
    return [chosen[k] for k in sorted(chosen)]


def digest(extra_dirs: Iterable[Path] = ()) -> str:
    h = hashlib.sha256()
    for f in prefix_files(extra_dirs):
        h.update(f.name.encode() + b"\0" + f.read_bytes())
    regions = prefix_dir().parent / "regions.yaml"  # the region table names countries
    h.update(b"regions.yaml\0" + regions.read_bytes())
    return h.hexdigest()


def validate_prefix_document(raw: Any, where: str, known: set[str]) -> None:
    if not isinstance(raw, dict):
        raise KnowledgeError(f"{where}: expected an object")
    for key in ("provider", "capability", "source", "prefixes"):
        if key not in raw:
            raise KnowledgeError(f"{where}: field {key}: missing")
    if raw["provider"] not in known:
        raise KnowledgeError(f"{where}: field provider: unknown provider {raw['provider']!r}")
    try:
        Capability(raw["capability"])
    except ValueError as exc:
        raise KnowledgeError(f"{where}: field capability: {exc}") from exc
    if not str(raw["source"]).startswith(("http://", "https://")):
        raise KnowledgeError(f"{where}: field source: not a URL")
    for i, p in enumerate(raw["prefixes"]):
        try:
            ipaddress.ip_network(p, strict=False)
        except ValueError as exc:
            raise KnowledgeError(f"{where}: field prefixes/{i}: {exc}") from exc


def load_prefix_fingerprints(
    known: set[str], extra_dirs: Iterable[Path] = ()
) -> dict[str, list[Fingerprint]]:
    out: dict[str, list[Fingerprint]] = {}
    for f in prefix_files(extra_dirs):
        try:
            raw = json.loads(f.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise KnowledgeError(f"{f.name}: not valid JSON: {exc}") from exc
        validate_prefix_document(raw, f.name, known)
        cap = Capability(raw["capability"])
        out.setdefault(raw["provider"], []).extend(
            Fingerprint(
                provider=raw["provider"],
                kind="ip",
                pattern=p,
                match="suffix",
                capability=cap,
                service=raw.get("service", ""),
                weight=float(raw.get("weight", 0.6)),
                source=raw["source"],
                probes=frozenset(raw.get("probes", ())),
            )
            for p in raw["prefixes"]
        )
    return out
