"""The provider catalogue: validated data files turned into an index for fast matching."""

from __future__ import annotations

import bisect
import hashlib
import ipaddress
import json
import re
import socket
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jsonschema
import yaml

from sovmap.control import us_controlled
from sovmap.i18n import t
from sovmap.i18n.said import SaidError
from sovmap.model import Capability
from sovmap.readers import InputError, check_events, read_text

if TYPE_CHECKING:
    from sovmap.knowledge.regions import RegionIndex

FINGERPRINT_KINDS = ("mx", "spf", "txt", "dkim", "dmarc", "cname", "srv", "ns", "asn", "ip")


#: The largest provider file read (bytes), checked before reading.
MAX_PROVIDER_BYTES = 16 * 1024 * 1024


class KnowledgeError(SaidError, ValueError):
    """A data file of the knowledge base is malformed; the message names file and field.

    Said from the catalogue (``KNOW_*`` codes, :meth:`SaidError.of`) where this module
    raises it, so ``sovmap knowledge check`` and the commands that load knowledge say it in
    the user's language."""


@dataclass(frozen=True, slots=True)
class Fingerprint:
    provider: str
    kind: str
    pattern: str
    match: str
    capability: Capability
    service: str
    weight: float
    source: str
    probes: frozenset[str] = frozenset()
    ref: str = field(init=False, compare=False, repr=False)  # "kind:pattern", for evidence

    def __post_init__(self) -> None:
        object.__setattr__(self, "ref", f"{self.kind}:{self.pattern}")

    def applies_to(self, probe: str) -> bool:
        return not self.probes or probe in self.probes


@dataclass(frozen=True, slots=True)
class Provider:
    id: str
    name: str
    kind: str
    legal_name: str
    legal_country: str
    parent_name: str
    parent_country: str
    jurisdiction: str
    tags: tuple[str, ...]
    capabilities: frozenset[Capability]
    services: dict[str, str]
    sources: tuple[str, ...]
    alternatives_for: frozenset[Capability] = frozenset()
    file: str = ""

    @property
    def us_controlled(self) -> bool:
        return us_controlled(self.jurisdiction, self.tags)


@dataclass(frozen=True, slots=True)
class Match:
    fingerprint: Fingerprint
    matched: str  # the name / address / token that matched


@dataclass
class Catalogue:
    """All providers and an index over their fingerprints."""

    providers: dict[str, Provider]
    fingerprints: tuple[Fingerprint, ...]
    version: str
    _suffix: dict[str, dict[str, list[Fingerprint]]] = field(default_factory=dict)
    _exact: dict[str, dict[str, list[Fingerprint]]] = field(default_factory=dict)
    _regex: dict[str, list[tuple[re.Pattern[str], Fingerprint]]] = field(default_factory=dict)
    _asn: dict[int, list[Fingerprint]] = field(default_factory=dict)
    _nets: dict[int, tuple[list[int], list[tuple[int, int, Fingerprint]]]] = field(
        default_factory=dict
    )
    # published cloud regions of addresses (sovmap.knowledge.regions); None: not loaded
    locations: RegionIndex | None = field(default=None, repr=False, compare=False)
    # one alternation of a kind's patterns: a name none of them finds costs one search
    _regex_any: dict[str, re.Pattern[str] | None] = field(default_factory=dict, repr=False)
    # results of match_name / match_ip by their arguments (a scan asks about the same
    # include, name server and address for thousands of domains); cleared when full
    _memo: dict[tuple[str, str, str], tuple[Match, ...]] = field(
        default_factory=dict, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        nets: dict[int, list[tuple[int, int, Fingerprint]]] = {4: [], 6: []}
        for fp in self.fingerprints:
            if fp.kind == "asn":
                self._asn.setdefault(int(fp.pattern.upper().removeprefix("AS")), []).append(fp)
            elif fp.kind == "ip":
                net = ipaddress.ip_network(fp.pattern, strict=False)
                nets[net.version].append((int(net.network_address), int(net.broadcast_address), fp))
            elif fp.match == "regex":
                self._regex.setdefault(fp.kind, []).append((re.compile(fp.pattern, re.I), fp))
            elif fp.match == "exact":
                self._exact.setdefault(fp.kind, {}).setdefault(_norm(fp.pattern), []).append(fp)
            else:
                self._suffix.setdefault(fp.kind, {}).setdefault(_norm(fp.pattern), []).append(fp)
        for version, items in nets.items():
            items.sort(key=lambda t: (t[0], -t[1]))
            self._nets[version] = ([s for s, _, _ in items], items)
        for kind, pairs in self._regex.items():
            self._regex_any[kind] = _alternation([rx.pattern for rx, _ in pairs])

    def provider(self, pid: str) -> Provider:
        return self.providers[pid]

    def match_name(self, kind: str, name: str, probe: str = "") -> tuple[Match, ...]:
        """Fingerprints of ``kind`` that match a DNS name (suffix/exact/regex)."""
        key = (kind, name, probe)
        hit = self._memo.get(key)
        if hit is None:
            hit = self._remember(key, tuple(self._match_name(kind, name, probe)))
        return hit

    def _remember(self, key: tuple[str, str, str], value: tuple[Match, ...]) -> tuple[Match, ...]:
        if len(self._memo) >= _MEMO_SIZE:
            self._memo.clear()
        self._memo[key] = value
        return value

    def _match_name(self, kind: str, name: str, probe: str) -> list[Match]:
        if name != name.lower() or name.endswith(".") or name != name.strip():
            name = _norm(name)
        out: list[Match] = []
        exact = self._exact.get(kind)
        if exact:
            for fp in exact.get(name, ()):
                if fp.applies_to(probe):
                    out.append(Match(fp, name))
        suffix = self._suffix.get(kind)
        if suffix:
            pos = 0
            while True:
                for fp in suffix.get(name[pos:], ()):
                    if fp.applies_to(probe):
                        out.append(Match(fp, name))
                dot = name.find(".", pos)
                if dot < 0:
                    break
                pos = dot + 1
        out.extend(Match(fp, name) for fp in self._regex_hits(kind, name, probe))
        return out

    def _regex_hits(self, kind: str, text: str, probe: str) -> Iterator[Fingerprint]:
        pairs = self._regex.get(kind)
        if not pairs:
            return
        anyrx = self._regex_any.get(kind)
        if anyrx is not None and anyrx.search(text) is None:
            return
        for rx, fp in pairs:
            if fp.applies_to(probe) and rx.search(text):
                yield fp

    def match_text(self, kind: str, text: str, probe: str = "") -> tuple[Match, ...]:
        """Fingerprints of ``kind`` (txt, dkim key records) whose regex finds ``text``."""
        out = [Match(fp, text) for fp in self._regex_hits(kind, text, probe)]
        for fp in self._exact.get(kind, {}).get(text.strip().lower(), ()):
            if fp.applies_to(probe):
                out.append(Match(fp, text))
        return tuple(out)

    def match_asn(self, asn: int, probe: str = "") -> tuple[Match, ...]:
        return tuple(Match(fp, f"AS{asn}") for fp in self._asn.get(asn, ()) if fp.applies_to(probe))

    def match_ip(self, address: str, probe: str = "") -> tuple[Match, ...]:
        key = ("\0ip", address, probe)  # no fingerprint kind starts with NUL
        hit = self._memo.get(key)
        if hit is None:
            hit = self._remember(key, tuple(self._match_ip(address, probe)))
        return hit

    def _match_ip(self, address: str, probe: str) -> list[Match]:
        version = 6 if ":" in address else 4
        starts, items = self._nets[version]
        if not starts:
            return []
        try:
            value = int.from_bytes(
                socket.inet_pton(socket.AF_INET6 if version == 6 else socket.AF_INET, address),
                "big",
            )
        except OSError:
            return []
        out: list[Match] = []
        # candidates are networks that start at or before the address; scan back while any
        # could still contain it (prefix lists are small per provider and rarely nested deep)
        i = bisect.bisect_right(starts, value) - 1
        seen = 0
        while i >= 0 and seen < 64:
            start, end, fp = items[i]
            if start <= value <= end and fp.applies_to(probe):
                out.append(Match(fp, address))
            i -= 1
            seen += 1
        return out


_MEMO_SIZE = 1 << 15
_BACKREF = re.compile(r"\\[1-9]|\(\?P=")


def _alternation(patterns: list[str]) -> re.Pattern[str] | None:
    """One pattern that finds a text when any of ``patterns`` does (None when the patterns
    cannot be joined: back-references would be renumbered, global flags are refused)."""
    if any(_BACKREF.search(p) for p in patterns):
        return None
    try:
        return re.compile("|".join(f"(?:{p})" for p in patterns), re.I)
    except re.error:
        return None


def _norm(name: str) -> str:
    return name.strip().rstrip(".").lower()


def _data_root() -> Path:
    return Path(str(resources.files("sovmap.knowledge") / "data"))


@cache
def _schema() -> dict[str, Any]:
    text = (resources.files("sovmap.knowledge") / "schema" / "provider.schema.json").read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema


@cache
def _validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(_schema())


_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def validate_provider(raw: Any, where: str) -> None:
    """Validate one provider document; raise KnowledgeError naming the file and field."""
    validator = _validator()
    errors = sorted(validator.iter_errors(raw), key=lambda e: list(e.absolute_path))
    if errors:
        e = errors[0]
        path = "/".join(str(p) for p in e.absolute_path)
        field = path or (lambda lang: t(lang, "KNOW_DOCUMENT_ITSELF"))
        code = "KNOW_SCHEMA" if len(errors) == 1 else "KNOW_SCHEMA_MORE"
        raise KnowledgeError.of(code, where, field=field, detail=e.message, more=len(errors) - 1)
    assert isinstance(raw, dict)
    for i, fp in enumerate(raw.get("fingerprints", ())):
        if fp.get("match") == "regex":
            try:
                re.compile(fp["pattern"])
            except re.error as exc:
                raise KnowledgeError.of("KNOW_BAD_PATTERN", where, i=i, detail=exc) from exc
        if fp["kind"] == "ip":
            try:
                ipaddress.ip_network(fp["pattern"], strict=False)
            except ValueError as exc:
                raise KnowledgeError.of("KNOW_BAD_PATTERN", where, i=i, detail=exc) from exc
        if fp["kind"] == "asn" and not re.fullmatch(r"(?i)(AS)?\d{1,10}", fp["pattern"]):
            raise KnowledgeError.of("KNOW_NOT_ASN", where, i=i)
        if fp["capability"] not in raw["capabilities"]:
            raise KnowledgeError.of(
                "KNOW_CAPABILITY_NOT_LISTED", where, i=i, capability=fp["capability"]
            )


def _provider_files(extra_dirs: Iterable[Path]) -> Iterator[Path]:
    yield from sorted((_data_root() / "providers").glob("*.yaml"))
    for d in extra_dirs:
        yield from sorted(Path(d).glob("*.yaml"))


def _build_provider(raw: dict[str, Any], where: str) -> tuple[Provider, list[Fingerprint]]:
    caps = frozenset(Capability(c) for c in raw["capabilities"])
    provider = Provider(
        id=raw["id"],
        name=raw["name"],
        kind=raw.get("kind", "other"),
        legal_name=raw["legal"]["name"],
        legal_country=raw["legal"]["country"],
        parent_name=raw["parent"]["name"],
        parent_country=raw["parent"]["country"],
        jurisdiction=raw["jurisdiction"]["country"],
        tags=tuple(raw["jurisdiction"]["tags"]),
        capabilities=caps,
        services={s["id"]: s["name"] for s in raw.get("services", ())},
        sources=tuple(raw.get("sources", ())),
        alternatives_for=frozenset(Capability(c) for c in raw.get("alternatives_for", ())),
        file=where,
    )
    fps = [
        Fingerprint(
            provider=provider.id,
            kind=fp["kind"],
            pattern=fp["pattern"],
            match=fp.get("match", "suffix"),
            capability=Capability(fp["capability"]),
            service=fp.get("service", ""),
            weight=float(fp.get("weight", 0.8)),
            source=fp["source"],
            probes=frozenset(fp.get("probes", ())),
        )
        for fp in raw["fingerprints"]
    ]
    return provider, fps


def load_catalogue(extra_dirs: Iterable[Path] = ()) -> Catalogue:
    """Load and validate the bundled provider files plus any user directories.

    A user file with the same ``id`` as a bundled one replaces it, so local corrections need
    no code change.
    """
    providers: dict[str, Provider] = {}
    extra_dirs = [Path(d) for d in extra_dirs]
    fingerprints: dict[str, list[Fingerprint]] = {}
    digest = hashlib.sha256()
    for path in _provider_files(extra_dirs):
        try:  # decoded, and aliases, depth and size checked before anything is built
            text, bad = read_text(path, max_bytes=MAX_PROVIDER_BYTES)
            if bad:
                raise InputError(bad[0].file, f"ENCODING: {bad[0].message}", line=bad[0].line)
            check_events(text, str(path))
        except InputError as exc:
            raise KnowledgeError.wrap(exc) from exc
        digest.update(path.name.encode() + b"\0" + text.encode())
        try:
            docs = [d for d in yaml.load_all(text, Loader=_Loader) if d is not None]
        except yaml.YAMLError as exc:
            raise KnowledgeError.of("KNOW_NOT_YAML", path, detail=exc) from exc
        for n, raw in enumerate(docs):
            where = f"{path.name}" + (f" (document {n + 1})" if len(docs) > 1 else "")
            validate_provider(raw, where)
            provider, fps = _build_provider(raw, where)
            providers[provider.id] = provider
            fingerprints[provider.id] = fps
    from sovmap.knowledge import prefixes

    extra = prefixes.load_prefix_fingerprints(set(providers), extra_dirs)
    for pid, fps in extra.items():
        fingerprints.setdefault(pid, []).extend(fps)
    digest.update(prefixes.digest(extra_dirs).encode())
    from sovmap.knowledge.regions import load_region_index, load_regions

    return Catalogue(
        providers=providers,
        fingerprints=tuple(fp for fps in fingerprints.values() for fp in fps),
        version=digest.hexdigest()[:12],
        locations=load_region_index(extra_dirs, load_regions(known_providers=set(providers))),
    )


@cache
def default_catalogue() -> Catalogue:
    return load_catalogue()
