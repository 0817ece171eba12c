"""Golden zones for operators added to the catalogue with issue 17's catalogue breadth: each
new gateway or regional operator in a realistic zone, scanned through the real pipeline against
a loopback nameserver, findings compared with ``tests/data/golden/operators.json`` (the same
stable projection as ``tests/collect/test_golden.py``). Regenerate on purpose only::

    SOVMAP_REGEN_GOLDEN=1 pytest tests/knowledge/test_operator_golden.py
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from sovmap.collect.engine import EngineConfig
from sovmap.collect.pipeline import ScanSettings, run_scan
from sovmap.devserver import DevServer
from sovmap.model import Finding
from sovmap.store import Store

DATA = Path(__file__).resolve().parents[1] / "data"
ZONES = DATA / "operators" / "zones"
INPUT = DATA / "operators" / "domains.csv"
GOLDEN = DATA / "golden" / "operators.json"
REGEN = os.environ.get("SOVMAP_REGEN_GOLDEN") == "1"


def project(f: Finding) -> dict[str, Any]:
    return {
        "domain": f.domain,
        "capability": f.capability.value,
        "provider": f.provider,
        "jurisdiction": f.jurisdiction,
        "role": f.role,
        "code": f.code,
        "probes": sorted({e.probe for e in f.evidence}),
    }


def _key(p: dict[str, Any]) -> tuple[str, ...]:
    return (p["domain"], p["capability"], p["provider"], p["role"], p["code"])


@pytest.fixture(scope="module")
def findings(tmp_path_factory: pytest.TempPathFactory) -> list[Finding]:
    db = tmp_path_factory.mktemp("ops") / "ops.sqlite"
    with DevServer(ZONES) as srv:
        store = Store(db)
        engine = EngineConfig(resolvers=[(srv.host, srv.port)], timeout=0.3, attempts=2)
        outcome = run_scan(INPUT, store, ScanSettings(engine, resume=False))
        out = list(store.iter_findings(outcome.scan_id))
        store.close()
    if REGEN:
        rows = sorted(map(project, out), key=_key)
        GOLDEN.write_text(json.dumps(rows, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return out


def test_golden_operator_findings(findings: list[Finding]) -> None:
    expected = json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert sorted(map(project, findings), key=_key) == expected


def test_every_case_says_what_it_is() -> None:
    domains = [line.split(",")[0] for line in INPUT.read_text().splitlines()[1:]]
    for d in domains:
        first = (ZONES / f"{d}.zone").read_text(encoding="utf-8").splitlines()[0]
        assert first.startswith("; ") and len(first) > 40


def test_municipal_it_gateways_are_named_and_look_through(findings: list[Finding]) -> None:
    by = {(f.domain, f.capability.value, f.role): f for f in findings}
    unikom = by[("kommun-skanegoinge.se", "mail-gateway", "primary")]
    assert (unikom.provider, unikom.jurisdiction) == ("unikom", "SE")
    behind = by[("kommun-skanegoinge.se", "mailbox", "behind-gateway")]
    assert behind.provider == "microsoft"
    saita = by[("kunta-karjalanlahti.fi", "mail-gateway", "primary")]
    assert (saita.provider, saita.jurisdiction) == ("meita", "FI")
    assert by[("kunta-karjalanlahti.fi", "mailbox", "behind-gateway")].provider == "microsoft"
    alone = by[("kunta-saitala.fi", "mailbox", "behind-gateway")]
    assert (alone.provider, alone.jurisdiction) == ("meita", "FI")
    cnv = by[("gemeinde-ludesch-tal.at", "mailbox", "behind-gateway")]
    assert (cnv.provider, cnv.jurisdiction) == ("cnv", "AT")
    m365 = by[("marktgemeinde-montafon-ost.at", "mailbox", "behind-gateway")]
    assert m365.provider == "microsoft"
