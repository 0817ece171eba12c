"""Refresh the bundled address-prefix lists from the ranges that providers publish.

The list of sources (URLs, format, which capability the ranges reveal) is data:
``data/prefix_sources.yaml``. Parsing is pure (bytes in, prefixes out); fetching is a
small callable so tests can serve recorded files on loopback and users can work from a
directory of saved downloads.
"""

from __future__ import annotations

import html
import ipaddress
import json
import os
import re
import tempfile
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from sovmap.knowledge.catalogue import KnowledgeError
from sovmap.knowledge.prefixes import prefix_dir, validate_prefix_document
from sovmap.model import Capability

Fetcher = Callable[[str], bytes]
MAX_PAGE_BYTES = 4 << 20  # a download page read for its link
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class PrefixFormatError(ValueError):
    """A downloaded list does not have the documented shape; the message says where."""


@dataclass(frozen=True, slots=True)
class PrefixSource:
    """One published list (or a group of lists merged into one output file)."""

    id: str
    provider: str
    capability: Capability
    urls: tuple[str, ...]
    format: str
    source: str
    service: str = ""
    weight: float = 0.6
    select: dict[str, tuple[str, ...]] = field(default_factory=dict)
    cloud: str = ""  # a cloud of data/regions.yaml: keep the region of every prefix
    latest_page: str = ""  # a download page whose first link matching latest_link is the URL
    latest_link: str = ""


@dataclass(frozen=True, slots=True)
class RefreshResult:
    id: str
    provider: str
    prefixes: int = 0
    path: str = ""
    error: str = ""
    regions: int = 0

    @property
    def ok(self) -> bool:
        return not self.error


# --------------------------------------------------------------------------- parsers


def _json(payload: bytes, where: str) -> Any:
    try:
        return json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PrefixFormatError(f"{where}: not valid JSON: {exc}") from exc


def _items(raw: Any, key: str, where: str) -> list[Any]:
    if not isinstance(raw, dict):
        raise PrefixFormatError(f"{where}: expected a JSON object at the top")
    value = raw.get(key, [])
    if not isinstance(value, list):
        raise PrefixFormatError(f"{where}: field {key}: expected a list")
    return value


Located = list[tuple[str, str]]  # (prefix, region id or "")
# AWS marks edge networks (CloudFront, Route 53) as GLOBAL: served from everywhere
_NO_REGION = {"GLOBAL", "global", ""}


def _parse_aws(payload: bytes, select: dict[str, tuple[str, ...]], where: str) -> Located:
    raw = _json(payload, where)
    wanted = set(select.get("service", ()))
    regions = set(select.get("region", ()))
    out: Located = []
    for key, field_name in (("prefixes", "ip_prefix"), ("ipv6_prefixes", "ipv6_prefix")):
        for i, item in enumerate(_items(raw, key, where)):
            if not isinstance(item, dict) or field_name not in item:
                raise PrefixFormatError(f"{where}: field {key}/{i}: no {field_name}")
            if wanted and item.get("service") not in wanted:
                continue
            if regions and item.get("region") not in regions:
                continue
            region = str(item.get("region") or "")
            out.append((str(item[field_name]), "" if region in _NO_REGION else region))
    return out


def _parse_google(payload: bytes, select: dict[str, tuple[str, ...]], where: str) -> Located:
    raw = _json(payload, where)
    scopes = set(select.get("scope", ()))
    out: Located = []
    for i, item in enumerate(_items(raw, "prefixes", where)):
        if not isinstance(item, dict):
            raise PrefixFormatError(f"{where}: field prefixes/{i}: expected an object")
        if scopes and item.get("scope") not in scopes:
            continue
        value = item.get("ipv4Prefix") or item.get("ipv6Prefix")
        if not value:
            raise PrefixFormatError(f"{where}: field prefixes/{i}: no ipv4Prefix/ipv6Prefix")
        scope = str(item.get("scope") or "")
        out.append((str(value), "" if scope in _NO_REGION else scope))
    return out


def _parse_azure(payload: bytes, select: dict[str, tuple[str, ...]], where: str) -> Located:
    """Azure Service Tags (``ServiceTags_Public_<date>.json``): ``values[]`` of
    ``{name, properties: {region, addressPrefixes}}``; ``select: {tag: [AzureCloud]}`` keeps
    the tag and its regional forms (``AzureCloud.westeurope``)."""
    raw = _json(payload, where)
    tags = select.get("tag", ())
    out: Located = []
    for i, item in enumerate(_items(raw, "values", where)):
        props = item.get("properties") if isinstance(item, dict) else None
        if not isinstance(props, dict):
            raise PrefixFormatError(f"{where}: field values/{i}: no properties")
        name = str(item.get("name", ""))
        if tags and not any(name == t or name.startswith(t + ".") for t in tags):
            continue
        region = str(props.get("region") or "")
        for p in _items(props, "addressPrefixes", f"{where}: values/{i}/properties"):
            out.append((str(p), "" if region in _NO_REGION else region))
    return out


def _parse_lines(payload: bytes, select: dict[str, tuple[str, ...]], where: str) -> Located:
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PrefixFormatError(f"{where}: not UTF-8 text: {exc}") from exc
    out: Located = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            out.append((line, ""))
    return out


def _parse_fastly(payload: bytes, select: dict[str, tuple[str, ...]], where: str) -> Located:
    raw = _json(payload, where)
    return [
        (str(p), "") for key in ("addresses", "ipv6_addresses") for p in _items(raw, key, where)
    ]


def _parse_oracle(payload: bytes, select: dict[str, tuple[str, ...]], where: str) -> Located:
    raw = _json(payload, where)
    tags = set(select.get("tag", ()))
    out: Located = []
    for i, region in enumerate(_items(raw, "regions", where)):
        rid = str(region.get("region") or "") if isinstance(region, dict) else ""
        for j, cidr in enumerate(_items(region, "cidrs", f"{where}: regions/{i}")):
            if not isinstance(cidr, dict) or "cidr" not in cidr:
                raise PrefixFormatError(f"{where}: field regions/{i}/cidrs/{j}: no cidr")
            if tags and not tags & set(cidr.get("tags", ())):
                continue
            out.append((str(cidr["cidr"]), "" if rid in _NO_REGION else rid))
    return out


def _parse_github(payload: bytes, select: dict[str, tuple[str, ...]], where: str) -> Located:
    raw = _json(payload, where)
    keys = select.get("key") or ("pages",)
    return [(str(p), "") for key in keys for p in _items(raw, key, where)]


PARSERS: dict[str, Callable[[bytes, dict[str, tuple[str, ...]], str], Located]] = {
    "aws-ip-ranges": _parse_aws,
    "azure-service-tags": _parse_azure,
    "google-ipranges": _parse_google,
    "cidr-lines": _parse_lines,
    "fastly-public-ip-list": _parse_fastly,
    "oracle-public-ip-ranges": _parse_oracle,
    "github-meta": _parse_github,
}


def parse_prefixes(
    fmt: str, payload: bytes, select: dict[str, tuple[str, ...]], where: str
) -> list[str]:
    """Parse one downloaded list into validated CIDR strings (not yet merged)."""
    return [p for p, _ in parse_located(fmt, payload, select, where)]


def parse_located(
    fmt: str, payload: bytes, select: dict[str, tuple[str, ...]], where: str
) -> Located:
    """Parse one downloaded list into (CIDR, region id) pairs; region ``""`` where the list
    names none (or names a global, anycast network)."""
    try:
        parser = PARSERS[fmt]
    except KeyError:
        raise PrefixFormatError(f"{where}: unknown format {fmt!r}") from None
    out: Located = []
    for p, region in parser(payload, select, where):
        try:
            out.append((str(ipaddress.ip_network(p, strict=False)), region))
        except ValueError as exc:
            raise PrefixFormatError(f"{where}: {p!r} is not an address prefix: {exc}") from exc
    return out


def merge_regions(located: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """Prefixes grouped by region (merged within each), regions sorted; no unlocated ones."""
    by: dict[str, list[str]] = {}
    for p, region in located:
        if region:
            by.setdefault(region, []).append(p)
    return {r: merge_prefixes(by[r]) for r in sorted(by)}


def merge_prefixes(prefixes: Iterable[str]) -> list[str]:
    """Collapse overlapping and adjacent networks; IPv4 first, each family sorted."""
    v4: list[ipaddress.IPv4Network] = []
    v6: list[ipaddress.IPv6Network] = []
    for p in prefixes:
        net = ipaddress.ip_network(p, strict=False)
        if isinstance(net, ipaddress.IPv4Network):
            v4.append(net)
        else:
            v6.append(net)
    return [str(n) for n in ipaddress.collapse_addresses(v4)] + [
        str(n) for n in ipaddress.collapse_addresses(v6)
    ]


def build_document(
    src: PrefixSource,
    prefixes: Sequence[str],
    fetched: date,
    regions: dict[str, list[str]] | None = None,
) -> dict[str, Any]:
    """The JSON document of ``data/prefixes/<id>.json`` for one source (with ``cloud`` and
    ``regions`` when the source is a cloud of the region table and the list names regions)."""
    doc: dict[str, Any] = {
        "provider": src.provider,
        "capability": src.capability.value,
        "source": src.source,
        "urls": list(src.urls),
        "fetched": fetched.isoformat(),
        "weight": src.weight,
        "prefixes": list(prefixes),
    }
    if src.service:
        doc["service"] = src.service
    if src.cloud and regions:
        doc["cloud"] = src.cloud
        doc["regions"] = regions
    return doc


# --------------------------------------------------------------------------- sources


def _sources_path() -> Path:
    return Path(str(resources.files("sovmap.knowledge") / "data" / "prefix_sources.yaml"))


def load_prefix_sources(path: Path | None = None) -> list[PrefixSource]:
    """Read and check ``prefix_sources.yaml``; errors name the file and entry."""
    path = path or _sources_path()
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise KnowledgeError(f"{path.name}: not valid YAML: {exc}") from exc
    entries = raw.get("sources") if isinstance(raw, dict) else None
    if not isinstance(entries, list):
        raise KnowledgeError(f"{path.name}: field sources: expected a list")
    out: list[PrefixSource] = []
    seen: set[str] = set()
    for i, e in enumerate(entries):
        where = f"{path.name}: field sources/{i}"
        if not isinstance(e, dict):
            raise KnowledgeError(f"{where}: expected a mapping")
        for key in ("id", "provider", "capability", "urls", "format", "source"):
            if key not in e:
                raise KnowledgeError(f"{where}/{key}: missing")
        if e["format"] not in PARSERS:
            raise KnowledgeError(f"{where}/format: unknown format {e['format']!r}")
        if e["id"] in seen:
            raise KnowledgeError(f"{where}/id: duplicate id {e['id']!r}")
        seen.add(e["id"])
        urls = e["urls"]
        if (
            not isinstance(urls, list)
            or not urls
            or not all(isinstance(u, str) and u.startswith(("http://", "https://")) for u in urls)
        ):
            raise KnowledgeError(f"{where}/urls: expected a non-empty list of http(s) URLs")
        try:
            cap = Capability(e["capability"])
        except ValueError as exc:
            raise KnowledgeError(f"{where}/capability: {exc}") from exc
        select = e.get("select") or {}
        if not isinstance(select, dict):
            raise KnowledgeError(f"{where}/select: expected a mapping")
        latest = e.get("latest") or {}
        if not isinstance(latest, dict) or (
            latest
            and not (
                str(latest.get("page", "")).startswith(("http://", "https://"))
                and latest.get("link")
            )
        ):
            raise KnowledgeError(f"{where}/latest: expected page (a URL) and link (a pattern)")
        if latest:
            try:
                re.compile(str(latest["link"]))
            except re.error as exc:
                raise KnowledgeError(f"{where}/latest/link: {exc}") from exc
        out.append(
            PrefixSource(
                id=str(e["id"]),
                provider=str(e["provider"]),
                capability=cap,
                urls=tuple(urls),
                format=str(e["format"]),
                source=str(e["source"]),
                service=str(e.get("service", "")),
                weight=float(e.get("weight", 0.6)),
                select={str(k): tuple(str(x) for x in v) for k, v in select.items()},
                cloud=str(e.get("cloud", "")),
                latest_page=str(latest.get("page", "")),
                latest_link=str(latest.get("link", "")),
            )
        )
    return out


# --------------------------------------------------------------------------- fetching


def _local_path(url: str) -> str:
    """``https://host/a/b`` -> ``host/a/b``: the layout of saved downloads and fixtures."""
    parts = urlsplit(url)
    path = parts.path.lstrip("/") or "index"
    return f"{parts.netloc}/{path}"


def http_fetcher(timeout: float = 30.0, base_url: str = "") -> Fetcher:
    """Download over HTTP(S). With ``base_url`` every URL becomes ``base_url/host/path``,
    so a mirror (or a test server) can stand in for the providers' sites."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def fetch(url: str) -> bytes:
        target = f"{base_url.rstrip('/')}/{_local_path(url)}" if base_url else url
        request = urllib.request.Request(target, headers={"User-Agent": "sovmap-refresh"})
        with opener.open(request, timeout=timeout) as response:
            data: bytes = response.read()
        return data

    return fetch


def directory_fetcher(root: Path) -> Fetcher:
    """Read saved downloads from ``root/host/path`` instead of the network."""

    def fetch(url: str) -> bytes:
        path = Path(root) / _local_path(url)
        if not path.is_file():
            raise FileNotFoundError(f"no saved copy of {url} at {path}")
        return path.read_bytes()

    return fetch


def latest_urls(src: PrefixSource, fetch: Fetcher) -> tuple[str, ...]:
    """The source's URLs, or, for a list whose address changes with every edition (Azure's
    weekly ``ServiceTags_Public_<date>.json``), the first link on its download page that
    matches ``latest.link``."""
    if not src.latest_page:
        return src.urls
    page = fetch(src.latest_page)[:MAX_PAGE_BYTES].decode("utf-8", "replace")
    found = re.search(src.latest_link, page)
    if not found:
        raise PrefixFormatError(
            f"{src.latest_page}: no link matching {src.latest_link!r}; the page has changed"
        )
    return (html.unescape(found.group(0)),)


# --------------------------------------------------------------------------- refresh


def _write_json(path: Path, doc: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(doc, fh, indent=2)
        fh.write("\n")
    Path(tmp).replace(path)


def refresh_prefixes(
    sources: Sequence[PrefixSource],
    fetch: Fetcher,
    known_providers: set[str],
    fetched: date,
    out_dir: Path | None = None,
) -> list[RefreshResult]:
    """Download, parse, merge, validate and write each source; one failure spares the rest.

    A source whose download or parse fails keeps its previous file untouched.
    """
    out_dir = out_dir or prefix_dir()
    results: list[RefreshResult] = []
    for src in sources:
        try:
            if src.provider not in known_providers:
                raise KnowledgeError(f"unknown provider {src.provider!r}")
            collected: Located = []
            for url in latest_urls(src, fetch):
                collected += parse_located(src.format, fetch(url), src.select, url)
            merged = merge_prefixes(p for p, _ in collected)
            if not merged:
                raise PrefixFormatError("the list is empty after filtering; not replacing")
            regions = merge_regions(collected) if src.cloud else {}
            doc = build_document(src, merged, fetched, regions)
            path = out_dir / f"{src.id}.json"
            validate_prefix_document(doc, path.name, known_providers)
            if regions:
                from sovmap.knowledge.regions import load_regions, region_entries

                region_entries(doc, path.name, load_regions())
            _write_json(path, doc)
            results.append(
                RefreshResult(src.id, src.provider, len(merged), str(path), regions=len(regions))
            )
        except (OSError, ValueError) as exc:
            results.append(RefreshResult(src.id, src.provider, error=str(exc)))
    return results
