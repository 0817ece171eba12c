"""What DNS records say, read the same way by the scan (to follow them), the classifier (to
name providers) and the catalogue's gap report: CNAME chains in an answer, SPF terms
(RFC 7208), origin-AS and AS-name answers, the registrable domain of a host name."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache, lru_cache

from publicsuffixlist import PublicSuffixList

from sovmap.model import RR

_SPF_LOOKUP_MECHANISMS = frozenset({"include", "a", "mx", "ptr", "exists"})


@dataclass(frozen=True, slots=True)
class SpfTerm:
    qualifier: str  # + - ~ ?
    name: str  # include, a, mx, ptr, exists, ip4, ip6, all, redirect, exp, ...
    value: str  # domain-spec or address; "" when absent

    @property
    def counts_lookup(self) -> bool:
        return self.name in _SPF_LOOKUP_MECHANISMS or self.name == "redirect"


def is_spf(text: str) -> bool:
    t = text.strip().lower()
    return t == "v=spf1" or t.startswith("v=spf1 ")


@lru_cache(maxsize=4096)
def parse_spf(text: str) -> tuple[SpfTerm, ...]:
    """Split an SPF record into terms; never raises (unknown terms are kept as they are).
    Remembered: the same records (a provider's include, a common policy) recur across
    domains, and the scan parses each twice (to follow it, then to classify it)."""
    terms: list[SpfTerm] = []
    for raw in text.split()[1:]:
        qual = "+"
        if raw[0] in "+-~?":
            qual, raw = raw[0], raw[1:]
        if not raw:
            continue
        if "=" in raw and (":" not in raw or raw.index("=") < raw.index(":")):
            name, _, value = raw.partition("=")
            terms.append(SpfTerm(qual, name.lower(), value))
            continue
        name, _, value = raw.partition(":")
        name = name.lower()
        if "/" in name:  # a/24, mx/24
            name = name.split("/", 1)[0]
        if name in ("a", "mx") and "/" in value:
            value = value.split("/", 1)[0]
        terms.append(SpfTerm(qual, name, value))
    return tuple(terms)


def spf_targets(terms: tuple[SpfTerm, ...]) -> Iterator[str]:
    """Domains whose TXT records the SPF evaluation would fetch (include, redirect)."""
    for t in terms:
        if t.name in ("include", "redirect") and t.value and "%" not in t.value:
            yield t.value.lower().rstrip(".")


# a host name as DNS answers hold them, already in lower case: two labels at least (RFC 7208's
# domain-spec without macros; a name like this is what the scan may ask)
_HOST_NAME = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)(\.(?!-)[a-z0-9_-]{1,63}(?<!-))+$")


@dataclass(frozen=True, slots=True)
class SpfHostTerm:
    """An ``a``/``mx`` term of an SPF record and whether the scan follows it to its hosts'
    networks: ``skipped`` is "" when it does, else why not (``macro``: the name holds an RFC
    7208 macro; ``bad-name``: no host name; ``lookup-limit``: past the record's DNS-lookup
    budget; ``term-limit``: past the number of such terms followed)."""

    term: str  # as read: "a", "a:mail.example.at", "mx", "mx:example.at" (without a CIDR)
    mechanism: str  # "a" or "mx"
    host: str  # the name its lookup asks (the record's own domain for a bare term)
    skipped: str = ""


@lru_cache(maxsize=1024)
def spf_host_terms(
    text: str, domain: str, term_limit: int, lookup_limit: int
) -> tuple[SpfHostTerm, ...]:
    """The ``a``, ``a:<host>``, ``mx`` and ``mx:<host>`` terms of the SPF record ``text``
    published at ``domain``, in order: the first ``term_limit`` that are macro-free host names
    within the first ``lookup_limit`` DNS-lookup terms (RFC 7208 section 4.6.4, counted in
    the record's order) are followed, the others say why not. Read the same way by the scan
    (to ask) and the classifier (to name the networks asked), one right after the other: a
    small cache (the record and its owner make the key, so it is seldom shared by domains)."""
    out: list[SpfHostTerm] = []
    lookups = followed = 0
    for t in parse_spf(text):
        if t.counts_lookup:
            lookups += 1
        if t.name not in ("a", "mx"):
            continue
        term = f"{t.name}:{t.value}" if t.value else t.name
        host, skipped = (t.value or domain).lower().rstrip("."), ""
        if "%" in host:
            skipped = "macro"
        elif len(host) > 253 or not _HOST_NAME.match(host) or is_address(host):
            skipped = "bad-name"
        elif lookups > lookup_limit:
            skipped = "lookup-limit"
        elif followed >= term_limit:
            skipped = "term-limit"
        else:
            followed += 1
        out.append(SpfHostTerm(term[:300], t.name, host[:300], skipped))
    return tuple(out)


def chain_end(qname: str, answers: tuple[RR, ...]) -> tuple[str, tuple[str, ...]]:
    """Follow CNAMEs in an answer from ``qname``; return the last name and the chain."""
    for r in answers:
        if r.rtype == "CNAME":
            break
    else:
        return qname, ()
    cnames = {r.name: r.data for r in answers if r.rtype == "CNAME"}
    cur = qname
    chain: list[str] = []
    while cur in cnames and len(chain) < 16:
        cur = cnames[cur]
        chain.append(cur)
    return cur, tuple(chain)


def parse_asn_txt(text: str) -> int | None:
    """``"15169 | 8.8.8.0/24 | US | arin | 1992-12-01"`` -> 15169 (first AS of a set)."""
    head = text[:32].split("|", 1)[0].strip().split(" ")[0]
    # ASCII digits only ("²" and other Unicode digits are no AS number), 32 bits at most
    if not (head.isascii() and head.isdigit() and len(head) <= 10):
        return None
    asn = int(head)
    return asn if asn <= 0xFFFFFFFF else None


@cache
def _psl() -> PublicSuffixList:
    # ICANN section only: a provider's customer names (x.cloudfront.net, y.github.io) belong
    # to the provider, not to a registrant of their own
    return PublicSuffixList(only_icann=True)


@lru_cache(maxsize=16384)
def registrable(name: str) -> str:
    """The registrable domain of a host name: who operates it. An address literal is itself
    ("192.0.2.1" is not "2.1"). Remembered: the same provider hosts come back again and
    again."""
    if is_address(name):
        return name
    return _psl().privatesuffix(name) or name


def is_address(name: str) -> bool:
    """An IPv4 or IPv6 literal (a top-level domain never ends in a digit nor holds a colon)."""
    return bool(name) and (name[-1].isdigit() or ":" in name or name.startswith("["))


def parse_origin_txt(text: str) -> tuple[int, str] | None:
    """Team Cymru's origin answer ``"ASN | prefix | CC | RIR | date"`` -> (first AS, the
    prefix's two-letter country code, "" when absent or not a country code)."""
    asn = parse_asn_txt(text)
    if asn is None:
        return None
    parts = text.split("|")
    cc = parts[2].strip().upper() if len(parts) > 2 else ""
    return asn, cc if len(cc) == 2 and cc.isalpha() else ""


# an AS name longer than this is cut (the registries' AS names are under 100 characters; a
# hostile answer may hold a TXT record of many kilobytes)
AS_NAME_MAX = 128


def parse_as_name_txt(text: str) -> tuple[int, str, str] | None:
    """Team Cymru's AS-name answer ``"ASN | CC | RIR | allocated | NAME"`` (asked at
    ``AS<n>.asn.cymru.com``) -> (AS, the AS's two-letter country code or "", its name).

    The name is the registry's handle and description (``"GOOGLE, US"``), without the trailing
    country the interface appends; cut to :data:`AS_NAME_MAX` characters. Control characters
    are kept as they are (the store keeps what DNS said; printing escapes them)."""
    asn = parse_asn_txt(text[:32])
    if asn is None:
        return None
    parts = text[: 64 + AS_NAME_MAX * 2].split("|", 4)
    if len(parts) < 5:
        return None
    cc = parts[1].strip().upper()
    name = parts[4].strip()
    head, sep, tail = name.rpartition(",")
    if sep and tail.strip().upper() == cc and head.strip():
        name = head.strip()
    return asn, cc if len(cc) == 2 and cc.isalpha() else "", name[:AS_NAME_MAX]
