"""``sovmap knowledge gaps``: uncatalogued MX/NS/CNAME operators of a real scan, ranked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sovmap.cli import main as cli_main
from sovmap.collect.engine import EngineConfig
from sovmap.collect.pipeline import ScanSettings, run_scan
from sovmap.devserver import DevServer
from sovmap.knowledge.catalogue import default_catalogue
from sovmap.knowledge.gaps import find_gaps
from sovmap.model import RR, Observation, Status
from sovmap.store import Store

SOA = "@ SOA ns1 hostmaster 1 3600 600 86400 300\n"


def _zone(d: Path, origin: str, body: str) -> None:
    (d / f"{origin}.zone").write_text(f"$ORIGIN {origin}.\n$TTL 3600\n{SOA}{body}", "utf-8")


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three municipalities at one uncatalogued regional operator, one at another, one at
    Exchange Online, one with its own MX and a wildcard; scanned through a real nameserver."""
    zones = tmp_path_factory.mktemp("zones")
    for i in range(3):
        _zone(
            zones,
            f"gemeinde-{i}.at",
            "@ NS ns1.regio-dns.at.\n@ MX 10 mx1.regio-mail.at.\n"
            "autodiscover CNAME autodiscover.regio-mail.at.\n",
        )
    _zone(zones, "gemeinde-x.at", "@ NS ns1\nns1 A 192.0.2.1\n@ MX 10 mail.kleinhost.at.\n")
    _zone(
        zones,
        "gemeinde-ms.at",
        "@ NS ns1\nns1 A 192.0.2.1\n@ MX 0 gemeinde-ms-at.mail.protection.outlook.com.\n",
    )
    _zone(
        zones,
        "gemeinde-eigen.at",
        "@ NS ns1\nns1 A 192.0.2.1\n@ MX 10 mail\nmail A 192.0.2.2\n"
        "www A 192.0.2.3\n* CNAME parking.wildcard-host.at.\n",
    )
    csv = zones.parent / "domains.csv"
    csv.write_text(
        "domain\n" + "\n".join(p.name.removesuffix(".zone") for p in sorted(zones.glob("*"))),
        "utf-8",
    )
    db = zones.parent / "gaps.sqlite"
    with DevServer(zones) as srv:
        cfg = EngineConfig([(srv.host, srv.port)], timeout=0.5, attempts=2)
        run_scan(csv, Store(db), ScanSettings(cfg, resume=False))
    return db


def test_gaps_rank_uncatalogued_operators(scanned: Path) -> None:
    store = Store(scanned, readonly=True)
    scan = store.latest_finished()
    assert scan is not None
    report = find_gaps(store.iter_results(scan.id), default_catalogue(), top=10, samples=2)
    assert report.domains == 6
    got = [(g.kind, g.operator, len(g.domains)) for g in report.gaps]
    assert got == [
        ("MX", "regio-mail.at", 3),
        ("NS", "regio-dns.at", 3),
        ("CNAME", "regio-mail.at", 3),
        ("MX", "kleinhost.at", 1),
    ]
    first = report.gaps[0]
    assert len(first.samples) == 2
    assert first.samples[0] == ("gemeinde-0.at", "MX gemeinde-0.at -> 10 mx1.regio-mail.at")
    # catalogued (Exchange Online), own names and wildcard answers are no gaps
    operators = {g.operator for g in report.gaps}
    assert not operators & {"outlook.com", "gemeinde-eigen.at", "wildcard-host.at"}


def test_gaps_leave_out_names_that_are_no_host_names() -> None:
    obs = (
        Observation(
            "mx", "a.at", "MX", Status.NOERROR, (RR("a.at", "MX", 60, "10 \x1b]0;x.evil.at"),)
        ),
        Observation("ns", "a.at", "NS", Status.NOERROR, (RR("a.at", "NS", 60, "192.0.2.1"),)),
    )
    report = find_gaps([("a.at", {}, obs)], default_catalogue())
    assert report.gaps == ()
    with pytest.raises(ValueError):
        find_gaps([], default_catalogue(), top=0)


def test_gaps_command_text_json_and_dutch(
    scanned: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli_main(["knowledge", "gaps", "--db", str(scanned), "--top", "1"]) == 0
    out = capsys.readouterr().out
    assert "Uncatalogued operators in scan #1 (6 domains read): 1 MX, 1 NS, 1 CNAME" in out
    assert "regio-mail.at" in out and "kleinhost.at" not in out
    assert cli_main(["knowledge", "gaps", "--db", str(scanned), "--lang", "nl"]) == 0
    assert "Niet-gecatalogiseerde beheerders" in capsys.readouterr().out
    assert cli_main(["knowledge", "gaps", "--db", str(scanned), "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["domains"] == 6
    assert doc["gaps"][0] == {
        "kind": "MX",
        "operator": "regio-mail.at",
        "domains": 3,
        "hosts": 1,
        "samples": [
            {"domain": d, "record": f"MX {d} -> 10 mx1.regio-mail.at"}
            for d in ("gemeinde-0.at", "gemeinde-1.at", "gemeinde-2.at")
        ],
    }


def test_gaps_command_refuses_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["knowledge", "gaps", "--db", str(tmp_path / "none.sqlite")]) == 2
    assert "no store at" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        cli_main(["knowledge", "gaps", "--db", "x.sqlite", "--top", "0"])
    assert exc.value.code == 2


def test_documented_example_runs(scanned: Path) -> None:
    from tests.knowledge.test_knowledge_commands import _knowledge_examples

    argv = _knowledge_examples()["gaps"]
    assert argv[:4] == ["knowledge", "gaps", "--db", "scans.sqlite"]
    assert cli_main([a if a != "scans.sqlite" else str(scanned) for a in argv]) == 0
