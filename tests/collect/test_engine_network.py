"""The engine on simulated real networks (sovmap.netsim in front of the in-process nameserver):
dead resolvers, all resolvers dead (exit 3), lying resolvers, REFUSED storms, timeouts and
window from the measured round trip, option checks, and issue 19 case 24 (the most
informative status of a question asked of two resolvers is kept)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sovmap.cli import main
from sovmap.collect.engine import RESOLVER_COUNTERS, Engine, EngineConfig, Query
from sovmap.devserver import DevServer
from sovmap.errors import NetworkError
from sovmap.model import RR, Status
from sovmap.netsim import Behaviour, NetSim

ZONE = (
    "$ORIGIN w.test.\n$TTL 300\n@ SOA ns1 hostmaster 1 3600 600 86400 300\n@ NS ns1\n"
    "ns1 A 127.0.0.1\n@ A 192.0.2.1\n@ MX 10 mail.w.test.\nmail A 192.0.2.2\n"
    "broken A 192.0.2.3\n" + "".join(f"h{i} A 192.0.2.{i % 250 + 1}\n" for i in range(600))
)
FAULTS = "- {name: broken.w.test, action: servfail}\n"
DEAD = RESOLVER_COUNTERS.index("dead")
LYING = RESOLVER_COUNTERS.index("lying")


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    d: Path = tmp_path_factory.mktemp("zones")
    (d / "w.test.zone").write_text(ZONE)
    (d / "faults.yaml").write_text(FAULTS)
    with DevServer(d) as srv:
        yield srv


def _up(srv: DevServer) -> tuple[str, int]:
    return (srv.host, srv.port)


def _run(engine: Engine, names: list[str], limit: float = 20.0) -> dict[str, Status]:
    out: dict[str, Status] = {}

    def done(q: Query, status: Status, answers: tuple[RR, ...]) -> None:
        out[q.qname] = status

    for n in names:
        engine.submit(Query(n, "A", done))
    deadline = time.monotonic() + limit
    while engine.outstanding and time.monotonic() < deadline:
        engine.poll(0.05)
    states = [
        (r.dead, r.usable, r.silent, r.inflight, r.cap, r.rate, r.rto) for r in engine._resolvers
    ]
    assert not engine.outstanding, (len(engine._queue), len(engine._retries), states)
    return out


def _key(addr: tuple[str, int]) -> str:
    return f"{addr[0]}:{addr[1]}"


def test_a_dead_resolver_is_marked_dead_and_the_others_finish(upstream: DevServer) -> None:
    names = [f"h{i}.w.test" for i in range(400)]
    with NetSim(_up(upstream), [Behaviour(latency=0.01), Behaviour(dead=True)]) as sim:
        eng = Engine(
            EngineConfig(resolvers=sim.addresses, timeout=0.5, attempts=2, dead_after=0.8, rate=200)
        )
        try:
            started = time.monotonic()
            got = _run(eng, names)
            took = time.monotonic() - started
        finally:
            eng.close()
    assert set(got.values()) == {Status.NOERROR} and len(got) == 400
    live, dead = (eng.stats.resolvers[_key(a)] for a in sim.addresses)
    assert dead[DEAD] == 1 and live[DEAD] == 0
    assert live[RESOLVER_COUNTERS.index("answered")] == 400
    assert took < 6  # moved at once when marked dead, not one timeout after another
    assert eng.stats.retries_refused == 0


def test_all_resolvers_dead_stops_the_engine_with_a_network_error(upstream: DevServer) -> None:
    with NetSim(_up(upstream), [Behaviour(dead=True), Behaviour(dead=True)]) as sim:
        eng = Engine(
            EngineConfig(resolvers=sim.addresses, timeout=0.3, dead_after=0.5, give_up_after=1.5)
        )
        started = time.monotonic()
        try:
            with pytest.raises(NetworkError) as caught:
                _run(eng, [f"h{i}.w.test" for i in range(50)])
        finally:
            eng.close()
    assert time.monotonic() - started < 5
    assert caught.value.exit_code == 3 and caught.value.code == "NET_ALL_DEAD"
    assert _key(sim.addresses[1]) in str(caught.value)
    assert "geen enkele resolver antwoordt" in caught.value.localised("nl")


def test_a_dead_period_ends_and_the_resolver_is_used_again(upstream: DevServer) -> None:
    behaviours = [Behaviour(latency=0.005), Behaviour(dead_periods=((0.0, 1.2),))]
    with NetSim(_up(upstream), behaviours) as sim:
        eng = Engine(
            EngineConfig(
                resolvers=sim.addresses,
                timeout=0.3,
                dead_after=0.4,
                dead_timeouts=3,
                probe_every=0.3,
                rate=200,
            )
        )
        try:
            got = _run(eng, [f"h{i}.w.test" for i in range(500)])
        finally:
            eng.close()
    assert set(got.values()) == {Status.NOERROR}
    back = eng.stats.resolvers[_key(sim.addresses[1])]
    assert back[DEAD] == 1 and back[RESOLVER_COUNTERS.index("revived")] >= 1
    assert back[RESOLVER_COUNTERS.index("answered")] > 50  # used again after it came back


def test_timeouts_and_window_follow_the_measured_round_trip(upstream: DevServer) -> None:
    names = [f"h{i}.w.test" for i in range(600)]
    behaviours = [Behaviour(latency=0.05, jitter=0.01, loss=0.05, seed=1)]
    with NetSim(_up(upstream), behaviours) as sim:
        eng = Engine(EngineConfig(resolvers=sim.addresses, timeout=2.0, attempts=4, rate=400))
        try:
            started = time.monotonic()
            got = _run(eng, names)
            took = time.monotonic() - started
        finally:
            eng.close()
        r = eng._resolvers[0]
    assert set(got.values()) == {Status.NOERROR}
    assert eng.stats.timeouts >= 10  # the 5 % lost
    # 50 ms ± 10 ms (Gaussian) plus the time the proxy and the engine wait for a CPU: the
    # smoothed RTT is at least the simulated delay, and on a busy machine much more (CI saw
    # 0.0396 once and 0.245 with other tests beside it); what matters is that the timeout
    # follows it (RFC 6298: srtt + 4 rttvar), below the configured 2 s first timeout
    assert 0.025 < r.srtt < 1.0
    assert r.rto == min(2.0, max(eng.config.min_timeout, r.srtt + 4 * r.rttvar)) < 2.0
    assert r.cap >= 400 * 0.2 * 1.5  # the bandwidth-delay window at the budget, not 64
    assert took < 600 / 400 + 20  # (a loose bound: the machine may be busy)


def test_a_refused_storm_backs_off_and_rotates_to_the_other_resolver(upstream: DevServer) -> None:
    names = [f"h{i}.w.test" for i in range(600)]
    behaviours = [Behaviour(rate=50, burst=5), Behaviour()]
    with NetSim(_up(upstream), behaviours) as sim:
        eng = Engine(EngineConfig(resolvers=sim.addresses, timeout=1.0, attempts=5, rate=300))
        try:
            got = _run(eng, names)
        finally:
            eng.close()
        refused = sim.stats(0).refused
    assert set(got.values()) == {Status.NOERROR} and len(got) == 600
    limited = eng._resolvers[0]
    assert refused > 0
    assert limited.rate is not None and limited.rate < 300  # backed off
    assert eng.stats.resolvers[_key(sim.addresses[1])][RESOLVER_COUNTERS.index("answered")] > 300


def test_a_lying_resolver_is_found_and_not_used(upstream: DevServer) -> None:
    behaviours = [Behaviour(lie="192.0.2.99"), Behaviour()]
    with NetSim(_up(upstream), behaviours) as sim:
        eng = Engine(EngineConfig(resolvers=sim.addresses, timeout=0.5))
        try:
            eng.check_resolvers("w.test")
            got = _run(eng, [f"absent{i}.w.test" for i in range(20)] + ["h1.w.test"])
        finally:
            eng.close()
    liar, honest = (eng.stats.resolvers[_key(a)] for a in sim.addresses)
    assert liar[LYING] == 1 and honest[LYING] == 0
    assert liar[RESOLVER_COUNTERS.index("sent")] == 1  # the check only
    assert [got[f"absent{i}.w.test"] for i in range(20)] == [Status.NXDOMAIN] * 20


def test_case_24_servfail_then_timeout_keeps_servfail(upstream: DevServer) -> None:
    """Issue 19 case 24: ``broken.w.test`` gets SERVFAIL from the first resolver and then a
    TIMEOUT from the second (dead): the stored status is SERVFAIL, the more informative."""
    with NetSim(_up(upstream), [Behaviour(), Behaviour(dead=True)]) as sim:
        eng = Engine(EngineConfig(resolvers=sim.addresses, timeout=0.3, attempts=2))
        try:
            got = _run(eng, ["broken.w.test"])
        finally:
            eng.close()
    assert got == {"broken.w.test": Status.SERVFAIL}
    assert eng.stats.timeouts == 1  # the second attempt did time out


def test_engine_refuses_a_rate_of_zero() -> None:
    for rate in (0.0, -5.0, float("nan")):
        with pytest.raises(ValueError, match="rate"):
            EngineConfig(resolvers=[("127.0.0.1", 53)], rate=rate)


# -- the command line -------------------------------------------------------------------


@pytest.fixture
def domains(tmp_path: Path) -> Path:
    p = tmp_path / "domains.csv"
    p.write_text("domain\nh1.w.test\nw.test\nh2.w.test\n")
    return p


def test_scan_with_every_resolver_dead_exits_3_within_30_s(
    upstream: DevServer, domains: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with NetSim(_up(upstream), [Behaviour(dead=True), Behaviour(dead=True)]) as sim:
        args = ["scan", str(domains), "--db", str(tmp_path / "s.sqlite"), "--quiet"]
        for a in sim.addresses:
            args += ["--resolver", _key(a)]
        started = time.monotonic()
        code = main(args)
        took = time.monotonic() - started
    err = capsys.readouterr().err
    assert code == 3
    assert took < 30
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("sovmap: error: no resolver answers"), err


@pytest.mark.parametrize("rate", ["0", "-5", "nan"])
def test_scan_rate_zero_or_negative_is_an_error_not_a_hang(
    rate: str, domains: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    started = time.monotonic()
    code = main(["scan", str(domains), "--db", str(tmp_path / "s.sqlite"), "--rate", rate])
    assert code == 2 and time.monotonic() - started < 5
    assert "--rate" in capsys.readouterr().err


def test_scan_warns_about_a_lying_resolver_and_summarises_per_probe_and_resolver(
    upstream: DevServer, domains: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with NetSim(_up(upstream), [Behaviour(lie="192.0.2.99"), Behaviour()]) as sim:
        args = ["scan", str(domains), "--db", str(tmp_path / "s.sqlite"), "--quiet"]
        args += ["--workers", "1", "--timeout", "0.5"]
        for a in sim.addresses:
            args += ["--resolver", _key(a)]
        code = main(args)
    out = capsys.readouterr().out
    liar, honest = (_key(a) for a in sim.addresses)
    assert code == 0
    assert f"warning: resolver {liar} answers names that do not exist" in out
    assert f"resolver {liar}: 1 sent" in out and "LIES" in out
    assert f"resolver {honest}:" in out
    assert "probe mx:" in out and " unanswered" in out
