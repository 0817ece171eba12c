"""The web cache of finished scans' results: concurrent misses of one key compute it once
(under load, 50 clients missing a cold aggregate each computed it, exhausting the store's
connection pool), a failed computation lets the next caller try, and the start-up warm-up
fills the aggregates the first pages need."""

from __future__ import annotations

import threading
import time

import pytest
from tests.support.webstore import Store

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
