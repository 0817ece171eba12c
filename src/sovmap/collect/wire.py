"""DNS wire format: queries built by hand, responses parsed by hand for the common types.

The parser never raises anything but :class:`WireError` (with a stable ``code``) for any byte
string, never loops on compression-pointer cycles (a pointer must point strictly backwards,
and a name may take at most :data:`MAX_POINTERS` jumps), and rejects oversized or malformed
records. Unusual record types are handed to dnspython's full rdata parser and, failing that,
kept in the RFC 3597 generic form, so no answer is lost.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from typing import Any

from sovmap.model import RR, Observation

TYPES: dict[str, int] = {
    "A": 1,
    "NS": 2,
    "CNAME": 5,
    "SOA": 6,
    "PTR": 12,
    "MX": 15,
    "TXT": 16,
    "AAAA": 28,
    "SRV": 33,
    "DNAME": 39,
    "OPT": 41,
    "DS": 43,
    "RRSIG": 46,
    "DNSKEY": 48,
    "TLSA": 52,
    "HTTPS": 65,
    "CAA": 257,
}
TYPE_NAMES: dict[int, str] = {v: k for k, v in TYPES.items()}
RCODES = ("NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED")

MAX_POINTERS = 32
MAX_NAME = 255
MAX_RECORDS = 1024  # answers + authority + additional in one message we are willing to read
MAX_TXT_RDATA = 65535
DEFAULT_EDNS_PAYLOAD = 1232  # DNS flag day 2020 recommendation

_HEADER = struct.Struct("!HHHHHH")
_RRFIXED = struct.Struct("!HHIH")
_U16 = struct.Struct("!H")
_QTAIL = struct.Struct("!HH")


class WireError(ValueError):
    """A message that cannot be parsed. ``code`` is stable and counted by the engine."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code


def type_code(name: str) -> int:
    try:
        return TYPES[name]
    except KeyError:
        if name.startswith("TYPE") and name[4:].isdigit():
            return int(name[4:])
        raise ValueError(f"unknown record type {name!r}") from None


def type_name(code: int) -> str:
    return TYPE_NAMES.get(code) or f"TYPE{code}"


_LEN_BYTES = [bytes((i,)) for i in range(64)]

# How a label octet is written in presentation format (RFC 1035 section 5.1): a dot and a
# backslash escaped with a backslash, octets outside printable ASCII as \DDD, letters lower
# case (RFC 4343), so that :func:`encode_name` turns the text back into the same octets.
_ESCAPE: list[str] = [
    chr(b).lower() if 0x21 <= b <= 0x7E and b not in (0x2E, 0x5C) else f"\\{b:03d}"
    for b in range(256)
]
_ESCAPE[0x2E] = "\\."
_ESCAPE[0x5C] = "\\\\"
_PLAIN = bytes(b for b in range(0x21, 0x7F) if b not in (0x2E, 0x5C))  # written as they are
_DIGITS = "0123456789"


def label_text(raw: bytes) -> str:
    """One wire label in presentation format, lower case, special octets escaped."""
    if raw.translate(None, _PLAIN):
        return "".join([_ESCAPE[b] for b in raw])
    return raw.decode("ascii").lower()


def _split_labels(name: str) -> list[str]:
    """Split a presentation-format name at its unescaped dots (escapes kept in the labels)."""
    labels: list[str] = []
    start = 0
    i = 0
    n = len(name)
    while i < n:
        c = name[i]
        if c == "\\":
            i += 2
            continue
        if c == ".":
            labels.append(name[start:i])
            start = i + 1
        i += 1
    if start < n:
        labels.append(name[start:])  # (a final unescaped dot ends the name: the root)
    return labels


def _unescape(label: str, name: str) -> bytes:
    """The octets of a label written with \\X and \\DDD escapes."""
    out = bytearray()
    i = 0
    n = len(label)
    while i < n:
        c = label[i]
        if c != "\\":
            out.append(ord(c))
            i += 1
            continue
        if i + 1 >= n:
            raise ValueError(f"backslash at the end of a label in {name!r}")
        digits = label[i + 1 : i + 4]
        if len(digits) == 3 and all(d in _DIGITS for d in digits):
            value = int(digits)
            if value > 255:
                raise ValueError(f"escape \\{digits} is not an octet in {name!r}")
            out.append(value)
            i += 4
            continue
        if label[i + 1] in _DIGITS:
            raise ValueError(f"escape needs three digits (\\DDD) in {name!r}")
        if not label[i + 1].isascii():
            raise ValueError(f"escaped character is not ASCII in {name!r}")
        out.append(ord(label[i + 1]))
        i += 2
    return bytes(out)


def encode_name(name: str) -> bytes:
    """Encode a presentation-format name (ASCII with RFC 1035 escapes, or IDN) as
    uncompressed wire labels."""
    if name.isascii() and name and name[-1] != "." and name[0] != "." and "\\" not in name:
        # fast path: plain ASCII names, as the probe plan produces them
        labels = name.encode().split(b".")
        try:
            wire = b"".join([_LEN_BYTES[len(lab)] + lab for lab in labels if lab]) + b"\x00"
        except IndexError:
            raise ValueError(f"label longer than 63 octets in {name!r}") from None
        if len(wire) > MAX_NAME:
            raise ValueError(f"name longer than 255 octets: {name!r}")
        if len(wire) != len(name) + 2:
            raise ValueError(f"empty label in {name!r}")
        return wire
    name = name.strip()
    if name in ("", "."):
        return b"\x00"
    out = bytearray()
    for label in _split_labels(name):
        if "\\" in label:
            if not label.isascii():
                raise ValueError(f"label mixes escapes and non-ASCII characters in {name!r}")
            raw = _unescape(label, name)
        else:
            try:
                raw = label.encode("ascii")
            except UnicodeEncodeError:
                try:
                    raw = b"xn--" + label.encode("punycode")
                except UnicodeError as exc:  # pragma: no cover - punycode accepts any str
                    raise ValueError(f"cannot encode label {label!r}") from exc
        if not raw:
            raise ValueError(f"empty label in {name!r}")
        if len(raw) > 63:
            raise ValueError(f"label longer than 63 octets in {name!r}")
        out.append(len(raw))
        out += raw
    out.append(0)
    if len(out) > MAX_NAME:
        raise ValueError(f"name longer than 255 octets: {name!r}")
    return bytes(out)


def build_query(
    qid: int,
    qname_wire: bytes,
    qtype: int,
    *,
    rd: bool = True,
    edns_payload: int | None = DEFAULT_EDNS_PAYLOAD,
) -> bytes:
    """A query message; with ``edns_payload`` an OPT record advertising that buffer size."""
    flags = 0x0100 if rd else 0
    arcount = 1 if edns_payload else 0
    msg = _HEADER.pack(qid, flags, 1, 0, 0, arcount) + qname_wire + _QTAIL.pack(qtype, 1)
    if edns_payload:
        # root name, TYPE OPT, CLASS = payload size, TTL = ext-rcode/version/flags, RDLEN 0
        msg += b"\x00\x00\x29" + _U16.pack(edns_payload) + b"\x00\x00\x00\x00\x00\x00"
    return msg


@dataclass(frozen=True, slots=True)
class Response:
    qid: int
    rcode: int
    truncated: bool
    authoritative: bool
    question: bytes  # the raw question section (name in wire form + type + class), name lower-case
    qtype: int
    answers: tuple[RR, ...]
    fallbacks: int = 0  # records decoded by the full parser

    @property
    def rcode_name(self) -> str:
        return RCODES[self.rcode] if self.rcode < len(RCODES) else f"RCODE{self.rcode}"


def _read_name(msg: bytes, offset: int) -> tuple[str, int]:
    """Read a possibly compressed name; return (lower-case presentation text without the
    final dot, special octets escaped as :func:`label_text` does, next offset)."""
    labels: list[str] = []
    end = -1
    jumps = 0
    length = 0
    pos = offset
    limit = len(msg)
    lowest = offset  # a pointer must point before every position visited so far
    while True:
        if pos >= limit:
            raise WireError("short", "name runs past the end")
        n = msg[pos]
        if n == 0:
            pos += 1
            break
        kind = n & 0xC0
        if kind == 0xC0:
            if pos + 1 >= limit:
                raise WireError("short", "pointer runs past the end")
            target = ((n & 0x3F) << 8) | msg[pos + 1]
            if target >= lowest:
                raise WireError("bad-pointer", f"pointer to {target} does not point backwards")
            jumps += 1
            if jumps > MAX_POINTERS:
                raise WireError("bad-pointer", "too many compression pointers")
            if end < 0:
                end = pos + 2
            lowest = target
            pos = target
            continue
        if kind != 0:
            raise WireError("label-type", f"unsupported label type {kind:#x}")
        pos += 1
        if pos + n > limit:
            raise WireError("short", "label runs past the end")
        length += n + 1
        if length + 1 > MAX_NAME:
            raise WireError("name-too-long", "name longer than 255 octets")
        labels.append(label_text(msg[pos : pos + n]))
        pos += n
    return ".".join(labels), (end if end >= 0 else pos)


def _txt_strings(msg: bytes, pos: int, end: int) -> str:
    parts: list[str] = []
    while pos < end:
        n = msg[pos]
        pos += 1
        if pos + n > end:
            raise WireError("rdata-overrun", "TXT string runs past its record")
        parts.append(msg[pos : pos + n].decode("utf-8", "backslashreplace"))
        pos += n
    return "".join(parts)


def _fallback_rdata(msg: bytes, rtype: int, pos: int, rdlen: int) -> tuple[str, int]:
    """Decode an unusual record with dnspython; keep RFC 3597 generic form if that fails."""
    try:
        import dns.rdata
        import dns.wire

        parser = dns.wire.Parser(msg, pos)
        with parser.restrict_to(rdlen):
            rd = dns.rdata.from_wire_parser(
                dns.rdataclass.IN, dns.rdatatype.RdataType.make(rtype), parser
            )
        return rd.to_text(), 1
    except Exception:
        return f"\\# {rdlen} {msg[pos : pos + rdlen].hex()}".rstrip(), 1


def _rdata(msg: bytes, rtype: int, pos: int, rdlen: int) -> tuple[str, int]:
    end = pos + rdlen
    if rtype == 1:
        if rdlen != 4:
            raise WireError("bad-rdata", "A record is not 4 octets")
        return f"{msg[pos]}.{msg[pos + 1]}.{msg[pos + 2]}.{msg[pos + 3]}", 0
    if rtype in (5, 2, 12, 39):
        name, nxt = _read_name(msg, pos)
        if nxt != end:
            raise WireError("bad-rdata", "name does not fill its record")
        return name, 0
    if rtype == 15:
        if rdlen < 3:
            raise WireError("bad-rdata", "MX record too short")
        name, nxt = _read_name(msg, pos + 2)
        if nxt != end:
            raise WireError("bad-rdata", "MX name does not fill its record")
        return f"{_U16.unpack_from(msg, pos)[0]} {name}", 0
    if rtype == 16:
        if rdlen == 0:
            raise WireError("bad-rdata", "empty TXT record")
        return _txt_strings(msg, pos, end), 0
    if rtype == 28:
        if rdlen != 16:
            raise WireError("bad-rdata", "AAAA record is not 16 octets")
        return _ipv6_text(msg[pos:end]), 0
    if rtype == 33:
        if rdlen < 7:
            raise WireError("bad-rdata", "SRV record too short")
        prio, weight, port = struct.unpack_from("!HHH", msg, pos)
        name, nxt = _read_name(msg, pos + 6)
        if nxt != end:
            raise WireError("bad-rdata", "SRV name does not fill its record")
        return f"{prio} {weight} {port} {name}", 0
    if rtype == 6:
        mname, p = _read_name(msg, pos)
        rname, p = _read_name(msg, p)
        if p + 20 != end:
            raise WireError("bad-rdata", "SOA record has the wrong length")
        serial, refresh, retry, expire, minimum = struct.unpack_from("!IIIII", msg, p)
        return f"{mname} {rname} {serial} {refresh} {retry} {expire} {minimum}", 0
    return _fallback_rdata(msg, rtype, pos, rdlen)


def _ipv6_text(raw: bytes) -> str:
    import ipaddress

    return str(ipaddress.IPv6Address(raw))


def _skip_question_name(msg: bytes) -> int:
    """End of the question name (uncompressed in every query we send); falls back to the
    full reader when a server compresses it."""
    pos = 12
    limit = len(msg)
    while pos < limit:
        n = msg[pos]
        if n == 0:
            if pos - 12 + 1 > MAX_NAME:
                raise WireError("name-too-long", "name longer than 255 octets")
            return pos + 1
        if n & 0xC0:
            return _read_name(msg, 12)[1]
        pos += n + 1
    raise WireError("short", "name runs past the end")


def parse_response(msg: bytes) -> Response:
    """Parse a response message: header, question and answer section.

    Uses the C parser when it is built (same results, same error codes) and the Python one
    for whatever the C parser leaves to it.
    """
    if fast is not None:
        parsed = fast.parse(msg)
        if parsed is not None:
            qid, flags, question, qtype, answers = parsed
            return Response(
                qid=qid,
                rcode=flags & 0x000F,
                truncated=bool(flags & 0x0200),
                authoritative=bool(flags & 0x0400),
                question=question,
                qtype=qtype,
                answers=answers,
            )
    return parse_response_py(msg)


def parse_response_py(msg: bytes) -> Response:
    """Parse a response message in Python: header, question and answer section.

    The authority and additional sections are not read; only the counts are checked.
    """
    if len(msg) < 12:
        raise WireError("short", "message shorter than its header")
    qid, flags, qd, an, ns, ar = _HEADER.unpack_from(msg, 0)
    if not flags & 0x8000:
        raise WireError("not-response", "QR bit not set")
    if qd != 1:
        raise WireError("bad-question", f"{qd} questions")
    if an + ns + ar > MAX_RECORDS:
        raise WireError("too-many-records", f"{an + ns + ar} records")
    pos = _skip_question_name(msg)
    if pos + 4 > len(msg):
        raise WireError("short", "question runs past the end")
    qtype = _U16.unpack_from(msg, pos)[0]
    question = msg[12:pos].lower() + msg[pos : pos + 4]  # the name without regard to case
    pos += 4
    answers: list[RR] = []
    fallbacks = 0
    limit = len(msg)
    names: dict[int, str] = {}  # names already decoded, by offset (answers reuse them)
    for _ in range(an):
        if pos + 1 < limit and msg[pos] >= 0xC0:
            target = ((msg[pos] & 0x3F) << 8) | msg[pos + 1]
            cached = names.get(target)
            if cached is not None and target < pos:
                name = cached
                pos += 2
            else:
                name, pos = _read_name(msg, pos)
                names[target] = name
        else:
            name, pos = _read_name(msg, pos)
        if pos + 10 > limit:
            raise WireError("short", "record header runs past the end")
        rtype, rclass, ttl, rdlen = _RRFIXED.unpack_from(msg, pos)
        pos += 10
        if pos + rdlen > limit:
            raise WireError("rdata-overrun", "record data runs past the end")
        if rtype == 41:
            raise WireError("bad-rdata", "OPT record in the answer section")
        if rclass != 1:
            pos += rdlen
            continue
        data, fb = _rdata(msg, rtype, pos, rdlen)
        fallbacks += fb
        pos += rdlen
        answers.append(RR(name, type_name(rtype), min(ttl, 0x7FFFFFFF), data))
    return Response(
        qid=qid,
        rcode=flags & 0x000F,
        truncated=bool(flags & 0x0200),
        authoritative=bool(flags & 0x0400),
        question=question,
        qtype=qtype,
        answers=tuple(answers),
        fallbacks=fallbacks,
    )


def _load_fast() -> Any:
    """The C accelerator, bound to this module's types; None when it is not built or
    ``SOVMAP_NO_C`` is set."""
    if os.environ.get("SOVMAP_NO_C"):
        return None
    try:
        from sovmap.collect import _fastdns  # type: ignore[attr-defined]
    except ImportError:
        return None
    _fastdns.init(WireError, RR, TYPE_NAMES)
    _fastdns.bind_observation(Observation)
    return _fastdns


fast = _load_fast()


def question_bytes(qname_wire: bytes, qtype: int) -> bytes:
    """The question section as :func:`parse_response` reports it, for matching."""
    return qname_wire.lower() + _QTAIL.pack(qtype, 1)
