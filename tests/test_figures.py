"""One question, one answer: every surface gives the same value for every headline figure,
and each figure equals the row count of the CSV it links to.

Stores are generated (scans, findings with gateways and relays, candidates, unknown and
low-confidence findings, a newer running scan, organisations), with or without a register;
the surfaces are the real ones: the scan summary, ``sovmap figures`` (text, JSON and --rows),
the web app's ``/api/figures``, its overview page and rows CSV, and the report's
``figures.json``, ``figures/*.csv``, report.html and the NL and EN brief.
"""

from __future__ import annotations

import csv
import io
import json
import re
from contextlib import redirect_stdout
from pathlib import Path

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.support.storegen import add_organisations

from sovmap import figures
from sovmap.cli import main
from sovmap.collect.commands import summary_lines
from sovmap.model import Capability, DomainResult, Finding
from sovmap.register.files import load_register_dir
from sovmap.report.build import ReportOptions, build_report
from sovmap.store import Store
from sovmap.web.app import create_app
from sovmap.web.auth import create_token, create_user
from sovmap.web.features import detect_features

REGISTER = Path(__file__).resolve().parents[1] / "docs" / "examples" / "register"
ROLES = ("primary", "behind-gateway", "behind-relay", "relay", "additional", "candidate")
JURS = ("US", "NL", "DE", "IE", "", "GB")

finding_st = st.tuples(
    st.sampled_from(list(Capability)),
    st.sampled_from(JURS),
    st.booleans(),  # CLOUD Act tag
    st.sampled_from((0.1, 0.3, 0.5, 0.7, 0.965, 1.0)),
    st.sampled_from(ROLES),
    st.integers(0, 3),  # provider
)
domain_st = st.lists(finding_st, max_size=6)
world_st = st.fixed_dictionaries(
    {
        "domains": st.lists(domain_st, min_size=0, max_size=10),
        "older": st.lists(domain_st, max_size=4),  # an older finished scan
        "running": st.booleans(),  # a newer scan still running
        "orgs": st.booleans(),
        "register": st.booleans(),
    }
)


Spec = list[tuple[Capability, str, bool, float, str, int]]


def _findings(domain: str, spec: Spec) -> list[Finding]:
    out = []
    for cap, jur, tag, conf, role, prov in spec:
        tags = ("us-cloud-act",) if tag else ()
        out.append(
            Finding(
                domain,
                cap,
                f"p{prov}",
                f"Provider {prov}",
                "",
                jur,
                conf,
                "CODE",
                (),
                tags,
                "",
                role,
            )
        )
    return out


def _scan(store: Store, domains: list[Spec], *, finish: bool) -> int:
    sid = store.start_scan(input="generated", input_digest=f"d{finish}{len(domains)}")
    batch = [
        (DomainResult(f"d{i}.example", (), {}, 0, 0, i), _findings(f"d{i}.example", spec))
        for i, spec in enumerate(domains)
    ]
    store.write_results(sid, batch, "kv")
    if finish:
        store.finish_scan(sid)
    return sid


def _csv_rows(text: str) -> int:
    return len(list(csv.reader(io.StringIO(text)))) - 1


def _marked(html: str) -> dict[str, int]:
    """The values a page marks with data-figure (Dutch or English digit grouping)."""
    out = {}
    for fid, val in re.findall(r'data-figure="([a-z_]+)"[^>]*>\s*([0-9.,]+)\s*<', html):
        out[fid] = int(val.replace(".", "").replace(",", ""))
    return out


def _summary_values(lines: list[str]) -> dict[str, int | None]:
    out: dict[str, int | None] = {}
    m = re.match(r"(\d+) domains scanned", lines[0])
    assert m, lines[0]
    out["domains_scanned"] = int(m.group(1))
    caps = {c.value: c for c in Capability}
    for line in lines[3:]:
        if line.startswith("("):  # the legend closes the figures table
            break
        parts = line.split()
        if len(parts) == 5 and parts[0] in caps:
            s = figures.slug(caps[parts[0]])
            for k, v in zip(("us", "non_us", "unknown"), parts[1:4], strict=True):
                out[f"{s}_{k}_domains"] = int(v)
    return out


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(world=world_st)
def test_every_surface_gives_the_same_figures(tmp_path_factory, world) -> None:  # type: ignore[no-untyped-def]
    tmp = tmp_path_factory.mktemp("fig")
    db = tmp / "s.sqlite"
    store = Store(db)
    if world["older"]:
        _scan(store, world["older"], finish=True)
    sid = _scan(store, world["domains"], finish=True)
    if world["running"]:
        _scan(store, [[(Capability.MAILBOX, "US", False, 1.0, "primary", 0)]], finish=False)
    if world["orgs"] and world["domains"]:
        add_organisations(
            store.engine,
            [(f"d{i}.example", {"name": f"Org {i}"}) for i in range(len(world["domains"]))],
            unmapped=0,
        )
    register = load_register_dir(REGISTER) if world["register"] else None
    with store.connect() as conn:
        truth = figures.compute(conn, store.latest_finished(), register)
    assert truth.scan is not None and truth.scan.id == sid  # the latest *finished* scan
    values = truth.values()
    # each figure equals the rows behind it; unknown stays unknown
    for f in truth:
        if f.value is not None:
            assert f.value == len(f.rows) == _csv_rows(f.csv_text()), f.id
    assert values["domains_scanned"] == len(world["domains"])
    if not world["orgs"] or not world["domains"]:
        assert values["organisations_mailbox_us"] is None
    if register is None:
        assert values["register_providers"] is None

    # 1. the scan summary (counted by the database, without rows)
    summary = _summary_values(summary_lines(store, sid))
    for k, v in summary.items():
        assert v == values[k], k

    # 2. sovmap figures --format json, and --rows
    args = ["figures", "--db", str(db), "--format", "json", "--rows", str(tmp / "rows")]
    if register is not None:
        args += ["--register", str(REGISTER)]
    buf = io.StringIO()
    with redirect_stdout(buf):
        assert main(args) == 0
    cli = {k: v["value"] for k, v in json.loads(buf.getvalue()).items()}
    assert cli == values
    for fid, v in cli.items():
        if v is not None:
            assert _csv_rows((tmp / "rows" / f"{fid}.csv").read_text()) == v, fid

    # 3. the web app: /api/figures, the overview page, the rows CSV
    with store.engine.begin() as conn:
        uid = create_user(conn, "v", "correct horse battery", "viewer")
        token = create_token(conn, uid, "t")
    app = create_app(store.engine, features=detect_features(REGISTER if register else None))
    with TestClient(app, base_url="http://testserver") as client:
        h = {"Authorization": f"Bearer {token}"}
        api = client.get("/api/figures", headers=h)
        assert api.status_code == 200
        assert {k: v["value"] for k, v in api.json().items()} == values
        page = client.get("/", headers=h)
        assert page.status_code == 200
        shown = _marked(page.text)
        assert shown and all(values[k] == v for k, v in shown.items())
        if world["running"]:
            assert "still running" in page.text
        for path in ("/domains", "/orgs"):
            other = client.get(path, headers=h)
            assert other.status_code == 200, path
            marked = _marked(other.text)
            assert all(values[k] == v for k, v in marked.items()), path
            if path == "/domains":
                assert marked["domains_scanned"] == values["domains_scanned"]
            elif values["organisations"] is not None:
                assert marked["organisations"] == values["organisations"]
        for fid in ("domains_scanned", "mailbox_us_domains"):
            rows = client.get(f"/api/figures/{fid}.csv", headers=h)
            assert _csv_rows(rows.text) == values[fid]

    # 4. the report: figures.json, figures/*.csv, report.html and the NL/EN brief
    out = tmp / "report"
    build_report(
        store.engine,
        "test",
        out,
        ReportOptions(register_dir=REGISTER if register else None, runs=50),
    )
    rep = {k: v["value"] for k, v in json.loads((out / "figures.json").read_text()).items()}
    assert rep == values
    for fid, v in rep.items():
        if v is not None:
            assert _csv_rows((out / "figures" / f"{fid}.csv").read_text()) == v, fid
    for name in ("report.html", "brief.en.html", "brief.nl.html"):
        shown = _marked((out / name).read_text())
        assert "domains_scanned" in shown, name
        assert all(values[k] == v for k, v in shown.items()), name
    store.close()


def test_mailbox_behind_a_gateway_counts_as_us(tmp_path: Path) -> None:
    """The demo's case: Microsoft 365 behind a Proofpoint gateway at 0.965 is a US mailbox;
    the same at 0.3 is unknown, not US and not non-US."""
    store = Store(tmp_path / "s.sqlite")
    sid = _scan(
        store,
        [
            [(Capability.MAILBOX, "US", True, 0.965, "behind-gateway", 0)],
            [(Capability.MAILBOX, "US", True, 0.3, "behind-gateway", 0)],
            [(Capability.MAILBOX, "NL", False, 0.6, "primary", 1)],
            [(Capability.MAILBOX, "US", True, 1.0, "candidate", 0)],
            [],
        ],
        finish=True,
    )
    with store.connect() as conn:
        figs = figures.compute(conn, store.latest_finished())
    assert figs.scan is not None and figs.scan.id == sid
    assert figs.value("domains_scanned") == 5
    assert figs.value("mailbox_us_domains") == 1
    assert figs.value("mailbox_unknown_domains") == 1
    assert figs.value("mailbox_non_us_domains") == 1
    assert figs.value("organisations_mailbox_us") is None  # no organisations: unknown
    store.close()
