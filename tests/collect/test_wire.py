from __future__ import annotations

import contextlib
import struct
from pathlib import Path

import dns.message
import dns.name
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


# -- issue 19, case 21: labels with special octets keep them (escaped), both parser paths ----

_ESCAPED_ZONE = r"""$ORIGIN e.test.
$TTL 300
@ SOA ns1 hostmaster 1 3600 600 86400 300
@ NS ns1
ns1 A 127.0.0.1
start CNAME a\.b.e.test.
a\.b A 192.0.2.21
a.b A 192.0.2.99
slash CNAME back\\slash.e.test.
back\\slash A 192.0.2.22
back A 192.0.2.98
odd CNAME sp\032ce\255\000.e.test.
sp\032ce\255\000 A 192.0.2.23
mail MX 10 mx\.one.e.test.
mx\.one A 192.0.2.24
"""


def test_name_text_escapes_special_octets_and_encodes_back() -> None:
    from sovmap.collect.wire import label_text

    assert label_text(b"A.b") == "a\\.b"
    assert label_text(b"x\\y") == "x\\\\y"
    assert label_text(b"sp ce\xff\x00") == "sp\\032ce\\255\\000"
    assert label_text(b"\xc3\xa9") == "\\195\\169"  # not decoded as Latin-1 and re-punycoded
    assert label_text(b"Plain-Label_1") == "plain-label_1"
    assert encode_name("a\\.b.example") == b"\x03a.b\x07example\x00"
    assert encode_name("a\\.b.example.") == b"\x03a.b\x07example\x00"
    assert encode_name("a\\\\.example") == b"\x02a\\\x07example\x00"  # a backslash, then a dot
    assert encode_name("a\\..example") == b"\x02a.\x07example\x00"
    assert encode_name("sp\\032ce\\255\\000.x") == b"\x07sp ce\xff\x00\x01x\x00"
    for bad in ("a\\", "a\\25.x", "a\\256.x", "a\\é.x"):
        with pytest.raises(ValueError):
            encode_name(bad)


@pytest.mark.parametrize("path", ["c", "python"])
def test_escaped_names_parse_the_same_on_both_paths(path: str) -> None:
    from sovmap.collect import wire

    if path == "c" and wire.fast is None:
        pytest.skip("C accelerator not built")
    msg = _response(
        "x.example.",
        "CNAME",
        ("X\\.Y.example.", "CNAME", ["A\\.b\\\\c\\000\\255\\032\\195.example."]),
        ("x.example.", "MX", ["10 m\\.x.example."]),
        ("_s\\._tcp.example.", "SRV", ["0 5 443 t\\.x.example."]),
    )
    if path == "c":
        parsed = wire.fast.parse(msg)
        assert parsed is not None  # decided in C, not left to Python
        answers = parsed[4]
    else:
        answers = wire.parse_response_py(msg).answers
    assert [(rr.name, rr.data) for rr in answers] == [
        ("x\\.y.example", "a\\.b\\\\c\\000\\255\\032\\195.example"),
        ("x.example", "10 m\\.x.example"),
        ("_s\\._tcp.example", "0 5 443 t\\.x.example"),
    ]
    # the text goes back to the octets the server sent
    assert encode_name(answers[0].data) == dns.name.from_text(answers[0].data + ".").to_wire()


@pytest.mark.parametrize("accelerate", [True, False], ids=["batched-c", "python"])
def test_follow_up_of_an_escaped_name_asks_the_same_name(accelerate: bool, tmp_path: Path) -> None:
    """Served by a real nameserver on loopback: the CNAME target ``a\\.b.e.test`` is asked
    as the one label ``a.b`` under e.test (192.0.2.21), not as ``a`` under ``b.e.test``
    (192.0.2.99); likewise a backslash, a space, octet 255 and octet 0 inside labels."""
    from sovmap.collect import wire
    from sovmap.collect.engine import Engine, EngineConfig, Query
    from sovmap.devserver import DevServer
    from sovmap.model import RR, Status

    if accelerate and wire.fast is None:
        pytest.skip("C accelerator not built")
    (tmp_path / "e.test.zone").write_text(_ESCAPED_ZONE)
    with DevServer(tmp_path) as srv:
        config = EngineConfig(
            resolvers=[(srv.host, srv.port)], timeout=0.5, attempts=2, accelerate=accelerate
        )

        def ask(
            *questions: tuple[str, str],
        ) -> dict[tuple[str, str], tuple[Status, tuple[RR, ...]]]:
            out: dict[tuple[str, str], tuple[Status, tuple[RR, ...]]] = {}
            engine = Engine(config)
            for name, qtype in questions:
                engine.submit(
                    Query(
                        name,
                        qtype,
                        lambda q, st, ans: out.__setitem__((q.qname, q.qtype), (st, ans)),
                    )
                )
            engine.run()
            return out

        first = ask(
            ("start.e.test", "CNAME"),
            ("slash.e.test", "CNAME"),
            ("odd.e.test", "CNAME"),
            ("mail.e.test", "MX"),
        )
        targets = [
            first[(n, "CNAME")][1][0].data for n in ("start.e.test", "slash.e.test", "odd.e.test")
        ]
        assert targets == ["a\\.b.e.test", "back\\\\slash.e.test", "sp\\032ce\\255\\000.e.test"]
        mx = first[("mail.e.test", "MX")][1][0].data.split()[1]
        assert mx == "mx\\.one.e.test"
        follow = ask(*[(t, "A") for t in [*targets, mx]])
        got = {
            name: (st, [(rr.name, rr.data) for rr in ans])
            for (name, _), (st, ans) in follow.items()
        }
        assert got == {
            "a\\.b.e.test": (Status.NOERROR, [("a\\.b.e.test", "192.0.2.21")]),
            "back\\\\slash.e.test": (Status.NOERROR, [("back\\\\slash.e.test", "192.0.2.22")]),
            "sp\\032ce\\255\\000.e.test": (
                Status.NOERROR,
                [("sp\\032ce\\255\\000.e.test", "192.0.2.23")],
            ),
            "mx\\.one.e.test": (Status.NOERROR, [("mx\\.one.e.test", "192.0.2.24")]),
        }
