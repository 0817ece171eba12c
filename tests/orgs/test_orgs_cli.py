"""``sovmap orgs``: fetch, import, map, list, groups; bad input leaves the store untouched."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from orgs.orgs_testlib import DATA, FixtureServer
from sovmap.cli import build_parser, main
from sovmap.model import RR, Capability, DomainResult, Finding, Observation, Status
from sovmap.orgs.store import open_store
from sovmap.store import Store
from sovmap.store.schema import metadata


def dump(db: str) -> dict[str, list[Any]]:
    """Every row of every table, to prove a failed command changed nothing."""
    engine = open_store(db)
    with engine.connect() as conn:
        return {
            t.name: [tuple(r) for r in conn.execute(select(t)).all()]
            for t in metadata.sorted_tables
            if t.name in ("scans", "scan_domains", "findings") or t.name.startswith("org")
        }


def _seed(db: str, http: FixtureServer, tmp_path: Path) -> None:
    """A store with one organisation set and one finished scan snapshot."""
    assert main(["orgs", "fetch", "nl-government", "--db", db, "--cache", str(tmp_path / "c"),
                 "--base-url", http.base + "/archive/"]) == 0  # fmt: skip
    store = Store(db)
    sid = store.start_scan(input="orgs.csv", input_digest="x")
    obs = (Observation("mx", "uwv.nl", "MX", Status.NOERROR, (RR("uwv.nl", "MX", 60, "10 mx"),)),)
    fnd = Finding(
        "uwv.nl", Capability.MAILBOX, "microsoft", "Microsoft", "Microsoft", "US", 0.9, "T"
    )
    dead = (
        Observation("mx", "werk.nl", "MX", Status.NXDOMAIN),
        Observation("web", "werk.nl", "A", Status.NXDOMAIN),
    )
    store.write_results(
        sid, [(DomainResult("uwv.nl", obs), [fnd]), (DomainResult("werk.nl", dead), [])], "kv"
    )
    store.finish_scan(sid)
    store.close()


def test_fetch_map_export_and_list(
    http_fixtures: FixtureServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "s.sqlite")
    _seed(db, http_fixtures, tmp_path)
    out = capsys.readouterr().out
    assert "15 organisations: 12 mapped to 14 domains, 3 without a domain" in out
    assert "unmapped nl-oo:31555 Adviescollege Toetsing Regeldruk: NO_CONTACT" in out
    assert "shared buch.nl: nl-oo:25811, nl-oo:25812, nl-oo:40213" in out

    assert main(["orgs", "fetch", "nl-central", "--db", db, "--cache", str(tmp_path / "c")]) == 0
    capsys.readouterr()
    export = tmp_path / "orgs.csv"
    assert main(["orgs", "map", "--db", db, "--out", str(export)]) == 0
    out = capsys.readouterr().out
    assert "possible duplicates (same name and type): nl-oo:12583, nl-ag:cjib" in out
    assert "dead werk.nl: NXDOMAIN in scan 1" in out
    assert "dead uwv.nl" not in out
    rows = {r["domain"]: r for r in csv.DictReader(export.open(encoding="utf-8"))}
    assert list(next(iter(rows.values()))) == [
        "domain", "org_id", "org_name", "org_type", "parent_id", "group",
    ]  # fmt: skip
    assert rows["uwv.nl"]["org_id"] == "nl-oo:27520;nl-zbo:uwv"
    assert rows["buch.nl"]["org_id"] == "nl-oo:25811;nl-oo:25812;nl-oo:40213"
    assert rows["logius.nl"]["group"] == "nl-debate-bodies"
    assert "xn--frysln-0ta.frl" in rows

    assert main(["orgs", "list", "--db", db, "--group", "parent:nl-min:vws"]) == 0
    out = capsys.readouterr().out
    assert "nl-zbo:nza" in out and "nl-ag:rivm" in out and out.strip().endswith("9 organisations")
    assert main(["orgs", "show", "UWV", "--db", db]) == 2  # the almanac and the bundled list
    assert "2 organisations match 'UWV'" in capsys.readouterr().err
    assert main(["orgs", "show", "nl-oo:27520", "--db", db]) == 0
    out = capsys.readouterr().out
    assert "Uitvoeringsinstituut Werknemersverzekeringen [nl-oo:27520] (UWV)" in out
    assert "domain uwv.nl  from website 'www.uwv.nl/'" in out
    assert "mailbox          uwv.nl                       Microsoft (US) 0.90" in out
    assert main(["orgs", "show", "nl-oo:31777", "--db", db]) == 0
    assert "no domain from email 'inkoop@gov.nl': PUBLIC_SUFFIX" in capsys.readouterr().out
    assert main(["orgs", "groups", "--db", db]) == 0
    out = capsys.readouterr().out
    assert "type:municipality" in out and "group:nl-debate-bodies" in out


def test_fetch_wikidata_through_the_cli(
    http_fixtures: FixtureServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "s.sqlite")
    argv = ["orgs", "fetch", "wikidata", "--country", "NL", "--type", "municipality",
            "--base-url", http_fixtures.base + "/sparql", "--cache", str(tmp_path / "c"),
            "--db", db]  # fmt: skip
    assert main(argv) == 0
    assert "6 organisations: 4 mapped to 4 domains, 2 without a domain" in capsys.readouterr().out
    # offline now: the cached answer serves the same query
    assert main([*argv, "--offline"]) == 0
    out = capsys.readouterr().out
    assert "source wikidata: cache:" in out and "nl-municipality.json" in out


def test_import_local_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "s.sqlite")
    assert main(["orgs", "import", str(DATA / "bodies.csv"), "--db", db]) == 0
    assert "7 organisations: 5 mapped to 6 domains, 2 without a domain" in capsys.readouterr().out
    wd = DATA / "wikidata-nl-municipality.json"
    assert main(["orgs", "import", str(wd), "--db", db, "--country", "NL"]) == 0
    assert "6 organisations: 4 mapped" in capsys.readouterr().out
    assert main(["orgs", "list", "--db", db]) == 0
    assert capsys.readouterr().out.strip().endswith("13 organisations")
    # a second list adds to the current organisations; importing the same file again
    # replaces its earlier snapshot (which stays in the store)
    example = Path(__file__).resolve().parents[2] / "examples" / "orgs" / "bodies.csv"
    for _ in range(2):
        assert main(["orgs", "import", str(example), "--db", db]) == 0
    assert main(["orgs", "list", "--db", db]) == 0
    # 13 + 4, less DUO and RIVM, which both lists name with the same id (the newer wins)
    assert capsys.readouterr().out.strip().endswith("15 organisations")
    assert len(dump(db)["org_sets"]) == 4


NO_COLUMN = "no 'domain', 'website' or 'email' column"
BAD_INPUT = [
    (["orgs", "import", str(DATA / "broken.xml")], "broken XML"),
    (["orgs", "import", str(DATA / "no_domain_column.csv")], NO_COLUMN),
    (["orgs", "fetch", "nl-government", "--offline", "--cache", "{empty}"], "no cached copy"),
    (
        ["orgs", "fetch", "nl-government", "--base-url", "{dead}", "--cache", "{empty}"],
        "is unavailable",
    ),
    (["orgs", "fetch", "wikidata", "--country", "Netherlands"], "ISO 3166-1"),
    (["orgs", "fetch", "nl-central", "--country", "NL"], "does not take --country"),
    (["orgs", "fetch", "atlantis"], "unknown source 'atlantis'"),
    (
        ["orgs", "import", str(DATA / "bodies.csv"), "--overrides", "{bad_overrides}"],
        "field 'reason' is missing",
    ),
]


@pytest.mark.parametrize(("argv", "message"), BAD_INPUT)
def test_bad_input_fails_clearly_and_leaves_the_store_untouched(
    http_fixtures: FixtureServer,
    tmp_path: Path,
    dead_port: int,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    message: str,
) -> None:
    db = str(tmp_path / "s.sqlite")
    _seed(db, http_fixtures, tmp_path)
    before = dump(db)
    assert before["org_sets"] and before["scans"] and before["findings"]
    bad = tmp_path / "bad.yaml"
    bad.write_text("overrides:\n  - org: x\n    add:\n      - domain: x.nl\n")
    subst = {
        "{empty}": str(tmp_path / "empty-cache"),
        "{dead}": f"http://127.0.0.1:{dead_port}/archive/",
        "{bad_overrides}": str(bad),
    }
    capsys.readouterr()
    rc = main([subst.get(a, a) for a in argv] + ["--db", db])
    assert rc == 2
    err = capsys.readouterr().err
    assert err.startswith("sovmap: error: ") and message in err
    assert dump(db) == before


def test_every_orgs_command_has_help_with_an_example() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    choices: dict[str, Any] = sub.choices  # type: ignore[attr-defined]
    for name in ("diff", "trend"):
        assert "Example: sovmap " + name in choices[name].description
    orgs = choices["orgs"]
    actions = next(a for a in orgs._actions if a.dest == "orgs_command").choices
    assert set(actions) == {
        "fetch", "import", "list", "show", "map", "groups", "sources", "refresh-psl", "discover",
    }  # fmt: skip
    for name, p in actions.items():
        assert "Example: sovmap orgs " + name in p.description, name


def test_refresh_psl_from_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from importlib.resources import files

    src = tmp_path / "psl.dat"
    src.write_bytes(files("publicsuffixlist").joinpath("public_suffix_list.dat").read_bytes())
    cache = tmp_path / "cache"
    assert main(["orgs", "refresh-psl", "--file", str(src), "--cache", str(cache)]) == 0
    assert (cache / "public_suffix_list.dat").is_file()
    bad = tmp_path / "bad.dat"
    bad.write_text("// nothing\ncom\n")
    assert main(["orgs", "refresh-psl", "--file", str(bad), "--cache", str(cache)]) == 2
    assert "not a complete Public Suffix List" in capsys.readouterr().err


def test_documented_offline_examples_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The quick tour of docs/orgs.md, minus the commands that need the internet."""
    repo = Path(__file__).resolve().parents[2]
    doc = (repo / "docs" / "orgs.md").read_text(encoding="utf-8")
    monkeypatch.chdir(repo)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    db = str(tmp_path / "doc.sqlite")
    out = tmp_path / "orgs.csv"
    ran = 0
    for line in doc.splitlines():
        cmd = line.strip().split("#", 1)[0].split()
        offline = cmd[2:3] in (["sources"], ["import"], ["map"], ["list"], ["show"]) or cmd[
            2:4
        ] == [
            "fetch",
            "nl-central",
        ]
        if cmd[:2] != ["sovmap", "orgs"] or not offline:
            continue
        argv = [str(out) if a == "orgs.csv" else a for a in cmd[1:]]
        if argv[1] != "sources":
            argv += ["--db", db]
        assert main(argv) == 0, line
        ran += 1
    assert ran >= 5
    assert "minszw.nl" in out.read_text() and "rijksoverheid.nl" in out.read_text()
    assert "REMOVED_BY_OVERRIDE" not in capsys.readouterr().err
