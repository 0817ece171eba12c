"""Data location: which cloud region (and so which country's data centres) an address is in.

Two kinds of data, both validated: ``data/regions.yaml`` turns a provider's region id into a
country and city with the provider's own list of regions as the source, and the prefix files
``data/prefixes/<id>.json`` that ``sovmap knowledge refresh-prefixes`` writes keep, beside the
flat ``prefixes`` list, ``"cloud": "aws"`` and ``"regions": {"eu-central-1": [...], ...}``.
:func:`load_region_index` joins them into a :class:`RegionIndex` that answers
``locate(address)`` with the most specific published prefix holding the address.
"""

from __future__ import annotations

import bisect
import ipaddress
import json
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from sovmap.knowledge.catalogue import KnowledgeError

MAX_REGIONS_BYTES = 1 << 20
_REGION_FIELDS = frozenset({"name", "country", "city", "source"})


@dataclass(frozen=True, slots=True)
class Region:
    """One cloud region; ``country`` is ``""`` when the table does not know the region id."""

    cloud: str  # aws, azure, gcp, oci
    cloud_name: str  # AWS, Azure, ...
    provider: str  # provider id of the catalogue (amazon, microsoft, ...)
    id: str  # the provider's region id (westeurope, eu-central-1, ...)
    name: str  # as the provider names it (West Europe, Europe (Frankfurt), ...)
    country: str
    city: str
    source: str

    @property
    def known(self) -> bool:
        return bool(self.country)

    @property
    def ref(self) -> str:
        """The evidence fingerprint of a located address: ``region:azure:westeurope``."""
        return f"region:{self.cloud}:{self.id}"


@dataclass(frozen=True, slots=True)
class Cloud:
    id: str
    provider: str
    name: str
    source: str
    regions: dict[str, Region]

    def region(self, rid: str) -> Region:
        found = self.regions.get(rid)
        if found is not None:
            return found
        return Region(self.id, self.name, self.provider, rid, rid, "", "", self.source)


def regions_path() -> Path:
    return Path(str(resources.files("sovmap.knowledge") / "data" / "regions.yaml"))


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise KnowledgeError(f"{where}: missing or empty")
    return value.strip()


def load_regions(
    path: Path | None = None, known_providers: set[str] | None = None
) -> dict[str, Cloud]:
    """Read and check the region table; errors name the file and the field."""
    path = path or regions_path()
    data = path.read_bytes()
    if len(data) > MAX_REGIONS_BYTES:
        raise KnowledgeError(f"{path.name}: larger than {MAX_REGIONS_BYTES} bytes")
    try:
        raw = yaml.safe_load(data.decode("utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        raise KnowledgeError(f"{path.name}: not valid YAML: {exc}") from exc
    clouds = raw.get("clouds") if isinstance(raw, dict) else None
    if not isinstance(clouds, dict):
        raise KnowledgeError(f"{path.name}: field clouds: expected a mapping")
    out: dict[str, Cloud] = {}
    for cid, c in clouds.items():
        where = f"{path.name}: field clouds/{cid}"
        if not isinstance(c, dict):
            raise KnowledgeError(f"{where}: expected a mapping")
        provider = _text(c.get("provider"), f"{where}/provider")
        if known_providers is not None and provider not in known_providers:
            raise KnowledgeError(f"{where}/provider: unknown provider {provider!r}")
        name = _text(c.get("name"), f"{where}/name")
        source = _text(c.get("source"), f"{where}/source")
        if not source.startswith(("http://", "https://")):
            raise KnowledgeError(f"{where}/source: not a URL")
        regions_raw = c.get("regions")
        if not isinstance(regions_raw, dict) or not regions_raw:
            raise KnowledgeError(f"{where}/regions: expected a non-empty mapping")
        regions: dict[str, Region] = {}
        for rid, r in regions_raw.items():
            rwhere = f"{where}/regions/{rid}"
            if not isinstance(r, dict):
                raise KnowledgeError(f"{rwhere}: expected a mapping")
            stray = sorted(str(k) for k in r if k not in _REGION_FIELDS)
            if stray:  # e.g. an unquoted "City, State" in a flow mapping
                raise KnowledgeError(f"{rwhere}: unknown field {stray[0][:80]!r}")
            country = _text(r.get("country"), f"{rwhere}/country")
            if len(country) != 2 or not country.isalpha() or not country.isupper():
                raise KnowledgeError(f"{rwhere}/country: not an ISO 3166 code: {country[:80]!r}")
            regions[str(rid)] = Region(
                cloud=str(cid),
                cloud_name=name,
                provider=provider,
                id=str(rid),
                name=_text(r.get("name"), f"{rwhere}/name"),
                country=country,
                city=_text(r.get("city"), f"{rwhere}/city"),
                source=str(r.get("source") or source),
            )
        out[str(cid)] = Cloud(str(cid), provider, name, source, regions)
    return out


class RegionIndex:
    """Address -> the region of the most specific published prefix that holds it."""

    def __init__(self, entries: Iterable[tuple[str, Region]] = ()) -> None:
        items: dict[int, list[tuple[int, int, int, Region]]] = {4: [], 6: []}
        for prefix, region in entries:
            net = ipaddress.ip_network(prefix, strict=False)
            items[net.version].append(
                (int(net.network_address), int(net.broadcast_address), net.prefixlen, region)
            )
        self._items = {v: sorted(x, key=lambda t: (t[0], -t[1])) for v, x in items.items()}
        self._starts = {v: [t[0] for t in x] for v, x in self._items.items()}
        self.size = sum(len(x) for x in self._items.values())

    def __bool__(self) -> bool:
        return self.size > 0

    def locate(self, address: str) -> Region | None:
        version = 6 if ":" in address else 4
        items = self._items[version]
        if not items:
            return None
        try:
            family = socket.AF_INET6 if version == 6 else socket.AF_INET
            value = int.from_bytes(socket.inet_pton(family, address), "big")
        except OSError:
            return None
        best: tuple[int, Region] | None = None
        i = bisect.bisect_right(self._starts[version], value) - 1
        seen = 0
        while i >= 0 and seen < 64:  # published lists nest rarely and shallowly
            start, end, length, region = items[i]
            if start <= value <= end and (best is None or length > best[0]):
                best = (length, region)
            i -= 1
            seen += 1
        return best[1] if best else None


def region_entries(
    doc: dict[str, Any], where: str, clouds: dict[str, Cloud]
) -> list[tuple[str, Region]]:
    """The (prefix, region) pairs of one prefix document; none when it carries no regions."""
    regions = doc.get("regions")
    if regions is None:
        return []
    cid = doc.get("cloud")
    if not isinstance(cid, str) or cid not in clouds:
        raise KnowledgeError(f"{where}: field cloud: unknown cloud {str(cid)[:80]!r}")
    if not isinstance(regions, dict):
        raise KnowledgeError(f"{where}: field regions: expected a mapping")
    cloud = clouds[cid]
    if doc.get("provider") != cloud.provider:
        raise KnowledgeError(
            f"{where}: field cloud: {cid} belongs to {cloud.provider}, not {doc.get('provider')}"
        )
    out: list[tuple[str, Region]] = []
    for rid, prefixes in regions.items():
        if not isinstance(prefixes, list):
            raise KnowledgeError(f"{where}: field regions/{rid}: expected a list")
        region = cloud.region(str(rid))
        for i, p in enumerate(prefixes):
            try:
                ipaddress.ip_network(p, strict=False)
            except (TypeError, ValueError) as exc:
                raise KnowledgeError(f"{where}: field regions/{rid}/{i}: {exc}") from exc
            out.append((str(p), region))
    return out


def load_region_index(
    extra_dirs: Iterable[Path] = (), clouds: dict[str, Cloud] | None = None
) -> RegionIndex:
    """Every region-tagged prefix of the bundled and user prefix files."""
    from sovmap.knowledge.prefixes import prefix_files

    clouds = clouds if clouds is not None else load_regions()
    entries: list[tuple[str, Region]] = []
    for f in prefix_files(extra_dirs):
        try:
            raw = json.loads(f.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise KnowledgeError(f"{f.name}: not valid JSON: {exc}") from exc
        if isinstance(raw, dict):
            entries += region_entries(raw, f.name, clouds)
    return RegionIndex(entries)
