"""Alerts on change events: a real rescan (in-process nameserver on loopback) that moves a
municipality's mail to Microsoft 365 delivers exactly one e-mail to a local SMTP sink
(aiosmtpd) and one signed webhook to a local HTTP receiver, with the right content, in the
configured language; a second send delivers nothing more; the web's /changes reads the
events the scan kept. Webhook retries and bad settings are checked too."""

from __future__ import annotations

import email
import hashlib
import hmac
import shutil
import socket
import threading
from collections.abc import Iterator
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiosmtpd.controller import Controller

from sovmap.alerts import AlertError, kept_changes, load_alert_settings
from sovmap.alerts.deliver import Alert, send_webhook, sign
from sovmap.alerts.settings import WebhookSettings
from sovmap.cli import main
from sovmap.devserver import DevServer
from sovmap.store import Store
from sovmap.store.snapshots import list_scans

DEMO = Path(str(resources.files("sovmap") / "data" / "demo"))
MOVED = """; the Austrian municipality moved its mail to Microsoft 365
$ORIGIN marktgemeinde-almtal.at.
$TTL 3600
@ SOA ns1 hostmaster 1 3600 600 86400 300
@ NS ns1.gemeindeserver-example.at.
@ MX 0 marktgemeindealmtal-at01c.mail.protection.outlook.com.
@ TXT "v=spf1 include:spf.protection.outlook.com -all"
@ TXT "MS=ms11112222"
autodiscover CNAME autodiscover.outlook.com.
"""
SECRET = "webhook secret for the test"


class _Sink:
    """aiosmtpd handler keeping every message it receives."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[_Sink, int]]:
    sink = _Sink()
    with socket.socket() as s:  # a free loopback port (the controller checks it by connecting)
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    ctl = Controller(sink, hostname="127.0.0.1", port=port)
    ctl.start()
    try:
        yield sink, port
    finally:
        ctl.stop()


class _Receiver(ThreadingHTTPServer):
    def __init__(self, fail_first: int = 0) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.fail_first = fail_first
        super().__init__(("127.0.0.1", 0), _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: _Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.received.append((dict(self.headers.items()), body))
        status = 503 if len(self.server.received) <= self.server.fail_first else 204
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def hook() -> Iterator[_Receiver]:
    srv = _Receiver()
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()


def _scan(zones: Path, db: Path, domains: Path) -> None:
    with DevServer(zones) as srv:
        code = main(
            [
                *("scan", str(domains), "--resolver", srv.address, "--db", str(db)),
                *("--timeout", "2", "--quiet"),  # generous: a busy machine must not lose answers
            ]
        )
    assert code == 0


def test_rescan_adding_a_us_dependency_alerts_once_by_email_and_webhook(
    tmp_path: Path,
    smtp: tuple[_Sink, int],
    hook: _Receiver,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sink, smtp_port = smtp
    zones = tmp_path / "zones"
    shutil.copytree(DEMO / "zones", zones)
    db = tmp_path / "s.sqlite"
    settings = tmp_path / "alerts.yaml"
    settings.write_text(
        "lang: nl\n"
        "kinds: [NEW_US_DEPENDENCY]\n"
        f"email: {{host: 127.0.0.1, port: {smtp_port}, from: sovmap@example.nl, "
        "to: [cio@example.nl]}\n"
        f"webhook: {{url: 'http://127.0.0.1:{hook.server_address[1]}/hook', "
        "secret_env: SOVMAP_TEST_HOOK_SECRET, backoff: 0.05}\n"
    )
    monkeypatch.setenv("SOVMAP_TEST_HOOK_SECRET", SECRET)
    _scan(zones, db, DEMO / "domains.csv")
    assert main(["alerts", "configure", str(settings), "--db", str(db)]) == 0
    _scan(zones, db, DEMO / "domains.csv")  # nothing changed: nothing to alert
    assert sink.messages == [] and hook.received == []

    (zones / "marktgemeinde-almtal.at.zone").write_text(MOVED)
    _scan(zones, db, DEMO / "domains.csv")

    assert len(sink.messages) == 1
    msg = sink.messages[0]
    assert msg["To"] == "cio@example.nl" and msg["From"] == "sovmap@example.nl"
    assert msg["Subject"] == "sovmap: 2 wijziging(en) in scan #3"
    text = msg.get_payload(decode=True).decode().replace("\r\n", "\n")  # type: ignore[union-attr]
    assert "Wijzigingen tussen scan #2 en scan #3 (2):" in text
    lines = [x for x in text.splitlines() if x.startswith("- ")]
    assert lines == [
        "- Nieuwe Amerikaanse afhankelijkheid: marktgemeinde-almtal.at, mailbox: "
        "gemeindeserver-example.at (AT) → Microsoft (US) (domeinen: marktgemeinde-almtal.at)",
        "- Nieuwe Amerikaanse afhankelijkheid: marktgemeinde-almtal.at, kantoortoepassingen en "
        "documenten: geen → Microsoft (US) (domeinen: marktgemeinde-almtal.at)",
    ]
    assert "Zonnedal" not in text  # unchanged organisations are not mentioned

    assert len(hook.received) == 1
    headers, body = hook.received[0]
    stamp = headers["X-Sovmap-Timestamp"]
    mac = hmac.new(SECRET.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    assert headers["X-Sovmap-Signature"] == f"sha256={mac}" == sign(SECRET.encode(), stamp, body)
    data = orjson.loads(body)
    assert (data["old_scan"], data["new_scan"], data["count"]) == (2, 3, 2)
    assert data["text"] == text and data["subject"] == msg["Subject"]
    assert [(e["kind"], e["capability"], e["domains"]) for e in data["events"]] == [
        ("NEW_US_DEPENDENCY", "mailbox", ["marktgemeinde-almtal.at"]),
        ("NEW_US_DEPENDENCY", "office-suite", ["marktgemeinde-almtal.at"]),
    ]
    assert [p["id"] for e in data["events"] for p in e["new"]] == ["microsoft", "microsoft"]

    # a second send (and a re-run of the hook) delivers nothing more
    capsys.readouterr()
    assert main(["alerts", "send", "--db", str(db)]) == 0
    assert "al verstuurd" not in capsys.readouterr().out  # English unless --lang nl
    assert main(["alerts", "send", "--db", str(db), "--lang", "nl"]) == 0
    assert "Scan #3: al verstuurd per email." in capsys.readouterr().out
    assert len(sink.messages) == 1 and len(hook.received) == 1

    # the scan kept the events: the web reads them instead of recomputing
    store = Store(str(db))
    try:
        with store.engine.connect() as conn:
            done = [s for s in list_scans(conn) if s.finished]
            kept = kept_changes(conn, done[-2], done[-1])
    finally:
        store.close()
    assert kept is not None
    kinds = {(e.kind.value, e.capability.value, e.subject) for e in kept.events}
    assert ("NEW_US_DEPENDENCY", "mailbox", "marktgemeinde-almtal.at") in kinds
    assert ("PROVIDER_CHANGED", "mailbox", "marktgemeinde-almtal.at") in kinds
    assert {e.subject for e in kept.events} == {"marktgemeinde-almtal.at"}

    # /api/changes answers with the kept events (the diff is not run again: it is blocked)
    from fastapi.testclient import TestClient

    from sovmap.orgs import service as orgs_service
    from sovmap.web.app import create_app
    from sovmap.web.auth import create_token, create_user

    def no_diff(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the web recomputed the change events")

    monkeypatch.setattr(orgs_service, "diff", no_diff)
    store = Store(str(db))
    try:
        with store.engine.begin() as conn:
            token = create_token(conn, create_user(conn, "v", "viewer password", "viewer"), "t")
        client = TestClient(create_app(store.engine), base_url="http://testserver")
        r = client.get("/api/changes", headers={"Authorization": f"Bearer {token}"})
    finally:
        store.close()
    assert r.status_code == 200, r.text
    assert r.json()["events"] == [e.to_json() for e in kept.events]


def _alert() -> Alert:
    return Alert(1, 2, (), "subject", "text\n")


def test_webhook_retries_with_back_off_then_gives_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOVMAP_TEST_HOOK_SECRET", SECRET)
    srv = _Receiver(fail_first=2)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    waits: list[float] = []
    try:
        url = f"http://127.0.0.1:{srv.server_address[1]}/"
        h = WebhookSettings(url, "SOVMAP_TEST_HOOK_SECRET", timeout=2, retries=3, backoff=0.5)
        assert send_webhook(_alert(), h, sleep=waits.append) == 3
        assert waits == [0.5, 1.0] and len(srv.received) == 3
        srv.fail_first = 100
        with pytest.raises(AlertError, match=r"ALERT_WEBHOOK_FAILED: .*HTTP 503"):
            send_webhook(_alert(), h, sleep=waits.append)
        assert waits[2:] == [0.5, 1.0, 2.0]  # 1 + 3 retries, back-off doubling
    finally:
        srv.shutdown()
        srv.server_close()


def test_webhook_timeout_is_a_delivery_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOVMAP_TEST_HOOK_SECRET", SECRET)
    with socket.socket() as quiet:  # accepts the connection, never answers
        quiet.bind(("127.0.0.1", 0))
        quiet.listen(4)
        url = f"http://127.0.0.1:{quiet.getsockname()[1]}/"
        h = WebhookSettings(url, "SOVMAP_TEST_HOOK_SECRET", timeout=0.3, retries=1, backoff=0)
        with pytest.raises(AlertError, match="ALERT_WEBHOOK_FAILED"):
            send_webhook(_alert(), h, sleep=lambda s: None)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("email: {host: x}\n", "email.to"),
        ("webhook: {url: 'ftp://x/', secret_env: S}\n", "http"),
        ("kinds: [NEW_THING]\nwebhook: {url: 'http://x/', secret_env: S}\n", "kinds"),
        ("lang: de\nwebhook: {url: 'http://x/', secret_env: S}\n", "lang"),
        ("{}\n", "give email, webhook or both"),
        ("webhook: {url: 'http://x/', secret_env: S, retries: 99}\n", "retries"),
        ("webhook: {url: 'http://x/', secret: inline}\n", "unknown key"),
    ],
)
def test_bad_settings_are_named(tmp_path: Path, text: str, problem: str) -> None:
    f = tmp_path / "a.yaml"
    f.write_text(text)
    with pytest.raises(AlertError, match=problem):
        load_alert_settings(f)


def test_configure_refuses_a_bad_file_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "a.yaml"
    f.write_text("email: [1, 2]\n")
    assert main(["alerts", "configure", str(f), "--db", str(tmp_path / "s.sqlite")]) == 2
    assert "email must be a mapping" in capsys.readouterr().err


def _self_signed(tmp: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key (the test's own CA: the certificate itself)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp / "cert.pem", tmp / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


def test_email_over_starttls_with_log_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import ssl

    from aiosmtpd.smtp import AuthResult, LoginPassword

    from sovmap.alerts.deliver import send_email
    from sovmap.alerts.settings import EmailSettings

    cert, key = _self_signed(tmp_path)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    logins: list[tuple[bytes, bytes]] = []

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        assert isinstance(data, LoginPassword)
        logins.append((data.login, data.password))
        return AuthResult(success=data.password == b"smtp password")

    sink = _Sink()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    ctl = Controller(
        sink,
        hostname="127.0.0.1",
        port=port,
        tls_context=ctx,
        require_starttls=True,
        authenticator=authenticator,
        auth_required=True,
    )
    ctl.start()
    try:
        alert = Alert(1, 2, (), "sovmap: test", "body\n")
        monkeypatch.setenv("SOVMAP_TEST_SMTP_PASSWORD", "smtp password")
        good = EmailSettings(
            "127.0.0.1",
            port,
            "sovmap@example.nl",
            ("cio@example.nl",),
            starttls=True,
            username="sovmap",
            password_env="SOVMAP_TEST_SMTP_PASSWORD",
            ca_file=str(cert),
        )
        send_email(alert, good)
        assert len(sink.messages) == 1 and sink.messages[0]["Subject"] == "sovmap: test"
        assert logins == [(b"sovmap", b"smtp password")]
        # a wrong password, no STARTTLS where the server requires it, an untrusted certificate
        monkeypatch.setenv("SOVMAP_TEST_SMTP_PASSWORD", "wrong")
        with pytest.raises(AlertError, match="ALERT_EMAIL_FAILED"):
            send_email(alert, good)
        monkeypatch.setenv("SOVMAP_TEST_SMTP_PASSWORD", "smtp password")
        plain = EmailSettings("127.0.0.1", port, "sovmap@example.nl", ("cio@example.nl",))
        with pytest.raises(AlertError, match="ALERT_EMAIL_FAILED"):
            send_email(alert, plain)
        untrusted = EmailSettings(
            "127.0.0.1", port, "sovmap@example.nl", ("cio@example.nl",), starttls=True
        )
        with pytest.raises(AlertError, match="ALERT_EMAIL_FAILED"):
            send_email(alert, untrusted)
        assert len(sink.messages) == 1
    finally:
        ctl.stop()
