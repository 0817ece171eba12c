"""The web app's read model: cached store queries (finished scans never change)."""

from __future__ import annotations

import gc
import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from fastapi import HTTPException, Request
from sqlalchemy import Connection, Engine, and_, select

from sovmap import figures
from sovmap.alerts.events import kept_changes
from sovmap.errors import SovmapError
from sovmap.orgs import service as orgs_service
from sovmap.orgs.domains import InvalidDomain, normalise_domain
from sovmap.orgs.service import DiffResult
from sovmap.report import orgs as oq
from sovmap.store import queries as q
from sovmap.store import snapshots as scan_rules
from sovmap.store.schema import scan_domains
from sovmap.store.snapshots import ScanInfo

T = TypeVar("T")

_LAT_KEYS = ("lat", "latitude")
_LON_KEYS = ("lon", "lng", "longitude")


@dataclass(frozen=True, slots=True)
class Located:
    domain: str
    name: str
    lat: float
    lon: float
    mailbox_us: bool


class Cache:
    """A small LRU of results that depend only on a finished scan."""

    def __init__(self, size: int = 64) -> None:
        #: domain counts of finished scans, by (id, finished_at)
        self.counts: dict[tuple[int, str | None], int] = {}
        self._data: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()
        #: one lock per result being computed: concurrent misses wait for one computation
        self._flights: dict[tuple[Any, ...], threading.Lock] = {}

    def _hit(self, full: tuple[Any, ...]) -> tuple[bool, Any]:
        with self._lock:
            if full in self._data:
                self._data.move_to_end(full)
                return True, self._data[full]
            return False, None

    def get(self, key: tuple[Any, ...], scan: ScanInfo, make: Callable[[], T]) -> T:
        if not scan.finished:
            return make()
        full = (*key, *scan.revision)  # a reclassify of the scan makes a new key
        found, hit = self._hit(full)
        if found:
            return cast(T, hit)
        with self._lock:
            flight = self._flights.setdefault(full, threading.Lock())
        with flight:  # the first miss computes; the others wait for its result
            found, hit = self._hit(full)
            if found:
                return cast(T, hit)
            try:
                value = make()
            finally:
                with self._lock:
                    self._flights.pop(full, None)
            with self._lock:
                self._data[full] = value
                while len(self._data) > self._size:
                    self._data.popitem(last=False)
        return value


COUNTS_KEY = "sovmap.scan_counts"


def known_counts(conn: Connection) -> dict[tuple[int, str | None], int] | None:
    """The app's cache of finished scans' domain counts, attached by the connection dependency."""
    known: dict[tuple[int, str | None], int] | None = conn.info.get(COUNTS_KEY)
    return known


def scans(conn: Connection) -> list[ScanInfo]:
    return scan_rules.list_scans(conn, known_counts(conn))


def latest(conn: Connection) -> ScanInfo | None:
    return q.latest_scan(conn, known_counts(conn))


def trends(conn: Connection, cache: Cache) -> list[q.TrendPoint]:
    all_scans = scans(conn)
    done = [s for s in all_scans if s.finished]
    if not done:
        return q.trends(conn, figures.us_share_by_scan, known_counts(conn))
    # every scan's revision and status: a scan that finishes, is reclassified or is added
    # makes a new key (a running scan has no point, so it may run while the points are cached)
    key = ("trends", *((*s.revision, s.status) for s in all_scans))
    result: list[q.TrendPoint] = cache.get(
        key, done[-1], lambda: q.trends(conn, figures.us_share_by_scan, known_counts(conn))
    )
    return result


def scan_figures(request: Request, conn: Connection, scan: ScanInfo | None) -> figures.Figures:
    """The headline figures of ``scan`` with the register's when the app has one (loaded once
    for this request): what every page and ``/api/figures`` show."""
    register = None
    reg_dir = request.app.state.features.register_dir
    if reg_dir is not None:
        from sovmap.register.files import load_register_dir

        try:
            register = load_register_dir(reg_dir)
        except SovmapError:  # a register being edited may not load: its figures are unknown
            register = None
    if scan is None:
        return figures.compute(conn, None, register)
    scan_part: figures.Figures = request.app.state.cache.get(
        ("figures",), scan, lambda: figures.compute(conn, scan)
    )
    if register is None:
        return scan_part
    reg = figures.register_figures(register)
    keep = [f for f in scan_part if not f.id.startswith("register_")]
    return figures.Figures(scan, (*keep, *reg))


def domain_key(text: str) -> str:
    """A domain from a web path or API path, through the scan's one normaliser (a URL or an
    e-mail address finds its domain); 404 for text no scan would accept."""
    try:
        return normalise_domain(text[:2048])[0]
    except InvalidDomain:
        raise HTTPException(404, "not a domain name") from None


def search_prefix(text: str) -> str:
    """A search prefix: a full URL or e-mail address is reduced to its domain by the one
    normaliser; a partial name is kept as typed (lower case)."""
    if any(c in text for c in "/@:"):
        try:
            return normalise_domain(text)[0]
        except InvalidDomain:
            return text.strip().lower()
    return text.strip().lower()


def pick_scan(conn: Connection, scan_id: int | None) -> ScanInfo:
    known = known_counts(conn)
    if scan_id is not None:
        scan = scan_rules.scan_info(conn, scan_id, known)
    else:
        scan = scan_rules.latest_finished(conn, known)
    if scan is None:
        raise HTTPException(404, "no such scan" if scan_id is not None else "no scan yet")
    return scan


def _coord(attrs: dict[str, Any], keys: tuple[str, ...]) -> float | None:
    for k in keys:
        if k in attrs:
            try:
                return float(attrs[k])
            except (TypeError, ValueError):
                return None
    return None


def locations(conn: Connection, scan: ScanInfo) -> list[Located]:
    """Domains whose scan input carried coordinates (``lat``/``lon`` columns)."""
    rows = conn.execute(
        select(scan_domains.c.domain, scan_domains.c.attributes).where(
            and_(
                scan_domains.c.scan_id == scan.id,
                scan_domains.c.attributes.contains('"la'),
            )
        )
    ).all()
    us_mail = figures.capability_domains(conn, scan.id, "mailbox")  # mailbox_us_domains
    out = []
    for domain, raw in rows:
        attrs = json.loads(raw or "{}")
        lat, lon = _coord(attrs, _LAT_KEYS), _coord(attrs, _LON_KEYS)
        if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
            continue
        name = str(attrs.get("name") or attrs.get("organisation") or domain)
        out.append(Located(domain, name, lat, lon, domain in us_mail))
    return out


def group_trends(conn: Connection, cache: Cache) -> list[oq.GroupTrend]:
    all_scans = scans(conn)
    done = [s for s in all_scans if s.finished]
    if not done:
        return oq.group_trends(conn)
    key = (
        "group-trends",
        tuple(q.current_sets(conn)),
        *((*s.revision, s.status) for s in all_scans),
    )
    result: list[oq.GroupTrend] = cache.get(key, done[-1], lambda: oq.group_trends(conn))
    return result


def changes(conn: Connection, cache: Cache, engine: Engine) -> DiffResult | None:
    """Change events between the two latest finished scans (``sovmap diff``), or None."""
    done = [s for s in scans(conn) if s.finished]
    if len(done) < 2:
        return None
    key = ("changes", tuple(q.current_sets(conn)), done[-2].id)
    # kept by the scan when it finished (sovmap.alerts.events); computed here only when not
    result: DiffResult = cache.get(
        key,
        done[-1],
        lambda: (
            kept_changes(conn, done[-2], done[-1])
            or orgs_service.diff(engine, done[-2].id, done[-1].id)
        ),
    )
    return result


def warm(engine: Engine, cache: Cache) -> None:
    """Compute what the first requests after start would otherwise wait for: the latest
    finished scan's figures and overview, trends, change events, and the knowledge and exit
    catalogues. ``sovmap serve`` runs it in each worker as it starts (in a thread)."""
    from sovmap.exitplan.catalogue import default_alternatives, default_templates
    from sovmap.knowledge import default_catalogue

    default_catalogue()
    default_templates()
    default_alternatives()
    with engine.connect() as conn:
        conn.info[COUNTS_KEY] = cache.counts
        s = latest(conn)
        if s is None:
            return
        figs: figures.Figures = cache.get(("figures",), s, lambda: figures.compute(conn, s))
        cache.get(("overview",), s, lambda: q.overview(conn, s, figures.us_by_capability(figs)))
        trends(conn, cache)
        group_trends(conn, cache)
        changes(conn, cache, engine)
        from sovmap.web.map_pages import warm as warm_map  # the map's places and default layer

        warm_map(conn, cache, s, figs)
    # what is cached now lives as long as the process: keep it out of the collector's full
    # passes, which over ~1.8 million objects (100,000 organisations) stopped every request
    # for about 2 s each time they ran
    gc.freeze()
