"""Limits before work: oversized bodies are refused with 413 before they are read, parsed or
authenticated, and the memory of a real ``sovmap serve`` process stays flat (read from
/proc while the test streams the body from a generator, so the test never holds it)."""

from __future__ import annotations

import select
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from tests.support.webstore import Store, auth, fill
from tests.web.serving import Served, serve

from sovmap.store.migrate import open_engine
from sovmap.web.app import create_app
from sovmap.web.features import detect_features
from sovmap.web.limits import BodyLimits

ROOT = Path(__file__).resolve().parents[2]
MiB = 1024 * 1024
CHUNK = b"\0" * MiB
BOUNDARY = "sovmaptestboundary"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    db = str(tmp_path_factory.mktemp("limits") / "limits.db")
    engine = open_engine(db)
    fill(engine, n=5)
    engine.dispose()
    with serve(db) as s:
        yield s


class PeakRSS:
    """Samples the server's resident memory every 10 ms in a thread; ``peak`` in MiB."""

    def __init__(self, served: Served) -> None:
        self.served = served
        self.peak = served.rss_mib()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.served.rss_mib())
            time.sleep(0.01)

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.served.rss_mib())


def multipart(total: int) -> Iterator[bytes]:
    """A multipart form whose user-name field is a file of ``total`` bytes."""
    yield (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="username"; '
        f'filename="u.bin"\r\nContent-Type: application/octet-stream\r\n\r\n'
    ).encode()
    for _ in range(total // MiB):
        yield CHUNK
    yield f"\r\n--{BOUNDARY}--\r\n".encode()


def json_body(total: int) -> Iterator[bytes]:
    """A JSON object whose name is a string of ``total`` bytes."""
    yield b'{"name": "'
    for _ in range(total // MiB):
        yield b"a" * MiB
    yield b'"}'


def chunked(parts: Iterator[bytes]) -> Iterator[bytes]:
    for p in parts:
        yield b"%x\r\n%s\r\n" % (len(p), p)
    yield b"0\r\n\r\n"


def send_raw(
    served: Served, head: str, body: Iterator[bytes], *, until_closed: bool = False
) -> tuple[int, int]:
    """Send the request head, then body pieces until the server answers; returns the status
    and how many body bytes went out before the answer (``until_closed``: and wait for the
    server to close the connection)."""
    with socket.create_connection(("127.0.0.1", served.port), timeout=60) as s:
        s.sendall(head.encode())
        sent = 0
        ready, _, _ = select.select([s], [], [], 2.0)  # an answer to the head alone?
        if not ready:
            for piece in body:
                if select.select([s], [], [], 0)[0]:
                    break
                try:
                    s.sendall(piece)
                except (BrokenPipeError, ConnectionResetError):
                    break
                sent += len(piece)
        data = b""
        try:
            while b"\r\n" not in data or until_closed:
                more = s.recv(65536)
                if not more:
                    break
                data += more
        except ConnectionResetError:
            pass
    assert data, "no answer from the server"
    return int(data.split(b" ", 2)[1]), sent


def head(method: str, path: str, ctype: str, length: int | None, extra: str = "") -> str:
    framing = f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked"
    return (
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {ctype}\r\n"
        f"{framing}\r\n{extra}\r\n"
    )


def test_huge_bodies_are_refused_with_flat_memory(server: Served) -> None:
    form = f"multipart/form-data; boundary={BOUNDARY}"
    size_mp = 256 * MiB
    size_json = 300 * 1000 * 1000
    with PeakRSS(server) as rss:
        # a 256 MiB file in the user-name field of the log-in form: 413 on the head alone
        status, sent = send_raw(
            server, head("POST", "/login", form, size_mp + 200), multipart(size_mp)
        )
        assert (status, sent) == (413, 0)
        # the same without a length (chunked): no file uploads on /login at all
        status, sent = send_raw(
            server, head("POST", "/login", form, None), chunked(multipart(size_mp))
        )
        assert status == 415 and sent < 64 * MiB
        # a 300 MB JSON body before authentication: 413 on the head alone
        status, sent = send_raw(
            server, head("POST", "/api/tokens", "application/json", size_json), json_body(size_json)
        )
        assert (status, sent) == (413, 0)
        # streamed without a length: counted, refused once past the limit
        status, sent = send_raw(
            server,
            head("POST", "/api/tokens", "application/json", None),
            chunked(json_body(size_json)),
        )
        assert status == 413 and sent < 64 * MiB
        # a route that never reads the body answers, and the connection closes: the server
        # does not drain the 256 MiB behind it (a socket timeout here fails the test)
        status, sent = send_raw(
            server,
            head("POST", "/login", "application/octet-stream", None),
            chunked(multipart(size_mp)),
            until_closed=True,
        )
        assert status == 403 and sent < 64 * MiB
    print(f"server RSS peak {rss.peak:.0f} MiB")
    assert rss.peak < 300, f"server RSS peaked at {rss.peak:.0f} MiB"
    # and the server still answers
    assert httpx.get(server.url + "/login").status_code == 200


def test_upload_paths_take_larger_bodies_and_count_streams(store: Store) -> None:
    limits = BodyLimits(form=1024, json=2048, upload=4096, upload_paths=("/up/",))
    app = create_app(store.engine, limits=limits)
    with TestClient(app) as c:
        h = auth(store, "viewer")
        # JSON: within its limit the route answers; past it, 413 before authentication
        assert c.post("/api/tokens", json={"name": "x" * 60}, headers=h).status_code == 201
        big = c.post(
            "/api/tokens",
            content=b'{"name":"' + b"x" * 3000 + b'"}',
            headers={"content-type": "application/json"},
        )
        assert big.status_code == 413 and "2 KiB" in big.json()["detail"]
        # form: 1 KiB
        r = c.post("/login", data={"username": "u" * 2000, "password": "p"})
        assert r.status_code == 413 and "<h1>Error 413</h1>" in r.text
        # multipart only where uploads are accepted
        files = {"f": ("a.txt", b"hello")}
        assert c.post("/login", files=files).status_code == 415
        assert c.post("/up/x", files=files).status_code == 404  # accepted, then routed
        assert c.post("/up/x", files={"f": ("a.txt", b"a" * 5000)}).status_code == 413


def test_streamed_upload_is_counted_and_a_file_in_a_register_edit_refused(
    store: Store, tmp_path: Path
) -> None:
    reg = tmp_path / "register"
    shutil.copytree(ROOT / "examples" / "register", reg)
    limits = BodyLimits(upload=64 * 1024)
    app = create_app(store.engine, features=detect_features(reg), limits=limits)
    url = "/register/services/siem"
    h = auth(store, "editor")
    with TestClient(app) as c:
        # a multipart stream without a length, read by the route: refused once past 64 KiB
        parts = (p for p in multipart(8 * MiB))
        r = c.post(
            url,
            content=parts,
            headers={**h, "content-type": f"multipart/form-data; boundary={BOUNDARY}"},
        )
        assert r.status_code == 413
        # a small file in an edit: a clear message, nothing written
        r = c.post(
            url, data={"exit_plan": "tested"}, files={"data_location": ("x", b"NL")}, headers=h
        )
        assert r.status_code == 422
        assert "data_location: a file was uploaded" in r.text
        assert not (reg / "web-edits.yaml").exists()
        # text fields of a multipart edit are held to the same characters as other input
        r = c.post(url, files={"data_location": (None, "N\0L")}, headers=h)
        assert r.status_code == 422 and "U+0000 is not accepted" in r.text
        assert not (reg / "web-edits.yaml").exists()
        # ?error= shows only catalogued messages
        page = c.get(url + "?error=<b>hacked</b>", headers=h)
        assert page.status_code == 200 and "hacked" not in page.text


def test_security_headers_on_refusals(client: TestClient) -> None:
    r = client.post("/login", content=b"x" * (65 * 1024), headers={"content-type": "text/plain"})
    assert r.status_code == 413
    assert r.headers["x-frame-options"] == "DENY" and "content-security-policy" in r.headers


def test_limits_from_a_fresh_store(tmp_path: Path) -> None:
    engine = open_engine(str(tmp_path / "fresh.db"))
    fill(engine, n=2)
    with TestClient(create_app(engine)) as c:
        assert c.get("/login").status_code == 200
        r = c.post("/api/tokens", json={"name": "n" * 70_000})
        assert r.status_code == 413
    engine.dispose()
