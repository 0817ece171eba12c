"""The transport seam: the UDP engine and the replay transport both satisfy it, and a scan
replayed from its store asks the same questions, gets the same observations and gives the
same findings as the scan itself (``sovmap reclassify`` is such a replay)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from sovmap.collect.engine import Engine, EngineConfig, Query
from sovmap.collect.pipeline import ScanSettings, reclassify, replay, run_scan
from sovmap.collect.probes import default_plan
from sovmap.collect.transport import ReplayTransport, Transport
from sovmap.devserver import DevServer
from sovmap.model import RR, DomainResult, Finding, Observation, Status
from sovmap.store import Store

DATA = Path(__file__).resolve().parents[1] / "data"


@dataclasses.dataclass
class Scanned:
    store: Store
    scan_id: int


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scanned]:
    """The golden world (faults included: timeouts, SERVFAIL, truncation) scanned once."""
    store = Store(tmp_path_factory.mktemp("replay") / "s.sqlite")
    with DevServer(DATA / "zones") as srv:
        config = EngineConfig([(srv.host, srv.port)], timeout=0.3, attempts=2, max_inflight=64)
        out = run_scan(DATA / "domains.csv", store, ScanSettings(config, resume=False))
    yield Scanned(store, out.scan_id)


def _findings(fs: Sequence[Finding]) -> list[str]:
    return sorted(json.dumps(f.to_json(), sort_keys=True) for f in fs)


def test_engine_and_replay_are_transports() -> None:
    def use(t: Transport) -> bytes:
        t.poll(0)
        return t.question_tail(1)

    engine = Engine(EngineConfig([("127.0.0.1", 9)]))
    try:
        assert use(engine).startswith(b"\x00\x01\x00\x01")
    finally:
        engine.close()
    assert use(ReplayTransport()) == b""


def test_a_replay_gives_the_stored_observations_and_findings(scanned: Scanned) -> None:
    stored = {d: obs for d, _a, obs in scanned.store.iter_results(scanned.scan_id)}
    stored_findings: dict[str, list[Finding]] = {d: [] for d in stored}
    for f in scanned.store.iter_findings(scanned.scan_id):
        stored_findings[f.domain].append(f)
    got: dict[str, tuple[tuple[Observation, ...], list[str]]] = {}

    def on_result(result: DomainResult, findings: Sequence[Finding]) -> None:
        got[result.domain] = (result.observations, _findings(findings))

    outcome = replay(scanned.store, scanned.scan_id, on_result)
    assert (outcome.domains, outcome.differing, outcome.unanswered) == (len(stored), 0, 0)
    assert list(got) == list(stored)  # input order
    # the world has faults: the replay repeats them as they were stored
    assert any(o.status is Status.TIMEOUT for obs in stored.values() for o in obs)
    for domain, obs in stored.items():
        assert got[domain][0] == obs, domain
        assert got[domain][1] == _findings(stored_findings[domain]), domain


def test_reclassify_is_a_replay_with_the_same_findings(scanned: Scanned) -> None:
    before = _findings(list(scanned.store.iter_findings(scanned.scan_id)))
    outcome = reclassify(scanned.store, scanned.scan_id)
    assert outcome.differing == 0
    assert _findings(list(scanned.store.iter_findings(scanned.scan_id))) == before


def test_a_changed_plan_is_told_not_hidden(scanned: Scanned) -> None:
    """Asked with more DKIM selectors than the scan had, the replay answers the new ones
    with OTHER and counts the domains whose observations differ from the store."""
    plan = default_plan()
    more = dataclasses.replace(plan, dkim_selectors=(*plan.dkim_selectors, "newselector"))
    results: list[DomainResult] = []
    outcome = replay(scanned.store, scanned.scan_id, lambda r, _f: results.append(r), plan=more)
    assert outcome.differing == outcome.domains == len(results) > 0
    assert outcome.unanswered >= outcome.domains
    extra = [o for r in results for o in r.observations if o.qname.startswith("newselector.")]
    assert extra and {o.status for o in extra} == {Status.OTHER}
    fewer = dataclasses.replace(plan, dkim_selectors=plan.dkim_selectors[1:])
    outcome = replay(scanned.store, scanned.scan_id, lambda r, _f: None, plan=fewer)
    assert outcome.differing == outcome.domains and outcome.unanswered == 0


def test_replay_answers_in_poll_by_probe_then_by_question() -> None:
    t = ReplayTransport()
    a = RR("www.a.nl", "A", 60, "192.0.2.1")
    b = RR("www.a.nl", "A", 60, "192.0.2.2")
    t.load(
        [
            Observation("web", "www.a.nl", "A", Status.NOERROR, (a,)),
            Observation("mx-host", "www.a.nl", "A", Status.NOERROR, (b,)),
        ]
    )
    got: list[tuple[str, Status, tuple[RR, ...]]] = []

    class _Probe(Query):
        __slots__ = ("probe",)
        probe: str

    def ask(probe: str | None, qname: str) -> None:
        q: Query = _Probe(qname, "A", lambda q, s, ans: got.append((qname, s, ans)))
        if probe is None:
            q = Query(qname, "A", lambda q, s, ans: got.append((qname, s, ans)))
        else:
            q.probe = probe  # type: ignore[attr-defined]
        t.submit(q)

    ask("mx-host", "www.a.nl")
    ask(None, "www.a.nl")
    ask("web", "other.a.nl")
    assert got == []  # nothing is answered from inside submit
    t.poll(0)
    assert got == [
        ("www.a.nl", Status.NOERROR, (b,)),
        ("www.a.nl", Status.NOERROR, (a,)),
        ("other.a.nl", Status.OTHER, ()),
    ]
    assert (t.stats.sent, t.stats.answered, t.unanswered) == (3, 2, 1)
