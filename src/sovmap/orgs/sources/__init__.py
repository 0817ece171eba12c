"""Organisation sources, registered through the ``sovmap.orgs.sources`` entry-point group.

A source is an object with the :class:`Source` shape. The built-in ones (the Dutch
government almanac, Wikidata, CSV/Excel lists, the bundled list of Dutch ZBOs and agencies)
register through the same entry points a third-party package would use::

    [project.entry-points."sovmap.orgs.sources"]
    my-register = "my_package.sovmap_source:SOURCE"
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Protocol

from sovmap.i18n.said import SaidError
from sovmap.orgs.model import Organisation

ENTRY_POINT_GROUP = "sovmap.orgs.sources"


class SourceError(SaidError):
    """A source's data is unusable; the message names the file or URL, line and field.

    ``SourceError(text)`` is a message as it is (a third-party source's own words);
    ``SourceError.of(CODE, where, **params)`` says a catalogue message
    (``messages/orgsrc.<lang>.yaml``) in the user's language (:class:`SaidError`)."""


class NotFound(SaidError, LookupError):
    """What a command asked for (an organisation, a scan) is not in the store; said from the
    catalogue like :class:`SourceError`, and still a :class:`LookupError` for callers."""


@dataclass(frozen=True, slots=True)
class Option:
    """A parameter a source understands (``country``, ``type``, ``url``...)."""

    name: str
    help: str
    default: str = ""


@dataclass(frozen=True, slots=True)
class Download:
    """One document to fetch: ``key`` names it in the cache, ``url`` where it lives."""

    key: str
    url: str
    accept: str = "*/*"


class Source(Protocol):
    """What every organisation source provides."""

    @property
    def name(self) -> str: ...

    @property
    def help(self) -> str: ...

    @property
    def default_base_url(self) -> str: ...

    @property
    def options(self) -> Sequence[Option]: ...

    def downloads(self, base_url: str, options: Mapping[str, str]) -> list[Download]:
        """The documents to fetch for these options (empty for bundled data)."""
        ...

    def parse(self, data: bytes, origin: str, options: Mapping[str, str]) -> list[Organisation]:
        """Organisations from one fetched document; ``origin`` (URL or path) names it in
        errors. Raises :class:`SourceError`."""
        ...


class Parsed(list[Organisation]):
    """What a source's ``parse`` may return instead of a plain list: the organisations read,
    and ``problems``, one line for each part of the document that was skipped (reported, the
    rest imported)."""

    def __init__(self, orgs: Sequence[Organisation] = (), problems: Sequence[str] = ()) -> None:
        super().__init__(orgs)
        self.problems = list(problems)


def parse_problems(parsed: Sequence[Organisation]) -> list[str]:
    """The problems a source reported with its organisations (none for a plain list)."""
    return list(parsed.problems) if isinstance(parsed, Parsed) else []


def slug(text: str) -> str:
    """ASCII id part from a name: ``Überackern`` -> ``uberackern``, ``'s-Hertogenbosch`` ->
    ``s-hertogenbosch``."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", plain.lower()).strip("-")


def load_sources() -> dict[str, Source]:
    """Every registered source by name."""
    out: dict[str, Source] = {}
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        source: Source = ep.load()
        out[ep.name] = source
    return out
