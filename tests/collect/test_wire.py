from __future__ import annotations

import contextlib
import struct

import dns.message
import dns.rrset
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sovmap.collect.wire import (
    WireError,
    build_query,
    encode_name,
    parse_response,
    question_bytes,
    type_code,
)


def _response(qname: str, qtype: str, *rrsets: tuple[str, str, list[str]]) -> bytes:
    q = dns.message.make_query(qname, qtype)
    r = dns.message.make_response(q)
    for name, rtype, datas in rrsets:
        r.answer.append(dns.rrset.from_text_list(name, 300, "IN", rtype, datas))
    return r.to_wire()


def test_query_is_valid_for_a_full_parser() -> None:
    wire = build_query(4242, encode_name("Example.NL"), type_code("MX"))
    msg = dns.message.from_wire(wire)
    assert msg.id == 4242
    assert msg.question[0].name.to_text() == "Example.NL."
    assert msg.edns == 0 and msg.payload == 1232


@pytest.mark.parametrize(
    ("qtype", "rrsets", "expected"),
    [
        ("A", [("a.example.", "A", ["192.0.2.1", "192.0.2.2"])], ["192.0.2.1", "192.0.2.2"]),
        ("AAAA", [("a.example.", "AAAA", ["2001:db8::1"])], ["2001:db8::1"]),
        ("MX", [("a.example.", "MX", ["10 mx.a.example."])], ["10 mx.a.example"]),
        ("TXT", [("a.example.", "TXT", ['"v=spf1 " "-all"'])], ["v=spf1 -all"]),
        ("SRV", [("a.example.", "SRV", ["0 5 443 t.example."])], ["0 5 443 t.example"]),
        ("NS", [("a.example.", "NS", ["ns1.example."])], ["ns1.example"]),
        (
            "A",
            [("a.example.", "CNAME", ["b.example."]), ("b.example.", "A", ["192.0.2.9"])],
            ["b.example", "192.0.2.9"],
        ),
        ("CAA", [("a.example.", "CAA", ['0 issue "ca.example"'])], ['0 issue "ca.example"']),
    ],
)
def test_parse_common_and_unusual_types(
    qtype: str, rrsets: list[tuple[str, str, list[str]]], expected: list[str]
) -> None:
    resp = parse_response(_response("a.example.", qtype, *rrsets))
    assert sorted(r.data for r in resp.answers) == sorted(expected)
    assert resp.question == question_bytes(encode_name("a.example"), type_code(qtype))
    assert resp.fallbacks == (1 if qtype == "CAA" else 0)


def test_compression_pointer_cycle_is_rejected() -> None:
    query = build_query(1, encode_name("a.example"), 1, edns_payload=None)
    header = query[:2] + b"\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00"
    question = query[12:]
    off = len(header) + len(question)
    rr = (
        struct.pack("!H", 0xC000 | off)
        + b"\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\x7f\x00\x00\x01"
    )
    with pytest.raises(WireError) as err:
        parse_response(header + question + rr)
    assert err.value.code == "bad-pointer"


def test_two_pointers_pointing_at_each_other_are_rejected() -> None:
    # question name at 12 is a pointer to 14, which is a pointer back to 12
    msg = b"\x00\x01\x81\x80\x00\x01\x00\x00\x00\x00\x00\x00" + b"\xc0\x0e\xc0\x0c\x00\x01\x00\x01"
    with pytest.raises(WireError):
        parse_response(msg)


def test_name_longer_than_255_is_rejected() -> None:
    labels = b"".join(b"\x3f" + b"a" * 63 for _ in range(5)) + b"\x00"
    msg = b"\x00\x01\x81\x80\x00\x01\x00\x00\x00\x00\x00\x00" + labels + b"\x00\x01\x00\x01"
    with pytest.raises(WireError) as err:
        parse_response(msg)
    assert err.value.code == "name-too-long"


def test_record_data_overrun_is_rejected() -> None:
    good = _response("a.example.", "A", ("a.example.", "A", ["192.0.2.1"]))
    with pytest.raises(WireError):
        parse_response(good[:-2])


def test_every_truncation_of_a_valid_message_is_a_wire_error() -> None:
    good = _response(
        "a.example.",
        "MX",
        ("a.example.", "MX", ["10 mx1.a.example.", "20 mx2.a.example."]),
    )
    parse_response(good)
    for cut in range(len(good)):
        with pytest.raises(WireError):
            parse_response(good[:cut])


def test_encode_name_rules() -> None:
    assert encode_name("münchen.de") == b"\x0exn--mnchen-3ya\x02de\x00"
    assert encode_name(".") == b"\x00"
    with pytest.raises(ValueError):
        encode_name("a" * 64 + ".example")
    with pytest.raises(ValueError):
        encode_name("a..example")
    with pytest.raises(ValueError):
        encode_name(".".join(["abcdefghij"] * 26))


@settings(max_examples=3000, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.binary(max_size=600))
def test_fuzz_arbitrary_bytes_never_escape(data: bytes) -> None:
    with contextlib.suppress(WireError):
        parse_response(data)


_SEED = _response(
    "a.example.",
    "A",
    ("a.example.", "CNAME", ["b.example."]),
    ("b.example.", "A", ["192.0.2.9"]),
)


@settings(max_examples=3000, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.tuples(st.integers(0, len(_SEED) - 1), st.integers(0, 255)), max_size=8))
def test_fuzz_mutations_of_a_valid_message(mutations: list[tuple[int, int]]) -> None:
    data = bytearray(_SEED)
    for pos, value in mutations:
        data[pos] = value
    try:
        resp = parse_response(bytes(data))
    except WireError:
        return
    assert len(resp.answers) <= 1024
