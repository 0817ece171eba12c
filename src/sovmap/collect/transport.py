"""The seam between the scanner and whatever answers its questions.

:class:`Transport` is what :class:`~sovmap.collect.scanner.Scanner` needs: queue questions,
let answers arrive (each through its query's callback), close. The UDP engine
(:class:`~sovmap.collect.engine.Engine`) is one; :class:`ReplayTransport` is another, which
answers from the observations a scan stored, so a stored scan can be run again through the
same probe plans and classifier without asking any DNS (``sovmap reclassify``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import Protocol

from sovmap.collect.engine import EngineStats, Query
from sovmap.model import RR, Observation, Status


class Transport(Protocol):
    """Questions in, answers out through ``query.answers_cb(query, status, answers)``."""

    stats: EngineStats

    def submit(self, query: Query) -> None:
        """Queue one question (its ``body`` is built here when empty)."""

    def submit_prepared(self, queries: list[Query]) -> None:
        """Queue questions whose ``body`` the caller built with :meth:`question_tail`."""

    def question_tail(self, qtype_code: int) -> bytes:
        """What follows the name in a question as this transport sends it."""

    def poll(self, wait: float = 0.05) -> None:
        """Move questions on and deliver the answers that came, waiting at most ``wait`` s."""

    def close(self) -> None:
        """Release what the transport holds (sockets)."""


_Outcome = tuple[Status, tuple[RR, ...]]


class ReplayTransport:
    """Answers from stored observations, one domain's at a time (:meth:`load`).

    A question is answered with the stored outcome of the same probe, name and type (the
    query's ``probe`` when it has one), else of the same name and type; a question the store
    has no answer for (a probe plan that asks more than the one of the scan) gets
    ``Status.OTHER`` and is counted in ``unanswered``. Answers are delivered in :meth:`poll`,
    in the order asked, never from inside :meth:`submit`.
    """

    def __init__(self) -> None:
        self.stats = EngineStats()
        self.unanswered = 0
        self._by_probe: dict[tuple[str, str, str], _Outcome] = {}
        self._by_question: dict[tuple[str, str], _Outcome] = {}
        self._queue: deque[Query] = deque()

    def load(self, observations: Iterable[Observation]) -> None:
        """Answer from now on from these observations (a domain's, as stored)."""
        by_probe: dict[tuple[str, str, str], _Outcome] = {}
        by_question: dict[tuple[str, str], _Outcome] = {}
        for o in observations:
            outcome = (o.status, o.answers)
            by_probe.setdefault((o.probe, o.qname, o.qtype), outcome)
            by_question.setdefault((o.qname, o.qtype), outcome)
        self._by_probe, self._by_question = by_probe, by_question

    def submit(self, query: Query) -> None:
        self._queue.append(query)

    def submit_prepared(self, queries: list[Query]) -> None:
        self._queue.extend(queries)

    def question_tail(self, qtype_code: int) -> bytes:
        return b""  # nothing is sent

    def poll(self, wait: float = 0.05) -> None:
        queue, stats = self._queue, self.stats
        while queue:
            q = queue.popleft()
            stats.sent += 1
            key = (q.qname, q.qtype)
            probe = getattr(q, "probe", None)
            outcome = self._by_probe.get((probe, *key)) if probe is not None else None
            if outcome is None:
                outcome = self._by_question.get(key)
            if outcome is None:
                self.unanswered += 1
                stats.final_errors += 1
                q.answers_cb(q, Status.OTHER, ())
                continue
            stats.answered += 1
            q.answers_cb(q, outcome[0], outcome[1])

    def close(self) -> None:
        self._queue.clear()
