"""Mail-domain discovery (opt-in, ``sovmap orgs discover``): the domains of the e-mail
addresses an organisation publishes on its own website.

An organisation whose mail lives on another domain than its website (``gemeente-x.nl`` on the
web, ``x.nl`` for mail) is otherwise scanned on the wrong one. Politely, per organisation: the
site's ``robots.txt`` is obeyed, at most the home page and one contact page are read, each
request to a host waits ``interval`` seconds after the previous one, every request has a
timeout, and a page larger than ``max_bytes`` (by its ``Content-Length``, or while reading)
or not HTML is not read. Addresses come from ``mailto:`` links, plain addresses in the text
and the common obfuscations (``info [at] x.nl``, ``info(at)x(dot)nl``); their domains are
normalised with :func:`sovmap.orgs.domains.normalise_domain`. The network is a small seam
(:class:`PoliteFetcher`), so tests serve fake municipal pages on loopback.
"""

from __future__ import annotations

import re
import time
import urllib.error
import urllib.request
import urllib.robotparser
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from html import unescape
from html.parser import HTMLParser
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

from sovmap.orgs.domains import InvalidDomain, normalise_domain
from sovmap.orgs.model import Derivation, Mapping, Organisation, OrgDomain

USER_AGENT = "sovmap-discover"
MAX_BYTES = 1 << 20  # a page larger than this is not read
MAX_PAGES = 2  # per organisation: the home page and one contact page
CONTACT_WORDS = re.compile(
    r"contact|kontakt|contacto|contatti|yhteystiedot|kontakta|klantcontact", re.IGNORECASE
)
_ADDRESS = re.compile(
    r"(?<![\w.+-])([a-z0-9][a-z0-9._%+-]{0,63})@((?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+"
    r"[a-z]{2,63})(?![\w-])",
    re.IGNORECASE,
)
_AT = re.compile(r"\s*[\[\(\{]\s*(?:at|@|apenstaartje)\s*[\]\)\}]\s*", re.IGNORECASE)
_DOT = re.compile(r"\s*[\[\(\{]\s*(?:dot|punt|point)\s*[\]\)\}]\s*", re.IGNORECASE)


class PageRefused(Exception):
    """A page that was not read; ``code`` is a DISCOVER_* message code."""

    def __init__(self, code: str, **params: Any) -> None:
        super().__init__(code)
        self.code = code
        self.params = params


@dataclass(frozen=True, slots=True)
class Page:
    url: str  # after redirects
    html: str


Fetch = Callable[[str], tuple[int, dict[str, str], Callable[[int], bytes]]]


def _urllib_fetch(timeout: float) -> Fetch:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def fetch(url: str) -> tuple[int, dict[str, str], Callable[[int], bytes]]:
        request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
        try:
            response = opener.open(request, timeout=timeout)
        except urllib.error.HTTPError as exc:
            exc.close()
            return exc.code, {}, lambda n: b""
        headers = {k.lower(): v for k, v in response.headers.items()}
        headers["x-final-url"] = response.geturl()

        def read(n: int) -> bytes:
            with response:
                data: bytes = response.read(n)
            return data

        return int(response.status), headers, read

    return fetch


class PoliteFetcher:
    """HTML pages over HTTP(S): robots.txt obeyed, a pause per host, a timeout per request,
    the size limit checked before the body is read."""

    def __init__(
        self,
        *,
        interval: float = 1.0,
        timeout: float = 10.0,
        max_bytes: int = MAX_BYTES,
        fetch: Fetch | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.interval = interval
        self.max_bytes = max_bytes
        self._fetch = fetch or _urllib_fetch(timeout)
        self._clock = clock
        self._sleep = sleep
        self._last: dict[str, float] = {}
        self._robots: dict[str, urllib.robotparser.RobotFileParser | None] = {}
        self.requests = 0

    def _wait(self, host: str) -> None:
        last = self._last.get(host)
        if last is not None:
            pause = self.interval - (self._clock() - last)
            if pause > 0:
                self._sleep(pause)
        self._last[host] = self._clock()

    def _get(self, url: str) -> tuple[int, dict[str, str], Callable[[int], bytes]]:
        self._wait(urlsplit(url).netloc.lower())
        self.requests += 1
        return self._fetch(url)

    def allowed(self, url: str) -> bool:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}".lower()
        if origin not in self._robots:
            rules: urllib.robotparser.RobotFileParser | None = None
            try:
                status, _, read = self._get(origin + "/robots.txt")
                if status == 200:
                    rules = urllib.robotparser.RobotFileParser()
                    text = read(self.max_bytes).decode("utf-8", "replace")
                    rules.parse(text.splitlines())
                else:
                    read(0)  # closes the response unread
                    if status in (401, 403):  # RFC 9309: rules unreachable, full disallow
                        rules = urllib.robotparser.RobotFileParser()
                        rules.parse(["User-agent: *", "Disallow: /"])
            except OSError:
                rules = None  # no robots.txt to be had: nothing is disallowed
            self._robots[origin] = rules
        rules = self._robots[origin]
        return rules is None or rules.can_fetch(USER_AGENT, url)

    def page(self, url: str) -> Page:
        if not self.allowed(url):
            raise PageRefused("DISCOVER_ROBOTS")
        try:
            status, headers, read = self._get(url)
        except OSError as exc:
            reason = getattr(exc, "reason", None) or exc
            raise PageRefused("DISCOVER_NETWORK", error=str(reason)[:80]) from exc
        refused: PageRefused | None = None
        kind = headers.get("content-type", "").split(";")[0].strip().lower()
        length = headers.get("content-length", "")
        if status != 200:
            refused = PageRefused("DISCOVER_HTTP", status=status)
        elif kind not in ("text/html", "application/xhtml+xml", ""):
            refused = PageRefused("DISCOVER_NOT_HTML", kind=kind[:40])
        elif length.isdigit() and int(length) > self.max_bytes:
            refused = PageRefused("DISCOVER_TOO_LARGE", limit=self.max_bytes)
        if refused is not None:
            read(0)  # closes the response without reading the body
            raise refused
        try:
            body = read(self.max_bytes + 1)
        except OSError as exc:
            raise PageRefused("DISCOVER_NETWORK", error=str(exc)[:80]) from exc
        if len(body) > self.max_bytes:
            raise PageRefused("DISCOVER_TOO_LARGE", limit=self.max_bytes)
        charset = "utf-8"
        m = re.search(r"charset=([\w-]+)", headers.get("content-type", ""))
        if m:
            charset = m.group(1)
        try:
            text = body.decode(charset, "replace")
        except LookupError:
            text = body.decode("utf-8", "replace")
        return Page(headers.get("x-final-url", url), text)


# --------------------------------------------------------------------------- extraction


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[tuple[str, str]] = []  # (href, link text)
        self.text: list[str] = []
        self._href: str | None = None
        self._label: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        if tag == "a":
            self._href = dict(attrs).get("href") or ""
            self._label = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skip:
            self._skip -= 1
        if tag == "a" and self._href is not None:
            self.links.append((self._href, " ".join(self._label).strip()))
            self._href = None

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        self.text.append(data)
        if self._href is not None:
            self._label.append(data)


def _deobfuscate(text: str) -> str:
    return _DOT.sub(".", _AT.sub("@", text))


def addresses_in(html: str) -> list[str]:
    """E-mail addresses a page publishes: ``mailto:`` links, plain and obfuscated text."""
    reader = _Reader()
    reader.feed(html)
    reader.close()
    found: list[str] = []
    for href, _ in reader.links:
        if href.strip().lower().startswith("mailto:"):
            target = unquote(href.strip()[7:].split("?", 1)[0])
            found += [a.strip() for a in target.split(",") if a.strip()]
    text = _deobfuscate(unescape(" ".join(reader.text)))
    found += [f"{m.group(1)}@{m.group(2)}" for m in _ADDRESS.finditer(text)]
    out: list[str] = []
    for a in found:
        a = a.lower()
        if a not in out and _ADDRESS.fullmatch(a):
            out.append(a)
    return out


def contact_link(html: str, base: str) -> str:
    """The first link on the page to a contact page on the same site, or ``""``."""
    reader = _Reader()
    reader.feed(html)
    reader.close()
    host = urlsplit(base).netloc.lower()
    for href, label in reader.links:
        if not href or href.lower().startswith(("mailto:", "tel:", "javascript:", "#")):
            continue
        url = urljoin(base, href)
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or parts.netloc.lower() != host:
            continue
        if CONTACT_WORDS.search(parts.path) or CONTACT_WORDS.search(label):
            return url.split("#", 1)[0]
    return ""


# --------------------------------------------------------------------------- discovery


@dataclass(frozen=True, slots=True)
class Found:
    org_id: str
    address: str
    domain: str
    page: str


@dataclass(frozen=True, slots=True)
class Failure:
    org_id: str
    url: str
    code: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class Discovery:
    found: list[Found] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    pages: int = 0
    orgs: int = 0

    def domains(self) -> dict[str, list[Found]]:
        """Per organisation, one entry per distinct domain (first page that named it)."""
        out: dict[str, list[Found]] = {}
        for f in self.found:
            entries = out.setdefault(f.org_id, [])
            if all(e.domain != f.domain for e in entries):
                entries.append(f)
        return out


def _website_url(value: str) -> str:
    value = value.strip()
    return value if "://" in value else f"https://{value}"


def discover(orgs: Iterable[Organisation], fetcher: PoliteFetcher) -> Discovery:
    """Read each organisation's website (home page, then one contact page) for addresses."""
    result = Discovery()
    for org in orgs:
        if not org.websites:
            continue
        result.orgs += 1
        url = _website_url(org.websites[0])
        queue = [url]
        seen: set[str] = set()
        while queue and len(seen) < MAX_PAGES:
            current = queue.pop(0)
            if current in seen:
                continue
            seen.add(current)
            try:
                page = fetcher.page(current)
            except PageRefused as refused:
                result.failures.append(Failure(org.id, current, refused.code, refused.params))
                continue
            result.pages += 1
            for address in addresses_in(page.html):
                try:
                    domain, _ = normalise_domain(address)
                except InvalidDomain:
                    continue
                result.found.append(Found(org.id, address, domain, page.url))
            if current == url:
                link = contact_link(page.html, page.url)
                if link and link not in seen:
                    queue.append(link)
    return result


def new_domains(result: Discovery, known: Mapping) -> list[Found]:
    """The discovered (organisation, domain) pairs the mapping does not hold yet."""
    have = {(d.org_id, d.domain) for d in known.domains}
    return [
        f
        for entries in result.domains().values()
        for f in entries
        if (f.org_id, f.domain) not in have
    ]


def as_mapping(found: Sequence[Found]) -> Mapping:
    """Discovered domains as organisation domains derived from e-mail, the page as reason."""
    return Mapping(
        tuple(
            OrgDomain(f.org_id, f.domain, Derivation.EMAIL, f.address, f"published on {f.page}")
            for f in found
        ),
        (),
    )


# --------------------------------------------------------------------------- the store

DISCOVER_SOURCE = "discover"


@dataclass
class DiscoveryRun:
    result: Discovery
    new: list[Found]
    set_id: int = 0  # the stored set when applied


def run_discovery(
    db: str,
    fetcher: PoliteFetcher,
    *,
    group: str = "all",
    org_ids: Sequence[str] = (),
    apply: bool = False,
) -> DiscoveryRun:
    """Discover the current organisations' mail domains; with ``apply``, store the new ones
    as a ``discover`` set (the organisations with the addresses added to their e-mail
    addresses, each domain derived from e-mail with the page as its reason), which keeps the
    earlier discoveries of organisations not read this time."""
    from dataclasses import replace

    from sovmap.orgs.fetch import default_cache_dir
    from sovmap.orgs.history import in_group, refs_from_orgs
    from sovmap.orgs.mapping import map_organisations
    from sovmap.orgs.service import psl_for
    from sovmap.orgs.store import list_sets, load_mapping, load_orgs, open_store, save_org_set

    engine = open_store(db)
    orgs = load_orgs(engine)
    refs = refs_from_orgs(orgs)
    wanted = set(org_ids)
    chosen = [
        o
        for o in orgs
        if in_group(refs[o.id], group)
        and (not wanted or o.id in wanted or (o.abbreviation and o.abbreviation in wanted))
    ]
    if wanted and not chosen:
        from sovmap.orgs.sources import NotFound

        raise NotFound.of("ORGSRC_NO_SUCH_ORGANISATIONS", ids=", ".join(sorted(wanted)))
    result = discover(chosen, fetcher)
    new = new_domains(result, load_mapping(engine))
    run = DiscoveryRun(result, new)
    if not apply or not new:
        return run
    previous = [s.id for s in list_sets(engine) if s.source == DISCOVER_SOURCE][-1:]
    kept_orgs = {o.id: o for o in load_orgs(engine, previous)} if previous else {}
    kept_domains = list(load_mapping(engine, previous).domains) if previous else []
    by_id = {o.id: o for o in orgs}
    for f in new:
        base = kept_orgs.get(f.org_id, by_id[f.org_id])
        if f.address not in base.emails:
            base = replace(base, emails=(*base.emails, f.address))
        kept_orgs[f.org_id] = base
    evidence = as_mapping(new).domains
    keyed = {(d.org_id, d.domain): d for d in kept_domains}
    keyed.update({(d.org_id, d.domain): d for d in evidence})
    derived = map_organisations(list(kept_orgs.values()), [], psl_for(default_cache_dir()))
    for d in derived.domains:
        keyed.setdefault((d.org_id, d.domain), d)
    pages = sorted({f.page for f in new})
    run.set_id = save_org_set(
        engine,
        DISCOVER_SOURCE,
        list(kept_orgs.values()),
        Mapping(tuple(keyed.values()), ()),
        origin="\n".join(pages),
    )
    return run
