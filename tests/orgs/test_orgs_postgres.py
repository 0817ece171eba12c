"""The organisation room on a real PostgreSQL store (the test run starts the server)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.support.postgres import postgres_server, postgres_url  # noqa: F401

from orgs.orgs_testlib import DATA
from sovmap.orgs import service
from sovmap.orgs.sources import SourceError
from sovmap.orgs.store import list_sets, load_orgs, open_store


@pytest.mark.postgres
def test_import_map_and_failed_import_on_postgres(postgres_url: str, tmp_path: Path) -> None:  # noqa: F811
    result = service.import_file(DATA / "exportOO.xml", db=postgres_url)
    assert (result.report.organisations, result.report.mapped) == (15, 12)
    result = service.import_file(DATA / "bodies.csv", db=postgres_url)
    engine = open_store(postgres_url)
    before = (list_sets(engine), sorted(o.id for o in load_orgs(engine)))
    assert len(before[1]) == 22
    with pytest.raises(SourceError, match="broken XML"):
        service.import_file(DATA / "broken.xml", db=postgres_url)
    assert (list_sets(engine), sorted(o.id for o in load_orgs(engine))) == before
    report, csv_text = service.map_current(postgres_url)
    assert report.shared["buch.nl"] == ("nl-oo:25811", "nl-oo:25812", "nl-oo:40213")
    assert csv_text.splitlines()[0] == "domain,org_id,org_name,org_type,parent_id,group"
