"""Mail security posture: golden zones (``tests/data/posture/zones``, one case per zone, its
first comment line saying what a careful analyst concludes) scanned with ``--probe posture``
through the real pipeline against the devserver, compared with
``tests/data/golden/posture.json`` (regenerate with SOVMAP_REGEN_GOLDEN=1 and read the diff);
the rules on hand-made observations; the summary per group and ``sovmap posture``."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from sovmap.classify.posture import (
    LEVELS,
    STANDARDS,
    PostureRulesError,
    parse_rules,
    posture,
    posture_rules,
    summarise,
)
from sovmap.cli import main as cli_main
from sovmap.collect.active import default_settings, plan_for
from sovmap.collect.engine import EngineConfig
from sovmap.collect.pipeline import ScanSettings, reclassify, run_scan
from sovmap.collect.probes import default_plan
from sovmap.devserver import DevServer
from sovmap.model import RR, Evidence, Observation, Status
from sovmap.store import Store

DATA = Path(__file__).resolve().parents[1] / "data"
ZONES = DATA / "posture" / "zones"
INPUT = DATA / "posture" / "domains.csv"
GOLDEN = DATA / "golden" / "posture.json"
REGEN = os.environ.get("SOVMAP_REGEN_GOLDEN") == "1"


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, int]:
    db = tmp_path_factory.mktemp("posture") / "p.sqlite"
    store = Store(db)
    with DevServer(ZONES) as dns:
        cfg = ScanSettings(
            EngineConfig([(dns.host, dns.port)], timeout=0.5),
            resume=False,
            probes=default_settings(frozenset({"posture"})),
        )
        out = run_scan(INPUT, store, cfg)
    assert out.domains == 9 and not out.problems
    return store, out.scan_id


def _project(store: Store, sid: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for domain, _attrs, obs in store.iter_results(sid):
        out[domain] = {
            f.standard: {
                "level": f.level,
                "code": f.code,
                "details": dict(f.details),
                "evidence": sorted({f"{e.probe} {e.qname} {e.rtype}" for e in f.evidence}),
            }
            for f in posture(domain, obs)
        }
    return out


def test_golden_posture(scanned: tuple[Store, int]) -> None:
    got = _project(*scanned)
    if REGEN or not GOLDEN.exists():
        GOLDEN.write_text(json.dumps(got, indent=1, sort_keys=True, ensure_ascii=False) + "\n")
    assert got == json.loads(GOLDEN.read_text())


def test_the_careful_domain_is_good_on_every_standard_it_can_show(
    scanned: tuple[Store, int],
) -> None:
    got = _project(*scanned)["gemeente-strikt.nl"]
    # STARTTLS needs --probe smtp, the MTA-STS policy --probe http: unknown, not missing
    assert {s: v["level"] for s, v in got.items()} == {
        "dmarc": "good",
        "spf": "good",
        "dkim": "good",
        "starttls": "unknown",
        "dane": "good",
        "dnssec": "good",
        "mta-sts": "unknown",
        "tls-rpt": "good",
    }
    assert got["dmarc"]["details"] == {
        "p": "reject",
        "sp": "reject",
        "pct": "100",
        "rua": "yes",
        "adkim": "s",
        "aspf": "s",
    }


def test_spf_lookup_count_and_strictness(scanned: tuple[Store, int]) -> None:
    got = _project(*scanned)
    assert got["gemeente-includes.nl"]["spf"]["code"] == "POSTURE_SPF_TOO_MANY_LOOKUPS"
    assert int(got["gemeente-includes.nl"]["spf"]["details"]["lookups"]) > 10
    assert got["omleiding.nl"]["spf"]["details"] == {"all": "-all", "lookups": "1"}
    assert got["provincie-open.nl"]["spf"]["code"] == "POSTURE_SPF_PASS_ALL"
    assert got["waterschap-los.nl"]["spf"]["details"] == {"all": "~all", "lookups": "1"}
    assert got["dubbel-beleid.nl"]["spf"]["code"] == "POSTURE_SPF_INVALID"
    assert got["dubbel-beleid.nl"]["dmarc"]["code"] == "POSTURE_DMARC_INVALID"


def test_dane_per_mx_host_and_no_mx(scanned: tuple[Store, int]) -> None:
    got = _project(*scanned)
    assert got["gemeente-includes.nl"]["dane"]["details"] == {"hosts": "2", "with_tlsa": "1"}
    assert got["geen-post.nl"]["dane"]["code"] == "POSTURE_NO_MX"
    assert got["geen-post.nl"]["dmarc"]["level"] == "good"


def test_a_wildcard_dkim_key_proves_nothing(scanned: tuple[Store, int]) -> None:
    assert _project(*scanned)["wild-dkim.nl"]["dkim"]["code"] == "POSTURE_DKIM_WILDCARD"


def test_without_posture_probes_those_standards_are_unknown(scanned: tuple[Store, int]) -> None:
    store, sid = scanned
    for domain, _attrs, obs in store.iter_results(sid):
        plain = tuple(o for o in obs if o.probe not in ("mta-sts", "tls-rpt", "dnssec", "tlsa"))
        levels = {f.standard: f.level for f in posture(domain, plain)}
        for std in ("mta-sts", "tls-rpt", "dnssec"):
            assert levels[std] == "unknown", (domain, std)
        assert levels["dane"] == "unknown"


def test_posture_questions_cost(scanned: tuple[Store, int]) -> None:
    """Three questions per domain and one TLSA per MX host: what --probe posture adds."""
    base, more = default_plan(), plan_for(frozenset({"posture"}))
    assert more.base_queries - base.base_queries == 3
    store, sid = scanned
    tlsa = sum(1 for _, _, obs in store.iter_results(sid) for o in obs if o.probe == "tlsa")
    mx_hosts = 9  # one per zone, two at gemeente-includes.nl, none at geen-post.nl
    assert tlsa == mx_hosts


def test_unanswered_is_unknown_never_missing() -> None:
    obs = (
        Observation("mx", "a.nl", "MX", Status.TIMEOUT),
        Observation("txt", "a.nl", "TXT", Status.SERVFAIL),
        Observation("dmarc", "_dmarc.a.nl", "TXT", Status.TIMEOUT),
    )
    found = {f.standard: (f.level, f.code) for f in posture("a.nl", obs)}
    assert found["spf"] == ("unknown", "POSTURE_SPF_UNANSWERED")
    assert found["dmarc"] == ("unknown", "POSTURE_DMARC_UNANSWERED")
    assert all(level == "unknown" for level, _ in found.values())
    assert posture("gone.nl", (Observation("mx", "gone.nl", "MX", Status.NXDOMAIN),)) == []


def test_mta_sts_policy_modes_and_unreachable() -> None:
    rec = Observation(
        "mta-sts",
        "_mta-sts.a.nl",
        "TXT",
        Status.NOERROR,
        (RR("_mta-sts.a.nl", "TXT", 60, "v=STSv1; id=1"),),
    )
    url = "https://mta-sts.a.nl/.well-known/mta-sts.txt"

    def policy(status: Status, *rr: tuple[str, str]) -> Observation:
        answers = tuple(RR("a.nl", k, 0, v) for k, v in rr)
        return Observation("http-mta-sts", "a.nl", "POLICY", status, answers, url)

    def code(*obs: Observation) -> str:
        return next(f.code for f in posture("a.nl", (rec, *obs)) if f.standard == "mta-sts")

    assert code() == "POSTURE_MTA_STS_RECORD_ONLY"
    assert code(policy(Status.NOERROR, ("HTTP", "200"), ("mode", "testing"))) == (
        "POSTURE_MTA_STS_TESTING"
    )
    assert code(policy(Status.NOERROR, ("HTTP", "404"))) == "POSTURE_MTA_STS_POLICY_UNREACHABLE"
    assert code(policy(Status.TIMEOUT, ("ERROR", "timeout"))) == (
        "POSTURE_MTA_STS_POLICY_UNREACHABLE"
    )


def test_every_code_has_a_level_and_every_standard_a_source() -> None:
    rules = posture_rules()
    assert set(rules.sources) == set(STANDARDS)
    assert set(rules.levels.values()) <= set(LEVELS)
    assert rules.comply_or_explain == ("dmarc", "spf", "dkim", "starttls", "dane", "dnssec")
    raw = {"standards": {s: {"source": "https://x"} for s in STANDARDS}, "levels": {"X": "ok"}}
    with pytest.raises(PostureRulesError, match="bad levels"):
        parse_rules(raw)


def test_evidence_names_the_standard_source(scanned: tuple[Store, int]) -> None:
    store, sid = scanned
    [(_, _, obs)] = list(store.iter_results(sid, "gemeente-strikt.nl"))
    dmarc = next(f for f in posture("gemeente-strikt.nl", obs) if f.standard == "dmarc")
    assert dmarc.evidence == (
        Evidence(
            "dmarc",
            "_dmarc.gemeente-strikt.nl",
            "TXT",
            "v=DMARC1; p=reject; sp=reject; adkim=s; aspf=s; rua=mailto:dmarc@gemeente-strikt.nl",
            "posture:POSTURE_DMARC_REJECT",
            "https://www.rfc-editor.org/rfc/rfc7489",
            0.0,
        ),
    )


def test_summary_per_group(scanned: tuple[Store, int]) -> None:
    store, sid = scanned
    summary = summarise(
        (attrs.get("type", ""), posture(d, obs)) for d, attrs, obs in store.iter_results(sid)
    )
    assert summary.groups == {"gemeente": 2, "waterschap": 1, "provincie": 1, "overig": 5}
    g = summary.to_json()["gemeente"]["standards"]
    assert g["dmarc"] == {"good": 2, "weak": 0, "missing": 0, "unknown": 0}
    assert g["spf"] == {"good": 1, "weak": 1, "missing": 0, "unknown": 0}
    assert g["dane"] == {"good": 1, "weak": 1, "missing": 0, "unknown": 0}


def test_reclassify_keeps_posture_observations(scanned: tuple[Store, int]) -> None:
    store, sid = scanned
    before = _project(store, sid)
    out = reclassify(store, sid)  # the default plan does not ask the posture questions
    assert out.differing == 0
    assert _project(store, sid) == before


def test_posture_command(scanned: tuple[Store, int], capsys: pytest.CaptureFixture[str]) -> None:
    store, sid = scanned
    db = str(store.engine.url.database)
    assert cli_main(["posture", "--db", db, "--group", "type", "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["group_by"] == "type" and out["scan"] == sid
    assert out["groups"]["waterschap"]["standards"]["dmarc"]["weak"] == 1
    assert cli_main(["posture", "--db", db, "--group", "type"]) == 0
    text = capsys.readouterr().out
    assert "Group gemeente; domains: 2" in text
    assert "DNSSEC" in text and "comply or explain" in text
    assert cli_main(["posture", "--db", db, "--domain", "omleiding.nl", "--lang", "nl"]) == 0
    text = capsys.readouterr().out
    assert "SPF: goed POSTURE_SPF_HARDFAIL (all=-all lookups=1)" in text
    assert "STARTTLS: onbekend POSTURE_STARTTLS_NOT_ASKED" in text
    assert cli_main(["posture", "--db", db, "--domain", "nergens.nl"]) == 2
    assert "nergens.nl is not in scan" in capsys.readouterr().err


def test_posture_per_organisation_type(
    scanned: tuple[Store, int], capsys: pytest.CaptureFixture[str]
) -> None:
    from sovmap.orgs.model import Derivation, Mapping, Organisation, OrgDomain
    from sovmap.orgs.store import save_org_set

    store, _sid = scanned
    orgs = [
        Organisation("t:strikt", "Gemeente Strikt", "municipality"),
        Organisation("t:includes", "Gemeente Includes", "municipality"),
        Organisation("t:los", "Waterschap Los", "water-board"),
    ]
    mapping = Mapping(
        tuple(
            OrgDomain(org, dom, Derivation.DOMAIN, dom)
            for org, dom in (
                ("t:strikt", "gemeente-strikt.nl"),
                ("t:includes", "gemeente-includes.nl"),
                ("t:los", "waterschap-los.nl"),
            )
        ),
        (),
    )
    save_org_set(store.engine, "test", orgs, mapping)
    db = str(store.engine.url.database)
    assert cli_main(["posture", "--db", db, "--org-type", "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["group_by"] == "organisation type"
    assert {g: v["domains"] for g, v in out["groups"].items()} == {
        "": 6,
        "municipality": 2,
        "water-board": 1,
    }
    assert out["groups"]["municipality"]["standards"]["dane"]["good"] == 1
    assert cli_main(["posture", "--db", db, "--org-type", "--lang", "nl"]) == 0
    text = capsys.readouterr().out
    assert "Groep municipality; domeinen: 2" in text and "Groep (geen organisatie);" in text
    assert cli_main(["posture", "--db", db, "--org-type", "--group", "type"]) == 2
    assert "not both" in capsys.readouterr().err
