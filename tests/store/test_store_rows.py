"""Scan rows written through the driver's executemany read back as they went in, on SQLite
and on a real PostgreSQL server; an overlapping second batch keeps the first rows."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.support.postgres import postgres_server, postgres_url  # noqa: F401

from sovmap.model import RR, Capability, DomainResult, Evidence, Finding, Observation, Status
from sovmap.store import DOMAIN_COLUMNS, FINDING_COLUMNS, Store
from sovmap.store.schema import findings, scan_domains


def _result(domain: str, n: int) -> tuple[DomainResult, list[Finding]]:
    obs = (
        Observation("mx", domain, "MX", Status.NOERROR, (RR(domain, "MX", 300, f"10 mx{n}.x"),)),
        Observation("dkim", f"s1._domainkey.{domain}", "TXT", Status.NXDOMAIN),
    )
    ev = Evidence("mx", domain, "MX", f"10 mx{n}.x", "mx:x", "https://x.example/doc", 0.9)
    f = Finding(
        domain=domain,
        capability=Capability.MAILBOX,
        provider="x",
        provider_name="X 'quoted' %s",  # placeholders and quotes stay data
        parent="X Inc.",
        jurisdiction="US",
        confidence=0.9,
        code="MAILBOX_US_JURISDICTION",
        evidence=(ev,),
        tags=("us-cloud-act",),
        service="mail",
    )
    return DomainResult(domain, obs, {"name": f"Org {n}"}, 2, 1, n), [f]


def _check(store: Store) -> None:
    sid = store.start_scan(input="x", input_digest="d")
    first = [_result(f"d{i}.example", i) for i in range(3)]
    assert store.write_results(sid, first, "kv") == 3
    # a second writer overlaps the first batch: d2 keeps its first rows, d3 and d4 are added
    second = [_result(f"d{i}.example", 100 + i) for i in range(2, 5)]
    assert store.write_results(sid, second, "kv") == 2
    got = {d: (attrs, obs) for d, attrs, obs in store.iter_results(sid)}
    assert sorted(got) == [f"d{i}.example" for i in range(5)]
    assert got["d2.example"] == ({"name": "Org 2"}, first[2][0].observations)
    assert got["d4.example"] == ({"name": "Org 104"}, second[2][0].observations)
    with store.engine.connect() as c:
        rows = c.execute(
            findings.select().where(findings.c.scan_id == sid).order_by(findings.c.domain)
        ).all()
        doms = c.execute(scan_domains.select().where(scan_domains.c.scan_id == sid)).all()
    assert len(rows) == 5 and len(doms) == 5
    assert set(DOMAIN_COLUMNS) <= set(doms[0]._mapping)
    assert set(FINDING_COLUMNS) <= set(rows[0]._mapping)
    # every column of the tables is written (the id is the database's own)
    assert set(DOMAIN_COLUMNS) == {c.name for c in scan_domains.columns}
    assert set(FINDING_COLUMNS) == {c.name for c in findings.columns} - {"id"}
    d2 = next(r for r in rows if r.domain == "d2.example")
    assert d2.provider_name == "X 'quoted' %s" and d2.knowledge_version == "kv"
    assert '"10 mx2.x"' in d2.evidence and d2.tags == '["us-cloud-act"]'
    assert {r.position for r in doms} == {0, 1, 2, 103, 104}


def test_rows_round_trip_on_sqlite(tmp_path: Path) -> None:
    _check(Store(tmp_path / "s.sqlite"))


@pytest.mark.postgres
def test_rows_round_trip_on_postgres(postgres_url: str) -> None:  # noqa: F811
    store = Store(postgres_url)
    try:
        _check(store)
    finally:
        store.close()


def test_observations_blobs_old_and_new_read_back_and_damage_is_a_clear_error() -> None:
    import json
    import zlib

    from sovmap.store import _pack_observations, observations_json, unpack_observations

    obs, _ = _result("z.example", 1)
    new = _pack_observations(obs.observations)
    assert new[:4] == b"\x28\xb5\x2f\xfd"  # zstd frame
    assert unpack_observations(new) == obs.observations
    old = zlib.compress(observations_json(new), 1)  # what earlier versions stored
    assert unpack_observations(old) == obs.observations
    assert json.loads(observations_json(old)) == json.loads(observations_json(new))
    for bad in (new[:-3], b"\x28\xb5\x2f\xfd" + b"\x00" * 9, old[:5], b"not a blob"):
        with pytest.raises(ValueError, match="stored observations are damaged"):
            unpack_observations(bad)
