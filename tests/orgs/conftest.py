"""Fixtures for the organisation room: the recorded source documents served over HTTP on
loopback, exactly as the real endpoints would serve them."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from orgs.orgs_testlib import DATA, FixtureServer

#: URL path -> (fixture file, content type)
ROUTES = {
    "/archive/exportOO.xml": ("exportOO.xml", "application/xml"),
    "/archive/exportOO_zelfstandige_bestuursorganen.xml": (
        "exportOO_zelfstandige_bestuursorganen.xml",
        "application/xml",
    ),
    "/archive/broken.xml": ("broken.xml", "application/xml"),
    "/sparql": ("wikidata-nl-municipality.json", "application/sparql-results+json"),
    "/lists/bodies.csv": ("bodies.csv", "text/csv"),
    "/lists/bodies.xlsx": (
        "bodies.xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ),
}


@pytest.fixture
def http_fixtures(tmp_path: Path) -> Iterator[FixtureServer]:
    """A loopback HTTP server answering like the real sources, from tests/orgs/data."""
    server_state = FixtureServer(base="")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            server_state.requests.append((parts.path, parse_qs(parts.query)))
            route = ROUTES.get(parts.path)
            path = tmp_path / route[0] if route else None
            if route and not (path and path.exists()):
                path = DATA / route[0]
            if route is None or path is None or not path.exists():
                self.send_error(404)
                return
            body = path.read_bytes()
            self.send_response(200)
            self.send_header("Content-Type", route[1])
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server_state.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server_state
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def dead_port() -> int:
    """A loopback port with nothing listening: connecting is refused."""
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = int(s.getsockname()[1])
    s.close()
    return port
