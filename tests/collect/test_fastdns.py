"""The C accelerator gives exactly what the Python code gives, or leaves the message to it."""

from __future__ import annotations

import itertools
import socket
from collections.abc import Iterator
from pathlib import Path

import dns.flags
import dns.message
import dns.rrset
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sovmap.collect import wire
from sovmap.collect.wire import Response, WireError, parse_response_py

fast = wire.fast
needs_fast = pytest.mark.skipif(fast is None, reason="C accelerator not built")


def _outcome_py(data: bytes) -> tuple[str, object]:
    try:
        r = parse_response_py(data)
    except WireError as exc:
        return ("error", exc.code)
    flags_view = (r.rcode, r.truncated, r.authoritative)
    return ("ok", (r.qid, flags_view, r.question, r.qtype, r.answers))


def _outcome_c(data: bytes) -> tuple[str, object] | None:
    try:
        parsed = fast.parse(data)
    except WireError as exc:
        return ("error", exc.code)
    if parsed is None:
        return None
    qid, flags, question, qtype, answers = parsed
    flags_view = (flags & 0xF, bool(flags & 0x200), bool(flags & 0x400))
    return ("ok", (qid, flags_view, question, qtype, answers))


def _same(data: bytes) -> bool:
    """True when the C parser decided the message itself (and agreed with Python)."""
    c = _outcome_c(data)
    if c is None:
        return False
    assert c == _outcome_py(data), data.hex()
    return True


def _response(qname: str, qtype: str, *rrsets: tuple[str, str, list[str]]) -> bytes:
    q = dns.message.make_query(qname, qtype)
    r = dns.message.make_response(q)
    for name, rtype, datas in rrsets:
        r.answer.append(dns.rrset.from_text_list(name, 300, "IN", rtype, datas))
    return r.to_wire()


_SEEDS = [
    _response(
        "A.Example.",
        "A",
        ("a.example.", "CNAME", ["B.example."]),
        ("b.example.", "A", ["192.0.2.9"]),
    ),
    _response("a.example.", "MX", ("a.example.", "MX", ["10 mx1.a.example.", "20 mx2.b.test."])),
    _response("a.example.", "TXT", ("a.example.", "TXT", ['"v=spf1 " "include:x.test -all"'])),
    _response("a.example.", "AAAA", ("a.example.", "AAAA", ["2001:db8::1", "2001:db8:0:1::"])),
    _response("_s._tcp.a.example.", "SRV", ("_s._tcp.a.example.", "SRV", ["0 5 443 t.example."])),
    _response("a.example.", "NS", ("a.example.", "NS", ["ns1.example.", "ns2.example."])),
]


def _mutated(seed: int, mutations: list[tuple[int, int]], cut: int, keep: int) -> bytes:
    """A seed answer with bytes overwritten and ``cut`` bytes dropped (``keep`` at least)."""
    data = bytearray(_SEEDS[seed])
    for pos, value in mutations:
        data[pos % len(data)] = value
    return bytes(data[: max(keep, len(data) - cut)])


@pytest.mark.parametrize("seed", range(len(_SEEDS)))
@needs_fast
def test_common_answers_are_decided_in_c_and_match(seed: int) -> None:
    assert _same(_SEEDS[seed])


@needs_fast
def test_leaves_unusual_types_and_mapped_addresses_to_python() -> None:
    caa = _response("a.example.", "CAA", ("a.example.", "CAA", ['0 issue "ca.example"']))
    mapped = _response("a.example.", "AAAA", ("a.example.", "AAAA", ["::ffff:192.0.2.1"]))
    assert fast.parse(caa) is None
    assert fast.parse(mapped) is None
    assert parse_response_py(mapped).answers[0].data == wire.parse_response(mapped).answers[0].data


@needs_fast
def test_non_ascii_txt_is_decoded_per_string_like_python() -> None:
    # "é" split over two character-strings, then an intact "é": each string decodes alone
    msg = _response("a.example.", "TXT", ("a.example.", "TXT", ['"v=\\195" "\\169 \\195\\169"']))
    assert _same(msg)
    data = fast.parse(msg)[4][0].data
    assert data == "v=\\xc3\\xa9 é" == parse_response_py(msg).answers[0].data


@needs_fast
@settings(max_examples=3000, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.binary(max_size=600))
def test_fuzz_arbitrary_bytes_same_outcome(data: bytes) -> None:
    _same(data)


@needs_fast
@settings(max_examples=4000, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.integers(0, len(_SEEDS) - 1),
    st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=8),
    st.integers(0, 10_000),
)
def test_fuzz_mutated_answers_same_outcome(
    seed: int, mutations: list[tuple[int, int]], cut: int
) -> None:
    _same(_mutated(seed, mutations, cut % 8, keep=12))


@needs_fast
def test_batch_send_and_receive_over_loopback() -> None:
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.setblocking(False)
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tx.connect(rx.getsockname())
    try:
        assert fast.recv_batch(rx.fileno()) == []
        datagrams = [bytes([i]) * (i + 1) for i in range(100)]
        assert fast.send_batch(tx.fileno(), datagrams) == 100
        got: list[bytes] = []
        for _ in range(100):
            got += fast.recv_batch(rx.fileno(), 64)
            if len(got) == 100:
                break
        assert got == datagrams
        with pytest.raises(TypeError):
            fast.send_batch(tx.fileno(), ["not bytes"])
    finally:
        rx.close()
        tx.close()


@needs_fast
def test_response_wrapper_uses_either_parser_with_the_same_result() -> None:
    for seed in _SEEDS:
        a = wire.parse_response(seed)
        b = parse_response_py(seed)
        assert isinstance(a, Response)
        assert (a.qid, a.rcode, a.question, a.qtype, a.answers) == (
            b.qid,
            b.rcode,
            b.question,
            b.qtype,
            b.answers,
        )


def test_the_accelerator_is_built_where_a_compiler_is() -> None:
    """A silent build failure would leave the fast path untested; fail loudly instead."""
    import os
    import shutil
    import sysconfig

    if os.environ.get("SOVMAP_NO_C"):
        pytest.skip("SOVMAP_NO_C is set")
    headers = Path(sysconfig.get_paths()["include"]) / "Python.h"
    if (shutil.which("cc") or shutil.which("gcc")) and headers.exists():
        assert wire.fast is not None


# -- a round of the engine's queries: send_queries / recv_answers ---------------------------

_LOOP: dict[str, socket.socket] = {}


@pytest.fixture(scope="module", autouse=True)
def _close_loop() -> Iterator[None]:
    yield
    for s in _LOOP.values():
        s.close()
    _LOOP.clear()


def _loop() -> tuple[socket.socket, socket.socket]:
    """A connected client socket and the server socket it talks to (made once)."""
    if not _LOOP:
        srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        srv.bind(("127.0.0.1", 0))
        cli = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        cli.connect(srv.getsockname())
        srv.connect(cli.getsockname())
        for s in (srv, cli):
            s.setblocking(False)
        _LOOP.update(srv=srv, cli=cli)
    return _LOOP["cli"], _LOOP["srv"]


def _query(name: str, qtype: str = "A", wire_name: bytes | None = None):  # type: ignore[no-untyped-def]
    from sovmap.collect.engine import Query

    q = Query(name, qtype, lambda *a: None, wire_name)
    q.body = q.wire + wire.build_query(0, b"", q.qtype_code, edns_payload=1232)[12:]
    return q


def _drain(sock: socket.socket, n: int) -> list[bytes]:
    got: list[bytes] = []
    for _ in range(1000):
        got += fast.recv_batch(sock.fileno(), 64)
        if len(got) >= n:
            break
    return got


@needs_fast
def test_send_queries_sends_what_python_builds_and_keeps_the_books() -> None:
    cli, srv = _loop()
    queries = [_query(f"n{i}.example", "TXT" if i % 3 else "A") for i in range(150)]
    ids = [(7919 * i) % 65536 for i in range(150)]
    pending: dict[int, object] = {}
    entries = fast.send_queries(cli.fileno(), ids, queries, pending, 0, 1)
    assert [(qid, q) for qid, q, _ in entries] == list(zip(ids, queries, strict=True))
    assert all(gen == 1 == q.deadline_gen and q.resolver == 0 for _, q, gen in entries)
    assert pending == dict(zip(ids, queries, strict=True))
    got = _drain(srv, 150)
    assert got == [
        wire.build_query(qid, q.wire, q.qtype_code, edns_payload=1232)
        for qid, q in zip(ids, queries, strict=True)
    ]
    with pytest.raises(TypeError):
        fast.send_queries(cli.fileno(), [1], ["not a query"], {}, 0, 1)
    bare = _query("bare.example")
    bare.body = b""
    with pytest.raises(ValueError, match="prepared body"):
        fast.send_queries(cli.fileno(), [1], [bare], {}, 0, 1)
    with pytest.raises(ValueError):
        fast.send_queries(cli.fileno(), [1, 2], [bare], {}, 0, 1)
    with pytest.raises(ValueError):
        fast.send_queries(cli.fileno(), [70000], [_query("x.example")], {}, 0, 1)


def _answer(
    qid: int, qname: str, qtype: str, *rrsets: tuple[str, str, list[str]], tc: bool = False
) -> bytes:
    msg = dns.message.from_wire(_response(qname, qtype, *rrsets))
    msg.id = qid
    if tc:
        msg.flags |= dns.flags.TC
    return msg.to_wire()


@needs_fast
def test_recv_answers_matches_releases_and_leaves_the_rest_to_python() -> None:
    cli, srv = _loop()
    qa, qb, qc, qd = (_query(n) for n in ("a.example", "b.example", "c.example", "d.example"))
    pending = {1: qa, 2: qb, 3: qc, 4: qd}
    released: list[int] = []
    a = _answer(1, "A.Example.", "A", ("A.Example.", "A", ["192.0.2.1"]))  # case differs: same
    sent = [
        a,
        _answer(2, "c.example.", "A"),  # right ID, wrong question: ignored, still pending
        _answer(99, "a.example.", "A"),  # nobody asked
        b"\x00\x03",  # shorter than a header
        bytes.fromhex("0003 8180 0001 0000 0000 0000 05 6162"),  # name runs past the end
        _answer(4, "d.example.", "A", tc=True),
    ]
    for d in sent:
        srv.send(d)
    items, received, n_released, mismatched, short = fast.recv_answers(
        cli.fileno(), pending, released.append
    )
    assert (received, n_released, mismatched, short) == (6, 2, 2, 1)
    assert len(items) == 3
    q, flags, answers = items[0]
    assert q is qa and flags & 0x000F == 0 and answers == parse_response_py(a).answers
    assert items[1] == sent[4]  # malformed: the Python path decides (and retries)
    assert items[2][0] is qd and items[2][1] & 0x0200
    assert pending == {2: qb, 3: qc} and released == [1, 4]
    assert (qa.deadline_gen, qb.deadline_gen, qd.deadline_gen) == (1, 0, 1)
    assert fast.recv_answers(cli.fileno(), pending, released.append) == ([], 0, 0, 0, 0)


@needs_fast
@settings(max_examples=1500, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.integers(0, len(_SEEDS) - 1),
    st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=6),
    st.integers(0, 15),
)
def test_fuzz_recv_answers_decides_like_the_python_path(
    seed: int, mutations: list[tuple[int, int]], cut: int
) -> None:
    """Whatever arrives, the C receive path releases a query only when the Python parser
    would accept the answer for it, with the same records; otherwise it ignores the
    datagram or hands it to Python untouched."""
    cli, srv = _loop()
    original = parse_response_py(_SEEDS[seed])
    msg = _mutated(seed, mutations, cut if cut < 8 else 0, keep=2)  # half of them whole
    q = _query("seed.example", wire.type_name(original.qtype), original.question[:-4])
    qid = original.qid
    pending = {qid: q}
    released: list[int] = []
    srv.send(msg)
    items, received, n_released, mismatched, short = fast.recv_answers(
        cli.fileno(), pending, released.append
    )
    assert received == 1
    if len(msg) < 12:
        assert short == 1 and not items
        return
    try:
        py = parse_response_py(msg)
    except WireError:
        py = None
    if n_released:
        assert py is not None and msg[:2] == _SEEDS[seed][:2]
        assert py.question == q.question
        assert items[0][0] is q and items[0][2] == py.answers
        assert pending == {} and released == [qid]
    elif items:
        assert items == [msg] and pending == {qid: q}
    else:
        assert mismatched == 1 and pending == {qid: q}
        assert py is None or msg[:2] != _SEEDS[seed][:2] or py.question != q.question


@pytest.mark.parametrize("accelerated", [True, False])
def test_message_ids_are_a_fresh_permutation_per_socket(
    accelerated: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sovmap.collect import engine

    if accelerated and fast is None:
        pytest.skip("C accelerator not built")
    if not accelerated:
        monkeypatch.setattr(engine, "fast", None)
    a, b = engine.shuffled_ids(), engine.shuffled_ids()
    assert sorted(a) == list(range(65536)) == sorted(b)
    assert a != b  # two sockets do not share an order
    # a random permutation has about one ID followed by its successor; the identity 65,535
    assert sum(1 for x, y in itertools.pairwise(a) if y == x + 1) < 50
