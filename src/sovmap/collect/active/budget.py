"""Politeness for the active probes: one request at a time per host, a minimum interval
between two requests to one host, and a budget of requests for the whole scan."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class BudgetSpent(Exception):
    """The scan's request budget is used up: the request is not made."""


class Politeness:
    """Gate every request through :meth:`turn`. ``clock`` and ``sleep`` are the real ones
    unless a test gives its own."""

    def __init__(
        self,
        min_interval: float,
        budget: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.min_interval = min_interval
        self.budget = budget
        self.clock, self.sleep = clock, sleep
        self.used = 0
        self.refused = 0
        self._last: dict[str, float] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    @contextmanager
    def turn(self, host: str) -> Iterator[None]:
        """Wait for ``host``'s turn (no other request to it in flight, ``min_interval``
        since the last one started), count it against the budget, then run the request."""
        host = host.lower()
        with self._guard:
            if self.used >= self.budget:
                self.refused += 1
                raise BudgetSpent(host)
            self.used += 1
            lock = self._locks.setdefault(host, threading.Lock())
        with lock:
            last = self._last.get(host)
            if last is not None:
                wait = last + self.min_interval - self.clock()
                if wait > 0:
                    self.sleep(wait)
            self._last[host] = self.clock()
            yield
