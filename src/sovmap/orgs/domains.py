"""From websites and e-mail addresses to registrable domains, with the Public Suffix List.

The list (MPL-2.0, https://publicsuffix.org) comes bundled with the ``publicsuffixlist``
package, so mapping works offline; ``sovmap orgs refresh-psl`` downloads a newer copy into the
cache, which the CLI then prefers. The parser and matcher here are sovmap's own, so the
reasons a value is rejected carry stable codes. Everything but :func:`load_psl` is pure.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib.resources import files
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from publicsuffixlist import PublicSuffixList as _BundledPSL

from sovmap.readers import Text, localise

PSL_RESOURCE = "public_suffix_list.dat"

#: Stable codes for values that cannot be turned into a registrable domain.
EMPTY = "EMPTY"
NOT_A_HOSTNAME = "NOT_A_HOSTNAME"
IP_ADDRESS = "IP_ADDRESS"
PUBLIC_SUFFIX = "PUBLIC_SUFFIX"
BAD_EMAIL = "BAD_EMAIL"
BAD_IDN = "BAD_IDN"
UNKNOWN_TLD = "UNKNOWN_TLD"

#: Special-use names (RFC 6761, 6762, 7686, 8375, 9476) that public DNS never answers: refused
#: before a question is asked. ``test`` and ``example`` stay accepted: reserved for testing and
#: documentation, they are what local test zones (and sovmap's synthetic worlds) use.
SPECIAL_USE = ("onion", "local", "localhost", "invalid", "alt", "home.arpa")
_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*):(?!\d)")
_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")


class DomainError(ValueError):
    """A value that yields no registrable domain; ``code`` is stable, ``detail`` is prose
    (English; ``text`` the catalogue message it came from, for other languages)."""

    def __init__(self, code: str, value: str, key: str, **params: object) -> None:
        self.text = Text(key, tuple(params.items()))
        detail = localise("en", key, self.text.params)
        super().__init__(f"{code}: {value!r}: {detail}")
        self.code = code
        self.value = value
        self.detail = detail

    def __reduce__(self) -> tuple[Any, ...]:  # whole across processes
        return (_rebuild, (type(self), (self.code, self.value, self.text.key), self.text.params))


def _to_ascii_label(label: str) -> str:
    if label.isascii():
        return label.lower()
    try:
        import idna  # IDNA 2008 with UTS 46 mapping, when installed

        return str(idna.encode(label, uts46=True).decode("ascii"))
    except ImportError:  # pragma: no cover - depends on the environment
        return label.encode("idna").decode("ascii").lower()


def to_ascii(host: str) -> str:
    """Lower-case A-label form of a host name (IDN -> punycode); raises DomainError."""
    if host.isascii():
        return host.lower()  # what every label's conversion gives, in one step
    out = []
    for label in host.split("."):
        try:
            out.append(_to_ascii_label(label))
        except (UnicodeError, ValueError) as exc:
            raise DomainError(BAD_IDN, host, "INPUT_DOMAIN_BAD_IDN", reason=str(exc)) from exc
    return ".".join(out)


@dataclass(frozen=True, slots=True)
class PublicSuffixList:
    """The rules of the Public Suffix List, in A-label form."""

    rules: frozenset[str]
    wildcards: frozenset[str]  # "ck" for the rule "*.ck"
    exceptions: frozenset[str]  # "www.ck" for the rule "!www.ck"
    version: str = ""
    delegations: frozenset[str] = frozenset()  # zones that delegate one label per body

    def with_delegations(self, zones: frozenset[str]) -> PublicSuffixList:
        return PublicSuffixList(
            self.rules, self.wildcards, self.exceptions, self.version, self.delegations | zones
        )

    @classmethod
    def parse(cls, text: str) -> PublicSuffixList:
        rules: set[str] = set()
        wildcards: set[str] = set()
        exceptions: set[str] = set()
        version = ""
        for raw in text.splitlines():
            line = raw.strip()
            if line.startswith("// VERSION:"):
                version = line.split(":", 1)[1].strip()
            if not line or line.startswith("//"):
                continue
            rule = line.split()[0]
            if rule.startswith("!"):
                exceptions.add(to_ascii(rule[1:]))
            elif rule.startswith("*."):
                wildcards.add(to_ascii(rule[2:]))
            else:
                rules.add(to_ascii(rule))
        if not rules:
            raise ValueError("no rules found: not a Public Suffix List file")
        return cls(frozenset(rules), frozenset(wildcards), frozenset(exceptions), version)

    def public_suffix(self, host: str) -> tuple[str, bool]:
        """The public suffix of an A-label host, and whether a rule (not the default) matched."""
        labels = host.split(".")
        for i in range(len(labels)):
            candidate = ".".join(labels[i:])
            if candidate in self.exceptions:
                return ".".join(labels[i + 1 :]), True
            if candidate in self.rules:
                return candidate, True
            if i + 1 < len(labels) and ".".join(labels[i + 1 :]) in self.wildcards:
                return candidate, True
        return labels[-1], False

    def registrable_domain(self, host: str) -> str:
        """The registrable domain ("eTLD+1") of an A-label host; raises DomainError.

        Below a delegation zone, the label under the zone names the body's own domain."""
        labels = host.split(".")
        for i in range(1, len(labels)):
            if ".".join(labels[i:]) in self.delegations:
                # "www" under the zone is the zone's own website, not a body
                return ".".join(labels[i:] if labels[i - 1] == "www" else labels[i - 1 :])
        suffix, known = self.public_suffix(host)
        if not known:
            raise DomainError(UNKNOWN_TLD, host, "INPUT_DOMAIN_UNKNOWN_TLD", suffix=repr(suffix))
        if host == suffix:
            raise DomainError(PUBLIC_SUFFIX, host, "INPUT_DOMAIN_PUBLIC_SUFFIX_OWNED")
        keep = suffix.count(".") + 2
        return ".".join(host.split(".")[-keep:])


def delegation_zones() -> frozenset[str]:
    """The zones of ``data/delegations.yaml``."""
    import yaml

    raw = yaml.safe_load(
        files("sovmap.orgs.data").joinpath("delegations.yaml").read_text(encoding="utf-8")
    )
    return frozenset(to_ascii(str(z["zone"])) for z in raw["zones"])


@lru_cache(maxsize=4)
def load_psl(path: Path | None = None) -> PublicSuffixList:
    """The list bundled with the ``publicsuffixlist`` package, or the file at ``path``,
    with sovmap's delegation zones."""
    if path is None:
        text = files("publicsuffixlist").joinpath(PSL_RESOURCE).read_text(encoding="utf-8")
    else:
        text = path.read_text(encoding="utf-8")
    return PublicSuffixList.parse(text).with_delegations(delegation_zones())


def _check_a_label(label: str, value: str) -> None:
    """An ``xn--`` label must decode to a valid internationalised label (``xn--a`` does not)."""
    try:
        import idna

        idna.decode(label)
    except ImportError:  # pragma: no cover - depends on the environment
        try:
            label.encode("ascii").decode("idna")
        except UnicodeError as exc:
            raise DomainError(
                BAD_IDN, value, "INPUT_DOMAIN_BAD_A_LABEL", label=label, reason=str(exc)
            ) from exc
    except (idna.IDNAError, UnicodeError) as exc:
        raise DomainError(
            BAD_IDN, value, "INPUT_DOMAIN_BAD_A_LABEL", label=label, reason=str(exc)
        ) from exc


def normalise_host(value: str) -> str:
    """A bare host name from user input: lower case, A-labels, no trailing dot."""
    host = value.strip().rstrip(".").lower()
    if not host:
        raise DomainError(EMPTY, value, "INPUT_DOMAIN_EMPTY")
    bare = host.strip("[]")
    # only a text with a colon (IPv6) or ending in a digit (IPv4) can be an address: the
    # parser is not asked (and made to raise) for every host name
    if ":" in bare or bare[-1:].isdigit():
        try:
            ipaddress.ip_address(bare)
        except ValueError:
            pass
        else:
            raise DomainError(IP_ADDRESS, value, "INPUT_DOMAIN_IP_ADDRESS")
    host = to_ascii(host)
    labels = host.split(".")
    if not all(_LABEL.match(label) for label in labels):
        raise DomainError(NOT_A_HOSTNAME, value, "INPUT_DOMAIN_NOT_A_HOST")
    for label in labels:
        if label.startswith("xn--"):
            _check_a_label(label, value)
    if len(host) > 253:
        raise DomainError(NOT_A_HOSTNAME, value, "INPUT_DOMAIN_TOO_LONG")
    return host


def host_from_website(value: str) -> str:
    """The host of a website value: a URL, or a bare host with or without a path or port."""
    text = value.strip()
    if not text:
        raise DomainError(EMPTY, value, "INPUT_DOMAIN_EMPTY")
    scheme = _SCHEME.match(text)
    if scheme and "://" not in text and scheme.group(1).lower() not in ("http", "https"):
        raise DomainError(
            NOT_A_HOSTNAME, value, "INPUT_DOMAIN_SCHEME", scheme=repr(scheme.group(1))
        )
    if "://" not in text and not text.startswith("//"):
        text = "//" + text
    try:
        parts = urlsplit(text)
        host = parts.hostname or ""
    except ValueError as exc:
        raise DomainError(NOT_A_HOSTNAME, value, "INPUT_DOMAIN_NOT_A_URL", reason=str(exc)) from exc
    if parts.scheme and parts.scheme not in ("http", "https", "ftp"):
        raise DomainError(NOT_A_HOSTNAME, value, "INPUT_DOMAIN_SCHEME", scheme=repr(parts.scheme))
    if not host:
        raise DomainError(NOT_A_HOSTNAME, value, "INPUT_DOMAIN_NO_HOST")
    return normalise_host(unquote(host))


def host_from_email(value: str) -> str:
    """The domain part of an e-mail address (``mailto:``, ``Name <a@b>`` forms accepted)."""
    text = value.strip()
    if text.lower().startswith("mailto:"):
        text = text[7:].split("?", 1)[0]
    if "<" in text and text.endswith(">"):
        text = text[text.rindex("<") + 1 : -1]
    text = unquote(text).strip()
    if not text:
        raise DomainError(EMPTY, value, "INPUT_DOMAIN_EMPTY")
    local, at, domain = text.rpartition("@")
    if not at or not local or not domain or " " in text:
        raise DomainError(BAD_EMAIL, value, "INPUT_DOMAIN_NOT_AN_EMAIL")
    return normalise_host(domain)


def registrable(value: str, kind: str, psl: PublicSuffixList | None = None) -> str:
    """The domain to scan for a ``website``, ``email`` or ``domain`` value.

    Websites and e-mail addresses give their registrable domain (``www.x.nl`` -> ``x.nl``).
    A value given *as a domain* is kept as given once it is known to lie at or below a
    registrable domain: a list that says ``st.johann.at`` means that zone, not ``johann.at``.
    """
    psl = psl or load_psl()
    if kind == "email":
        return psl.registrable_domain(host_from_email(value))
    if kind == "website" or "/" in value:
        return psl.registrable_domain(host_from_website(value))
    host = normalise_host(value)
    psl.registrable_domain(host)  # raises for public suffixes and unknown TLDs
    return host


@cache
def _scan_psl() -> _BundledPSL:
    return _BundledPSL()


class InvalidDomain(ValueError):
    """A value that is no domain to scan: ``code`` is stable, ``str()`` the English message,
    ``text`` the catalogue message it came from (:func:`sovmap.readers.localise`)."""

    def __init__(self, code: str, key: str, **params: object) -> None:
        self.text = Text(key, tuple(params.items()))
        super().__init__(localise("en", key, self.text.params))
        self.code = code

    def __reduce__(self) -> tuple[Any, ...]:  # whole across processes
        return (_rebuild, (type(self), (self.code, self.text.key), self.text.params))


class Note(str):
    """A note of :func:`normalise_domain` (English text) with its catalogue message."""

    text: Text

    def __new__(cls, key: str, **params: object) -> Note:
        text = Text(key, tuple(params.items()))
        note = super().__new__(cls, localise("en", key, text.params))
        note.text = text
        return note

    def __reduce__(self) -> tuple[Any, ...]:  # whole across processes
        return (_rebuild, (type(self), (self.text.key,), self.text.params))


def _rebuild(cls: Any, args: tuple[Any, ...], params: tuple[tuple[str, Any], ...]) -> Any:
    """Unpickle a DomainError, InvalidDomain or Note from its key and parameters."""
    return cls(*args, **dict(params))


def normalise_domain(text: str) -> tuple[str, list[str]]:
    """The one domain normaliser of every entry point (scan input, ``explain``, the web's
    search and paths, the API): a domain, URL, e-mail address or IDN becomes a lower-case
    ASCII domain name; a leading ``www.`` is dropped, a public suffix is refused, and every
    change is reported as a note. Returns the domain and the notes. Raises
    :class:`InvalidDomain`.
    """
    notes: list[str] = []
    raw = text.strip().strip('"').strip()
    try:
        if "://" in raw:  # a URL, perhaps with user:password@ before its host
            host = host_from_website(raw)
            notes.append(Note("INPUT_NOTE_URL"))
        elif "@" in raw or raw.lower().startswith("mailto:"):
            host = host_from_email(raw)
            notes.append(Note("INPUT_NOTE_EMAIL"))
        elif "/" in raw or ":" in raw.rstrip("."):
            host = host_from_website(raw)
            notes.append(Note("INPUT_NOTE_URL"))
        else:
            host = normalise_host(raw)
    except DomainError as exc:
        code = "EMPTY" if exc.code == EMPTY else "INVALID"
        raise InvalidDomain(
            code, "INPUT_DOMAIN_DETAIL", detail=exc.text, value=repr(text.strip())
        ) from exc
    if not raw.isascii():
        notes.append(Note("INPUT_NOTE_IDN", host=host))
    if host.startswith("www.") and host.count(".") >= 2:
        host = host[4:]
        notes.append(Note("INPUT_NOTE_WWW"))
    labels = host.split(".")
    special = next((s for s in SPECIAL_USE if host == s or host.endswith("." + s)), None)
    if special is not None:
        raise InvalidDomain("SPECIAL_USE", "INPUT_DOMAIN_SPECIAL_USE", host=host, special=special)
    if len(labels) < 2 and _scan_psl().publicsuffix(host, accept_unknown=False) is None:
        raise InvalidDomain("INVALID", "INPUT_DOMAIN_NO_TLD", host=host)
    if _scan_psl().is_public(host):
        raise InvalidDomain("PUBLIC_SUFFIX", "INPUT_DOMAIN_PUBLIC_SUFFIX", host=host)
    if len(labels) < 2:
        raise InvalidDomain("INVALID", "INPUT_DOMAIN_INVALID", value=repr(text.strip()))
    return host, notes
