"""The optional GLEIF check, against a GLEIF API served on loopback (records in GLEIF's
documented JSON:API format) and against a file of GLEIF records."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from regtools import EXAMPLE

from sovmap.cli import main

BANK = EXAMPLE.parent / "bank-register"
NAMES = {
    "724500POLDERBANKNL53": "Polderbank N.V. (fictional)",
    "724500POLDERHYPOTH11": "Polder Hypotheken B.V. (fictional)",
    "INR2EJN1ERAN0W5ZP974": "MICROSOFT CORPORATION",
    "ZXTILKJKG63JELOEG630": "AMAZON.COM, INC.",
    "529900D6BF99LW9R2E68": "SAP SE",
    "724500KERNSYSTEEM060": "Kernsysteem B.V. (fictional)",
}


def record(lei: str, name: str, status: str = "ISSUED") -> dict[str, Any]:
    """One lei-records resource as GLEIF's API returns it (abridged to what is read)."""
    return {
        "type": "lei-records",
        "id": lei,
        "attributes": {
            "lei": lei,
            "entity": {
                "legalName": {"name": name, "language": "en"},
                "status": "ACTIVE",
            },
            "registration": {"status": status},
        },
        "relationships": {
            "ultimate-parent": {
                "links": {"lei-record": f"/api/v1/lei-records/{lei}/ultimate-parent"}
            }
        },
    }


class World:
    def __init__(self) -> None:
        self.records = {lei: record(lei, name) for lei, name in NAMES.items()}
        self.parents: dict[str, str] = {}


@pytest.fixture
def gleif() -> Iterator[tuple[str, World]]:
    world = World()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = self.path.strip("/").split("/")
            body: dict[str, Any] | None = None
            if parts[:3] == ["api", "v1", "lei-records"] and len(parts) == 4:
                rec = world.records.get(parts[3])
                body = {"data": rec} if rec else None
            elif parts[:3] == ["api", "v1", "lei-records"] and parts[4:] == ["ultimate-parent"]:
                parent = world.parents.get(parts[3])
                body = {"data": world.records[parent]} if parent else None
            if body is None:
                self.send_response(404)
                self.send_header("Content-Type", "application/vnd.api+json")
                self.end_headers()
                self.wfile.write(b'{"errors": [{"status": "404", "title": "Not Found"}]}')
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/vnd.api+json")
            self.end_headers()
            self.wfile.write(json.dumps(body).encode())

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/api/v1", world
    finally:
        server.shutdown()
        server.server_close()


def _export(out: Path, source: str) -> int:
    args = ["register", "export", str(BANK), "--format", "dora-roi", "--out", str(out)]
    return main([*args, "--date", "2025-12-31", "--gleif", source])


def test_bank_register_matches_gleif(
    gleif: tuple[str, World], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url, _ = gleif
    assert _export(tmp_path, url) == 0
    assert "SOV_GLEIF" not in capsys.readouterr().err


def test_status_parent_name_and_unknown_lei(
    gleif: tuple[str, World], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url, world = gleif
    world.records["529900D6BF99LW9R2E68"] = record("529900D6BF99LW9R2E68", "SAP SE", "RETIRED")
    world.parents["724500KERNSYSTEEM060"] = "ZXTILKJKG63JELOEG630"
    world.records["INR2EJN1ERAN0W5ZP974"] = record("INR2EJN1ERAN0W5ZP974", "Microsoft Corp.")
    del world.records["724500POLDERHYPOTH11"]
    assert _export(tmp_path, url) == 1
    err = capsys.readouterr().err
    assert "SOV_GLEIF_STATUS: B_05.01.c0010 [c0010=529900D6BF99LW9R2E68]" in err
    assert "RETIRED" in err
    assert (
        "SOV_GLEIF_PARENT: B_05.01.c0110 [c0010=724500KERNSYSTEEM060]: ultimate parent "
        "724500KERNSYSTEEM060 in the register, ZXTILKJKG63JELOEG630 in GLEIF" in err
    )
    assert "warning: reports/b_05.01.csv:3: SOV_GLEIF_NAME" in err
    assert "SOV_GLEIF_UNKNOWN: B_01.02.c0010 [c0010=724500POLDERHYPOTH11]" in err


def test_a_file_of_gleif_records(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data: list[dict[str, Any]] = [record(lei, name) for lei, name in NAMES.items()]
    path = tmp_path / "gleif.json"
    path.write_text(json.dumps({"data": data}))
    assert _export(tmp_path / "a", str(path)) == 0
    data.append(
        {
            "type": "relationship-records",
            "attributes": {
                "relationship": {
                    "startNode": {"id": "529900D6BF99LW9R2E68", "type": "LEI"},
                    "endNode": {"id": "INR2EJN1ERAN0W5ZP974", "type": "LEI"},
                    "type": "IS_ULTIMATELY_CONSOLIDATED_BY",
                }
            },
        }
    )
    path.write_text(json.dumps({"data": data}))
    assert _export(tmp_path / "b", str(path)) == 1
    assert "SOV_GLEIF_PARENT" in capsys.readouterr().err


def test_gleif_unreachable_is_exit_3(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert _export(tmp_path, f"http://127.0.0.1:{port}/api/v1") == 3
