"""The network simulator (sovmap.netsim): each behaviour of a simulated resolver, measured
through real proxies in front of the in-process nameserver on loopback."""

from __future__ import annotations

import socket
import statistics
import time
from collections.abc import Iterator
from pathlib import Path

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import pytest

from sovmap.devserver import DevServer
from sovmap.netsim import Behaviour, NetSim
from sovmap.netsim.proxy import NetSimError

ZONE = "$ORIGIN n.test.\n$TTL 300\n@ SOA ns1 hostmaster 1 3600 600 86400 300\n@ NS ns1\n" + "".join(
    f"h{i} A 192.0.2.{i % 250 + 1}\n" for i in range(400)
)


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    d: Path = tmp_path_factory.mktemp("zones")
    (d / "n.test.zone").write_text(ZONE)
    with DevServer(d) as srv:
        yield srv


def _client() -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    return s


def _ask(
    addr: tuple[str, int], names: list[str], wait: float = 1.0
) -> list[tuple[str, dns.message.Message, float]]:
    """Send a query for each name at once from one socket; the answers in arrival order with
    the name asked and the seconds from sending all to this answer."""
    s = _client()
    by_id: dict[int, str] = {}
    start = time.monotonic()
    for i, name in enumerate(names):
        q = dns.message.make_query(name, "A")
        q.id = i
        by_id[i] = name
        s.sendto(q.to_wire(), addr)
    out: list[tuple[str, dns.message.Message, float]] = []
    deadline = start + wait
    while len(out) < len(names):
        left = deadline - time.monotonic()
        if left <= 0:
            break
        s.settimeout(left)
        try:
            data = s.recv(65535)
        except TimeoutError:
            break
        m = dns.message.from_wire(data)
        out.append((by_id[m.id], m, time.monotonic() - start))
    s.close()
    return out


def _one_rtt(addr: tuple[str, int], name: str = "h1.n.test") -> float:
    got = _ask(addr, [name], 2.0)
    assert got, "no answer"
    return got[0][2]


def test_latency_with_jitter_is_added_to_every_answer(upstream: DevServer) -> None:
    with NetSim(
        (upstream.host, upstream.port), [Behaviour(), Behaviour(latency=0.08, jitter=0.02, seed=3)]
    ) as sim:
        base = statistics.median(_one_rtt(sim.addresses[0]) for _ in range(5))
        rtts = [_one_rtt(sim.addresses[1]) for _ in range(25)]
    assert base < 0.05
    assert 0.06 < statistics.mean(rtts) < 0.11
    assert statistics.stdev(rtts) > 0.008  # jitter, not a fixed delay
    assert min(rtts) >= 0.0


def test_loss_drops_the_share_asked_and_counts_it(upstream: DevServer) -> None:
    names = [f"h{i}.n.test" for i in range(300)]
    with NetSim((upstream.host, upstream.port), [Behaviour(loss=0.3, seed=11)]) as sim:
        got = _ask(sim.addresses[0], names, 2.0)
        time.sleep(0.1)
        st = sim.stats(0)
    assert st.received == 300
    assert st.lost + st.forwarded == 300
    assert 45 <= st.lost <= 135
    assert len(got) == st.forwarded
    assert all(m.rcode() == dns.rcode.NOERROR for _, m, _ in got)


def test_reordering_holds_answers_back(upstream: DevServer) -> None:
    names = [f"h{i}.n.test" for i in range(60)]
    with NetSim(
        (upstream.host, upstream.port), [Behaviour(reorder=0.5, reorder_delay=0.15, seed=5)]
    ) as sim:
        got = _ask(sim.addresses[0], names, 2.0)
    order = [names.index(n) for n, _, _ in got]
    assert len(got) == 60
    late = [t for _, _, t in got if t >= 0.15]
    assert 10 <= len(late) <= 50
    assert order != sorted(order)


def test_rate_limit_refuses_or_drops_above_the_budget(upstream: DevServer) -> None:
    names = [f"h{i}.n.test" for i in range(100)]
    behaviours = [Behaviour(rate=20, burst=10), Behaviour(rate=20, burst=10, over_rate="drop")]
    with NetSim((upstream.host, upstream.port), behaviours) as sim:
        refused_side = _ask(sim.addresses[0], names, 1.5)
        dropped_side = _ask(sim.addresses[1], names, 1.5)
        time.sleep(0.1)
        st_refuse, st_drop = sim.stats(0), sim.stats(1)
    refused = [(n, m) for n, m, _ in refused_side if m.rcode() == dns.rcode.REFUSED]
    assert 80 <= len(refused) <= 92 and st_refuse.refused == len(refused)
    # a refusal echoes the question, so a client can match it
    assert all(m.question[0].name.to_text() == n + "." for n, m in refused)
    assert len(refused_side) == 100
    assert 8 <= len(dropped_side) <= 20
    assert all(m.rcode() == dns.rcode.NOERROR for _, m, _ in dropped_side)
    assert st_drop.rate_dropped == 100 - len(dropped_side)


def test_dead_resolver_never_answers_and_dead_period_ends(upstream: DevServer) -> None:
    behaviours = [Behaviour(dead=True), Behaviour(dead_periods=((0.0, 0.6),))]
    with NetSim((upstream.host, upstream.port), behaviours) as sim:
        assert _ask(sim.addresses[0], ["h1.n.test"], 0.5) == []
        assert _ask(sim.addresses[1], ["h1.n.test"], 0.3) == []
        time.sleep(0.5)
        assert len(_ask(sim.addresses[1], ["h2.n.test"], 1.0)) == 1
        time.sleep(0.1)
        assert sim.stats(0).dead_dropped == 1
        assert sim.stats(1).dead_dropped == 1


def test_lying_resolver_answers_names_that_do_not_exist(upstream: DevServer) -> None:
    with NetSim((upstream.host, upstream.port), [Behaviour(lie="192.0.2.250")]) as sim:
        ((_, absent, _),) = _ask(sim.addresses[0], ["no-such-name.n.test"])
        ((_, present, _),) = _ask(sim.addresses[0], ["h3.n.test"])
        time.sleep(0.1)
        assert sim.stats(0).lied == 1
    assert absent.rcode() == dns.rcode.NOERROR
    assert [rr.address for rrset in absent.answer for rr in rrset] == ["192.0.2.250"]
    assert absent.question[0].name.to_text() == "no-such-name.n.test."
    assert [rr.address for rrset in present.answer for rr in rrset] == ["192.0.2.4"]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"loss": 1.5},
        {"latency": -1},
        {"rate": 0},
        {"over_rate": "shout"},
        {"dead_periods": ((2.0, 1.0),)},
        {"lie": "not-an-address"},
        {"jitter": float("nan")},
    ],
)
def test_a_wrong_behaviour_is_a_clear_error(kwargs: dict[str, object]) -> None:
    with pytest.raises(NetSimError):
        Behaviour(**kwargs)  # type: ignore[arg-type]
