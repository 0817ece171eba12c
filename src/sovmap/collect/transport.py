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

    def check_resolvers(self, zone: str) -> None:
        """Check the resolvers behind the transport before the first question (the engine
        asks each for a name that cannot exist under ``zone``: a lying-resolver check)."""

    def poll(self, wait: float = 0.05) -> None:
        """Move questions on and deliver the answers that came, waiting at most ``wait`` s."""

    def close(self) -> None:
        """Release what the transport holds (sockets)."""


_Outcome = tuple[Status, tuple[RR, ...]]
_MISSING: _Outcome = (Status.OTHER, ())


class ReplayTransport:
    """Answers from stored observations, one domain's at a time (:meth:`load`).

    A question is answered with the stored outcome of the same name and type (when the store
    holds different outcomes of one question for different probes, with the asking query's
    ``probe``); a question the store has no answer for (a probe plan that asks more than the
    one of the scan) gets ``Status.OTHER`` and is counted in ``unanswered``. Answers are
    delivered in :meth:`poll`, in the order asked, never from inside :meth:`submit`.
    """

    def __init__(self) -> None:
        self.stats = EngineStats()
        self.unanswered = 0
        self._answers: dict[tuple[str, str], _Outcome | None] = {}  # None: differs by probe
        self._by_probe: dict[tuple[str, str, str], _Outcome] = {}
        self._queue: deque[Query] = deque()

    def load(self, observations: Iterable[Observation]) -> None:
        """Answer from now on from these observations (a domain's, as stored)."""
        answers: dict[tuple[str, str], _Outcome | None] = {}
        by_probe: dict[tuple[str, str, str], _Outcome] = {}
        for o in observations:
            outcome = (o.status, o.answers)
            by_probe.setdefault((o.probe, o.qname, o.qtype), outcome)
            seen = answers.setdefault((o.qname, o.qtype), outcome)
            if seen is not None and seen is not outcome and seen != outcome:
                answers[o.qname, o.qtype] = None  # one question, other answers per probe
        self._answers, self._by_probe = answers, by_probe

    def submit(self, query: Query) -> None:
        self._queue.append(query)

    def submit_prepared(self, queries: list[Query]) -> None:
        self._queue.extend(queries)

    def question_tail(self, qtype_code: int) -> bytes:
        return b""  # nothing is sent

    def check_resolvers(self, zone: str) -> None:
        return None  # no resolver: the answers are stored ones

    def poll(self, wait: float = 0.05) -> None:
        queue, stats, answers, missing = self._queue, self.stats, self._answers, _MISSING
        while queue:
            q = queue.popleft()
            stats.sent += 1
            outcome = answers.get((q.qname, q.qtype), missing)
            if outcome is None:
                outcome = self._by_probe_of(q)
            if outcome is missing:
                self.unanswered += 1
                stats.final_errors += 1
            else:
                stats.answered += 1
            q.answers_cb(q, outcome[0], outcome[1])

    def _by_probe_of(self, q: Query) -> _Outcome:
        """The stored outcome of the asking probe, else the first stored for the question."""
        outcome = self._by_probe.get((getattr(q, "probe", ""), q.qname, q.qtype))
        if outcome is None:
            key = (q.qname, q.qtype)
            outcome = next(v for k, v in self._by_probe.items() if (k[1], k[2]) == key)
        return outcome

    def close(self) -> None:
        self._queue.clear()
