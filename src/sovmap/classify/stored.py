"""The mail security posture of a stored scan: the one door every surface (``sovmap
explain``, ``sovmap export --what posture``, the web domain page and ``/api/domains/{domain}``)
reads posture through. Posture is computed on read from each domain's stored observations
by :func:`sovmap.classify.posture.posture`; it lives here, beside the classifier, so the store
does not depend on the classifier (the store is below it)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, and_, bindparam, select

from sovmap.classify.posture import PostureFinding, posture
from sovmap.store import unpack_observations
from sovmap.store.schema import scan_domains

_COLUMNS = (scan_domains.c.domain, scan_domains.c.observations)
_ORDER = (scan_domains.c.position, scan_domains.c.domain)
_SCAN: Any = bindparam("scan")
#: the statements, built once (a domain page asks one domain per request)
_ONE = select(*_COLUMNS).where(
    and_(scan_domains.c.scan_id == _SCAN, scan_domains.c.domain == bindparam("domain"))
)
_ALL = select(*_COLUMNS).where(scan_domains.c.scan_id == _SCAN).order_by(*_ORDER)


def stored_posture(
    conn: Connection, scan_id: int, domain: str | None = None
) -> Iterator[tuple[str, list[PostureFinding]]]:
    """The posture of a stored scan's domains (one
    :class:`~sovmap.classify.posture.PostureFinding` per standard), in input order; with
    ``domain`` that domain only (nothing when it is not in the scan)."""
    if domain is not None:
        rows = conn.execute(_ONE, {"scan": scan_id, "domain": domain})
    else:
        rows = conn.execution_options(stream_results=True, yield_per=2000).execute(
            _ALL, {"scan": scan_id}
        )
    for name, blob in rows:
        yield name, posture(name, unpack_observations(blob))
