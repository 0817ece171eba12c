"""Issue 19 case 4: control bytes in DNS data (terminal escapes, BEL, line breaks) never reach
the terminal or a CSV cell raw: ``explain``, the scan summary and the CSV export escape them."""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

import pytest

from sovmap.cli import main
from sovmap.devserver import DevServer
from sovmap.readers import printable

DEMO = Path(str(resources.files("sovmap") / "data" / "demo"))
ZONE = r"""; control bytes in DNS data: an ANSI colour in an MX host, an OSC title in an SPF include
$ORIGIN escape-test.nl.
$TTL 3600
@ SOA ns1 hostmaster 1 3600 600 86400 300
@ NS ns1.escape-test.nl.
ns1 A 192.0.2.1
@ MX 10 mx\027[31mred.escape-test.nl.
mx\027[31mred A 192.0.2.25
@ TXT "v=spf1 include:\027]0;pwned\007evil.example -all"
@ A 192.0.2.80
"""


def test_printable_escapes_controls_and_bidi_overrides() -> None:
    assert printable("plain ü text") == "plain ü text"
    assert printable("a\x1b[31mb\nc\x07\u202ed\x9b") == r"a\x1b[31mb\x0ac\x07\u202ed\x9b"


def test_case4_control_bytes_from_dns_are_escaped_in_explain_and_csv(
    tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    zones = tmp_path / "zones"
    shutil.copytree(DEMO / "zones", zones)
    (zones / "escape-test.nl.zone").write_text(ZONE, encoding="utf-8")
    listing = tmp_path / "in.txt"
    listing.write_text("escape-test.nl\n", encoding="utf-8")
    db, out = tmp_path / "s.sqlite", tmp_path / "f.csv"
    with DevServer(zones) as srv:
        argv = ["scan", str(listing), "--resolver", srv.address, "--db", str(db)]
        assert main([*argv, "--out", str(out), "--timeout", "0.3", "--quiet"]) == 0
    scanned = capsysbinary.readouterr()
    assert main(["explain", "escape-test.nl", "--db", str(db), "--raw"]) == 0
    explained = capsysbinary.readouterr().out
    table = out.read_bytes()
    for shown in (scanned.out, scanned.err, explained, table):
        assert b"\x1b" not in shown and b"\x07" not in shown
    # a name holds the octets in presentation format (\DDD, RFC 1035); TXT data is escaped
    assert rb"mx\027[31mred.escape-test.nl" in explained
    assert rb"include:\x1b]0;pwned\x07evil.example" in explained
    assert rb"mx\027[31mred.escape-test.nl" in table
