"""Download a source's documents when online, keep them in a cache, use the cache offline.

A document is written to the cache only after the source parsed it, so a broken download
never replaces a good cached copy. When the network fails the cached copy is used and the
result says so; with no cached copy the error names the URL and the cache directory.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sovmap import __version__
from sovmap.i18n import t
from sovmap.i18n.said import SaidText, localised
from sovmap.orgs.model import Organisation
from sovmap.orgs.sources import Download, Source, SourceError, parse_problems

USER_AGENT = f"sovmap/{__version__} (organisation list fetcher; python-urllib)"


class SourceUnavailable(SourceError):
    """The source cannot be reached and nothing is cached."""


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "sovmap"


@dataclass(frozen=True, slots=True)
class Fetched:
    """Organisations of one source run, and where each document came from."""

    organisations: tuple[Organisation, ...]
    origins: tuple[str, ...]  # URL, or "cache:<path> (<fetched at>)", or "bundled"
    from_cache: bool
    notes: tuple[str, ...] = ()


def _download(d: Download, timeout: float) -> bytes:
    req = urllib.request.Request(d.url, headers={"User-Agent": USER_AGENT, "Accept": d.accept})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        data: bytes = resp.read()
        return data


def _cache_paths(cache_dir: Path, source: str, key: str) -> tuple[Path, Path]:
    folder = cache_dir / "orgs" / source
    return folder / key, folder / (key + ".meta.json")


def _write_cache(cache_dir: Path, source: str, d: Download, data: bytes) -> None:
    path, meta = _cache_paths(cache_dir, source, d.key)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    info = {"url": d.url, "fetched_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
    meta.write_text(json.dumps(info), encoding="utf-8")


def _read_cache(cache_dir: Path, source: str, d: Download) -> tuple[bytes, str] | None:
    path, meta = _cache_paths(cache_dir, source, d.key)
    if not path.is_file():
        return None
    when = "unknown time"
    if meta.is_file():
        with contextlib.suppress(OSError, ValueError):
            when = str(json.loads(meta.read_text(encoding="utf-8")).get("fetched_at", when))
    return path.read_bytes(), f"cache:{path} (fetched {when})"


def fetch_source(
    source: Source,
    options: Mapping[str, str],
    *,
    cache_dir: Path,
    base_url: str = "",
    offline: bool = False,
    timeout: float = 60.0,
) -> Fetched:
    """Fetch, parse and cache every document of ``source``; raises SourceError."""
    downloads = source.downloads(base_url or source.default_base_url, options)
    if not downloads:
        return Fetched(tuple(source.parse(b"", "bundled", options)), ("bundled",), False)
    orgs: list[Organisation] = []
    origins: list[str] = []
    notes: list[str] = []
    used_cache = False
    for d in downloads:
        data: bytes | None = None
        origin = d.url
        fresh = False
        if not offline:
            try:
                data = _download(d, timeout)
                fresh = True
            except (urllib.error.URLError, TimeoutError, OSError) as exc:
                reason = getattr(exc, "reason", exc)
                notes.append(SaidText.of("ORGSRC_CANNOT_REACH", url=d.url, reason=reason))
        if data is None:
            cached = _read_cache(cache_dir, source.name, d)
            if cached is None:
                code = "ORGSRC_UNAVAILABLE_OFFLINE" if offline else "ORGSRC_UNAVAILABLE"
                raise SourceUnavailable.of(
                    code,
                    source=source.name,
                    why=lambda lang: (
                        localised(notes[-1], lang) if notes else t(lang, "ORGSRC_NOT_REACHABLE")
                    ),
                    key=d.key,
                    cache=cache_dir / "orgs" / source.name,
                )
            data, origin = cached
            used_cache = True
        parsed = source.parse(data, origin, options)
        orgs.extend(parsed)
        notes.extend(parse_problems(parsed))
        if fresh:
            _write_cache(cache_dir, source.name, d, data)
        origins.append(origin)
    return Fetched(tuple(orgs), tuple(origins), used_cache, tuple(notes))
