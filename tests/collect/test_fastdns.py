"""The C accelerator gives exactly what the Python code gives, or leaves the message to it."""

from __future__ import annotations

import socket
from pathlib import Path

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
    data = bytearray(_SEEDS[seed])
    for pos, value in mutations:
        data[pos % len(data)] = value
    _same(bytes(data[: max(12, len(data) - cut % 8)]))


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
