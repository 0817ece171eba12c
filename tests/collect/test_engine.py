"""The engine against a real nameserver on loopback that misbehaves on purpose."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sovmap.collect.engine import RESOLVER_COUNTERS, Engine, EngineConfig, Query, parse_resolver
from sovmap.devserver import DevServer
from sovmap.model import RR, Status

ZONE = """$ORIGIN f.test.
$TTL 300
@ SOA ns1 hostmaster 1 3600 600 86400 300
@ NS ns1
ns1 A 127.0.0.1
ok A 192.0.2.1
big TXT "{big}"
big TXT "{big2}"
slow A 192.0.2.2
fail A 192.0.2.3
spoof A 192.0.2.4
odd A 192.0.2.5
evil A 192.0.2.6
loop A 192.0.2.7
"""

FAULTS = """
- {name: big.f.test, type: TXT, action: truncate}
- {name: slow.f.test, action: timeout}
- {name: fail.f.test, action: servfail}
- {name: spoof.f.test, action: wrong-id}
- {name: odd.f.test, action: wrong-question}
- {name: evil.f.test, action: garbage}
- {name: loop.f.test, action: pointer-loop}
"""


@pytest.fixture(scope="module")
def zones(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("zones")
    (d / "f.test.zone").write_text(ZONE.format(big="x" * 250, big2="y" * 250))
    (d / "faults.yaml").write_text(FAULTS)
    return d


@pytest.fixture(scope="module")
def server(zones: Path) -> Iterator[DevServer]:
    with DevServer(zones) as srv:
        yield srv


def ask(engine: Engine, *questions: tuple[str, str]) -> dict[str, tuple[Status, tuple[RR, ...]]]:
    out: dict[str, tuple[Status, tuple[RR, ...]]] = {}

    def done(q: Query, status: Status, answers: tuple[RR, ...]) -> None:
        out[q.qname] = (status, answers)

    for name, qtype in questions:
        engine.submit(Query(name, qtype, done))
    engine.run()
    return out


ACCELERATE = {"on": True}


@pytest.fixture(autouse=True, params=["batched-c", "python"])
def _accelerate(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every engine test runs with the C accelerator (when built) and without it."""
    ACCELERATE["on"] = request.param == "batched-c"
    yield
    ACCELERATE["on"] = True


def config(*servers: DevServer, **kw: object) -> EngineConfig:
    base: dict[str, object] = {"timeout": 0.2, "attempts": 2, "accelerate": ACCELERATE["on"]}
    base.update(kw)
    return EngineConfig(resolvers=[(s.host, s.port) for s in servers], **base)  # type: ignore[arg-type]


def test_plain_answer(server: DevServer) -> None:
    eng = Engine(config(server))
    res = ask(eng, ("ok.f.test", "A"), ("none.f.test", "A"))
    assert res["ok.f.test"] == (Status.NOERROR, (RR("ok.f.test", "A", 300, "192.0.2.1"),))
    assert res["none.f.test"][0] is Status.NXDOMAIN
    assert eng.stats.sent == 2 and eng.stats.timeouts == 0


def test_truncated_answer_is_retried_over_tcp(server: DevServer) -> None:
    eng = Engine(config(server))
    status, answers = ask(eng, ("big.f.test", "TXT"))["big.f.test"]
    assert status is Status.NOERROR
    assert sorted(a.data for a in answers) == ["x" * 250, "y" * 250]
    assert eng.stats.tcp == 1


def test_timeout_after_every_attempt(server: DevServer) -> None:
    eng = Engine(config(server, attempts=3))
    assert ask(eng, ("slow.f.test", "A"))["slow.f.test"][0] is Status.TIMEOUT
    assert eng.stats.timeouts == 3 and eng.stats.retries == 2


def test_servfail_is_final_with_one_resolver(server: DevServer) -> None:
    eng = Engine(config(server))
    assert ask(eng, ("fail.f.test", "A"))["fail.f.test"][0] is Status.SERVFAIL


def test_servfail_is_retried_on_another_resolver(zones: Path, server: DevServer) -> None:
    # a second server with the same zone but no faults
    clean = zones.parent / "clean"
    clean.mkdir(exist_ok=True)
    (clean / "f.test.zone").write_text((zones / "f.test.zone").read_text())
    with DevServer(clean) as other:
        eng = Engine(config(server, other))
        got = ask(eng, ("fail.f.test", "A"), ("fail.f.test", "AAAA"))
    assert got["fail.f.test"][0] is Status.NOERROR
    assert eng.stats.retries >= 1


@pytest.mark.parametrize("name", ["spoof.f.test", "odd.f.test"])
def test_answers_that_do_not_match_are_ignored(server: DevServer, name: str) -> None:
    eng = Engine(config(server))
    assert ask(eng, (name, "A"))[name][0] is Status.TIMEOUT
    assert eng.stats.mismatched >= 2


@pytest.mark.parametrize("name", ["evil.f.test", "loop.f.test"])
def test_hostile_answers_are_counted_not_crashing(server: DevServer, name: str) -> None:
    eng = Engine(config(server))
    assert ask(eng, (name, "A"))[name][0] in (Status.MALFORMED, Status.TIMEOUT)
    assert eng.stats.malformed + eng.stats.mismatched >= 1
    assert sum(eng.stats.wire_errors.values()) + eng.stats.mismatched >= 1


def test_in_flight_cap_is_respected(server: DevServer) -> None:
    eng = Engine(config(server, max_inflight=4, start_inflight=4))
    peak = 0

    def done(q: Query, status: Status, answers: tuple[RR, ...]) -> None:
        pass

    for i in range(40):
        eng.submit(Query(f"n{i}.f.test", "A", done))
    while eng.outstanding:
        eng.poll(0.05)
        peak = max(peak, sum(len(s.pending) for s in eng._resolvers[0].sockets))
    assert 1 <= peak <= 4
    assert eng.stats.answered == 40


def _window_after(server: DevServer, names: list[str]) -> int:
    eng = Engine(config(server, start_inflight=8, max_inflight=16, min_inflight=2))

    def done(q: Query, status: Status, answers: tuple[RR, ...]) -> None:
        pass

    for name in names:
        eng.submit(Query(name, "A", done))
    eng.run()
    assert eng.stats.answered + eng.stats.final_errors == len(names)
    return eng._resolvers[0].cap


def test_isolated_failures_do_not_shrink_the_window(server: DevServer) -> None:
    # one SERVFAIL in ten answers: the names are broken, not the resolver
    names = ["fail.f.test" if i % 10 == 0 else f"n{i}.f.test" for i in range(200)]
    assert _window_after(server, names) == 16


def test_a_wave_of_failures_halves_the_window(server: DevServer) -> None:
    # every answer a SERVFAIL: the window halves once per window down to the floor
    assert _window_after(server, ["fail.f.test"] * 60) == 2
    # more than a quarter failing also backs off
    names = ["fail.f.test" if i % 2 == 0 else f"n{i}.f.test" for i in range(200)]
    assert _window_after(server, names) < 8


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1", ("127.0.0.1", 53)),
        ("127.0.0.1:5353", ("127.0.0.1", 5353)),
        ("[::1]:5300", ("::1", 5300)),
        ("::1", ("::1", 53)),
    ],
)
def test_parse_resolver(text: str, expected: tuple[str, int]) -> None:
    assert parse_resolver(text) == expected


@pytest.mark.parametrize("text", ["localhost", "1.2.3.4:99999", "300.1.1.1"])
def test_parse_resolver_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_resolver(text)


def test_records_for_other_names_do_not_count_as_mx() -> None:
    from sovmap.classify import classify
    from sovmap.knowledge import default_catalogue
    from sovmap.model import Capability, Observation

    obs = (
        Observation(
            "mx",
            "victim.example",
            "MX",
            Status.NOERROR,
            (
                RR("victim.example", "MX", 300, "10 mail.victim.example"),
                RR("other.example", "MX", 300, "0 x.mail.protection.outlook.com"),
            ),
        ),
    )
    found = classify("victim.example", obs, default_catalogue(), {"country": "NL"})
    mailbox = [f for f in found if f.capability is Capability.MAILBOX]
    assert [f.provider for f in mailbox] == ["self:victim.example"]


def test_a_live_resolver_is_not_given_up_for_names_that_never_answer(server: DevServer) -> None:
    """The last questions of a scan may all be for a zone whose servers never answer: a
    resolver that answered before stays alive (a health check re-asks a question it answered,
    and that answer comes), so those names end as TIMEOUT and the scan is not stopped as if
    the resolver were dead (the golden scan was, under load, with 'nothing heard for 10 s')."""
    eng = Engine(
        config(server, dead_after=0.3, dead_timeouts=4, probe_every=0.2, give_up_after=1.5)
    )
    assert ask(eng, ("ok.f.test", "A"))["ok.f.test"][0] is Status.NOERROR
    types = ("A", "AAAA", "TXT", "MX", "NS", "CAA", "SOA", "SRV", "DS", "DNSKEY", "TYPE13", "PTR")
    out: dict[str, Status] = {}

    def done(q: Query, status: Status, answers: tuple[RR, ...]) -> None:
        out[q.qtype] = status

    for qtype in types:
        eng.submit(Query("slow.f.test", qtype, done))
    eng.run()  # raised ResolversDead before the health check
    assert out == dict.fromkeys(types, Status.TIMEOUT)
    (counters,) = eng.stats.resolvers.values()
    counts = dict(zip(RESOLVER_COUNTERS, counters, strict=True))
    assert counts["health_checks"] >= 1
