"""The web cache of finished scans' results: concurrent misses of one key compute it once
(under load, 50 clients missing a cold aggregate each computed it, exhausting the store's
connection pool), a failed computation lets the next caller try, and the start-up warm-up
fills the aggregates the first pages need."""

from __future__ import annotations

import re
import threading
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.support.webstore import Store, auth

from sovmap import i18n
from sovmap.store.snapshots import ScanInfo
from sovmap.web.service import Cache, warm

SCAN = ScanInfo(1, "2026-01-01T00:00:00Z", "2026-01-01T01:00:00Z", "done", "done")


def test_concurrent_misses_compute_once() -> None:
    cache = Cache()
    calls: list[int] = []
    gate = threading.Event()

    def make() -> int:
        calls.append(1)
        gate.wait(5)
        return 42

    results: list[int] = []
    threads = [
        threading.Thread(target=lambda: results.append(cache.get(("k",), SCAN, make)))
        for _ in range(20)
    ]
    for t in threads:
        t.start()
    time.sleep(0.2)
    gate.set()
    for t in threads:
        t.join(10)
    assert results == [42] * 20 and len(calls) == 1


def test_a_failed_computation_is_not_kept() -> None:
    cache = Cache()

    def boom() -> int:
        raise RuntimeError("store gone")

    with pytest.raises(RuntimeError):
        cache.get(("k",), SCAN, boom)
    assert cache.get(("k",), SCAN, lambda: 7) == 7


def test_warm_fills_the_first_pages_aggregates(store: Store) -> None:
    cache = Cache()
    warm(store.engine, cache)
    keys = {k[0] for k in cache._data}
    assert {"figures", "overview", "trends", "group-trends", "changes"} <= keys


def test_the_overview_body_is_kept_per_scan_language_and_order(
    client: TestClient, store: Store
) -> None:
    """The overview's figures, charts and tables are rendered once per scan revision and
    language in the default order; another order is rendered for its request."""
    h = {**auth(store, "viewer"), "Accept": "text/html"}

    def counts(r: Any) -> list[int]:
        table = r.text.split('id="table-providers"')[1].split("</table>")[0]
        found = re.findall(r'<td class="num"><a href="[^"]+">([0-9.,]+)</a>', table)
        return [int(n.replace(",", "").replace(".", "")) for n in found]

    first = client.get("/", headers=h)
    assert first.status_code == 200
    assert client.get("/", headers=h).text == first.text
    up = client.get("/?sort=providers.domains&dir=asc", headers=h)
    down = client.get("/?sort=providers.domains&dir=desc", headers=h)
    assert len(counts(up)) > 2 and counts(up) == sorted(counts(first))
    assert counts(down) == sorted(counts(first), reverse=True) != counts(up)
    # the kept body of the English page is not the Dutch one
    nl = client.get("/", headers={**h, "Accept-Language": "nl"})
    body = nl.text.split('<div class="cards">')[1]
    words = {lang: i18n.t(lang, "WEB_BY_PROVIDER") for lang in ("nl", "en")}
    assert words["nl"] != words["en"] and words["nl"] in body and words["en"] not in body
    assert words["en"] in first.text.split('<div class="cards">')[1]
    assert client.get("/", headers=h).text == first.text
