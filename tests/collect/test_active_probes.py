"""Opt-in active probes (``sovmap scan --probe http,smtp``) against loopback fakes: an HTTP
server answering Microsoft's realm and OpenID-configuration documents, Google's domain
sign-in page and MTA-STS policy files the way those services do, and SMTP servers with a
banner, EHLO, STARTTLS and a self-signed certificate made here. The zones in
``tests/data/active/zones`` are served by the devserver; the expected findings are
``tests/data/golden/active.json`` (regenerate with SOVMAP_REGEN_GOLDEN=1, read the diff).
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from sovmap.classify.posture import posture
from sovmap.cli import main as cli_main
from sovmap.collect.active import ActiveProber, ActiveSettings, default_settings, parse_groups
from sovmap.collect.active.budget import Politeness
from sovmap.collect.active.settings import ProbeSettingsError, with_overrides
from sovmap.collect.active.smtp import probe_host
from sovmap.collect.engine import EngineConfig
from sovmap.collect.pipeline import ScanSettings, reclassify, run_scan
from sovmap.devserver import DevServer
from sovmap.model import Finding, Status
from sovmap.store import Store

DATA = Path(__file__).resolve().parents[1] / "data"
ZONES = DATA / "active" / "zones"
INPUT = DATA / "active" / "domains.csv"
GOLDEN = DATA / "golden" / "active.json"
REGEN = os.environ.get("SOVMAP_REGEN_GOLDEN") == "1"

TENANT_ID = "6babcaad-604b-40ac-a9d7-9fd97c0b779f"
CONTROL = "\x1b]0;owned\x07"


# -- the fakes -----------------------------------------------------------------------------


class FakeLogin(ThreadingHTTPServer):
    """Microsoft's login endpoints, Google's domain sign-in page and MTA-STS policy files,
    answered the way the real services shape them; every request's time is kept."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.realms: dict[str, dict[str, Any]] = {}
        self.tenants: dict[str, str] = {}
        self.google: set[str] = set()
        self.policies: dict[str, str] = {}
        self.times: list[float] = []
        self.body_for: dict[str, bytes] = {}  # path -> a raw body (hostile answers)
        self.delay = 0.0  # seconds before each answer

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def endpoints(self) -> dict[str, str]:
        b = self.base
        return {
            "realm": b + "/getuserrealm.srf?login=user@{domain}&json=1",
            "openid": b + "/{domain}/v2.0/.well-known/openid-configuration",
            "google": b + "/a/{domain}/ServiceLogin",
            "mta_sts": b + "/mta-sts/{domain}/.well-known/mta-sts.txt",
        }


class _Handler(BaseHTTPRequestHandler):
    server: FakeLogin

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def _send(self, code: int, body: bytes, ctype: str, **headers: str) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        srv = self.server
        srv.times.append(time.monotonic())
        time.sleep(srv.delay)
        url = urlsplit(self.path)
        parts = url.path.strip("/").split("/")
        if url.path in srv.body_for:
            self._send(200, srv.body_for[url.path], "application/json")
        elif url.path == "/getuserrealm.srf":
            login = parse_qs(url.query)["login"][0]
            domain = login.partition("@")[2]
            doc = srv.realms.get(
                domain,
                {"State": 4, "UserState": 1, "Login": login, "NameSpaceType": "Unknown"},
            )
            self._send(200, json.dumps(doc).encode(), "application/json; charset=utf-8")
        elif len(parts) == 4 and parts[1:] == ["v2.0", ".well-known", "openid-configuration"]:
            tenant = srv.tenants.get(parts[0])
            if tenant is None:
                err = {"error": "invalid_tenant", "error_description": "AADSTS90002: not found"}
                self._send(400, json.dumps(err).encode(), "application/json")
                return
            doc = {
                "issuer": f"https://login.microsoftonline.com/{tenant}/v2.0",
                "tenant_region_scope": "EU",
                "cloud_instance_name": "microsoftonline.com",
            }
            self._send(200, json.dumps(doc).encode(), "application/json")
        elif len(parts) == 3 and parts[0] == "a" and parts[2] == "ServiceLogin":
            if parts[1] in srv.google:
                # (with terminal control bytes: escaped wherever shown, raw in the store)
                target = f"https://accounts.google.com/ServiceLogin?hd={parts[1]}{CONTROL}"
                self._send(302, b"", "text/html", Location=target)
            else:
                self._send(200, b"<html>not a Google Workspace domain</html>", "text/html")
        elif parts[0] == "mta-sts" and parts[1] in srv.policies:
            self._send(200, srv.policies[parts[1]].encode(), "text/plain")
        else:
            self._send(404, b"not found", "text/plain")


def _self_signed(directory: Path, names: list[str]) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), False)
        .sign(key, hashes.SHA256())
    )
    cpath, kpath = directory / "cert.pem", directory / "key.pem"
    cpath.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    kpath.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cpath, kpath


class FakeSmtp:
    """An SMTP server on ``host``: ``banner``, EHLO (with STARTTLS when ``tls`` is given),
    STARTTLS into ``tls``; ``mode`` "silent" never speaks, "flood" sends one endless line."""

    def __init__(
        self,
        host: str,
        port: int,
        banner: str,
        tls: ssl.SSLContext | None = None,
        mode: str = "normal",
    ) -> None:
        self.banner, self.tls, self.mode = banner, tls, mode
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._session, args=(conn,), daemon=True).start()

    def _session(self, conn: socket.socket) -> None:
        try:
            if self.mode == "silent":
                self.stop.wait(5)
                return
            if self.mode == "flood":
                conn.sendall(b"220 " + b"x" * 20000)
                self.stop.wait(5)
                return
            conn.sendall(f"{self.banner}\r\n".encode())
            f = conn.makefile("rb")
            while True:
                line = f.readline(1000).strip().upper()
                if not line:
                    return
                if line.startswith(b"EHLO"):
                    ext = ["250-fake at your service", "250-SIZE 35882577"]
                    ext.append("250-STARTTLS" if self.tls else "250-PIPELINING")
                    ext.append("250 SMTPUTF8")
                    conn.sendall(("\r\n".join(ext) + "\r\n").encode())
                elif line == b"STARTTLS" and self.tls:
                    conn.sendall(b"220 2.0.0 ready to start TLS\r\n")
                    tls = self.tls.wrap_socket(conn, server_side=True)
                    tls.recv(100)  # QUIT
                    tls.sendall(b"221 bye\r\n")
                    tls.close()
                    return
                elif line == b"QUIT":
                    conn.sendall(b"221 bye\r\n")
                    return
                else:
                    conn.sendall(b"502 5.5.2 not implemented\r\n")
        except OSError:
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self.stop.set()
        self.sock.close()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("active")
    cert, key = _self_signed(tmp, ["*.mail.protection.outlook.com", "mail.protection.outlook.com"])
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    login = FakeLogin()
    threading.Thread(target=login.serve_forever, daemon=True).start()
    login.realms["gemeente-tenant.nl"] = {
        "State": 3,
        "UserState": 2,
        "Login": "user@gemeente-tenant.nl",
        "NameSpaceType": "Managed",
        "DomainName": "gemeente-tenant.nl",
        "FederationBrandName": "Gemeente Tenant",
        "CloudInstanceName": "microsoftonline.com",
    }
    login.tenants["gemeente-tenant.nl"] = TENANT_ID
    login.google.add("school-wolk.nl")
    login.policies["gemeente-tenant.nl"] = (
        "version: STSv1\nmode: enforce\nmx: mx.gemeente-tenant.nl\nmax_age: 86400\n"
    )
    first = FakeSmtp(
        "127.0.0.1", 0, "220 mx.gemeente-tenant.nl Microsoft ESMTP MAIL Service ready", ctx
    )
    port = first.port
    others = [
        FakeSmtp("127.0.0.2", port, "220 mx.google.com ESMTP a1b2c3 - gsmtp"),
        FakeSmtp("127.0.0.3", port, f"220 mx.vereniging-stil.nl {CONTROL} ESMTP"),
    ]
    settings = replace(
        default_settings(frozenset({"posture", "http", "smtp"})),
        endpoints=login.endpoints(),
        smtp_port=port,
        min_interval=0.0,
        timeout=2.0,
    )
    with DevServer(ZONES) as dns:
        yield {
            "dns": dns,
            "login": login,
            "smtp": [first, *others],
            "settings": settings,
            "tmp": tmp,
            "port": port,
        }
    login.shutdown()
    for s in [first, *others]:
        s.close()


def _scan(world: dict[str, Any], db: Path, settings: ActiveSettings) -> tuple[Store, int]:
    store = Store(db)
    dns = world["dns"]
    cfg = ScanSettings(
        EngineConfig([(dns.host, dns.port)], timeout=0.3, attempts=1),
        resume=False,
        probes=settings,
    )
    out = run_scan(INPUT, store, cfg)
    return store, out.scan_id


@pytest.fixture(scope="module")
def scanned(world: dict[str, Any]) -> tuple[Store, int]:
    return _scan(world, world["tmp"] / "scan.sqlite", world["settings"])


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


# -- golden findings -------------------------------------------------------------------------


def test_golden_findings_of_the_fakes(scanned: tuple[Store, int]) -> None:
    store, sid = scanned
    got = sorted(
        (project(f) for f in store.iter_findings(sid)),
        key=lambda p: (p["domain"], p["capability"], p["provider"], p["role"]),
    )
    if REGEN or not GOLDEN.exists():
        GOLDEN.write_text(json.dumps(got, indent=1, ensure_ascii=False) + "\n")
    assert got == json.loads(GOLDEN.read_text())


def test_the_tenant_names_microsoft_for_identity_and_office(scanned: tuple[Store, int]) -> None:
    store, sid = scanned
    fs = store.findings(sid, domain="gemeente-tenant.nl")
    identity = [f for f in fs if f.capability.value == "identity"]
    assert [f.provider for f in identity] == ["microsoft"]
    ev = {(e.probe, e.rtype, e.value) for e in identity[0].evidence}
    assert ("http-tenant", "NameSpaceType", "Managed") in ev
    assert ("http-tenant", "tenant_id", TENANT_ID) in ev
    office = [f for f in fs if f.capability.value == "office-suite"]
    assert [f.provider for f in office] == ["microsoft"]
    # every tenant fact names its source
    assert all(e.source.startswith("https://learn.microsoft.com/") for e in identity[0].evidence)


def test_the_certificate_and_banner_are_mailbox_evidence(scanned: tuple[Store, int]) -> None:
    store, sid = scanned
    fs = store.findings(sid, domain="gemeente-tenant.nl")
    ev = [
        e
        for f in fs
        if f.capability.value == "mailbox" and f.provider == "microsoft"
        for e in f.evidence
        if e.probe == "smtp-banner"
    ]
    assert {e.rtype for e in ev} == {"BANNER", "CERT-SAN"}
    assert "mail.protection.outlook.com" in {e.value for e in ev}


def test_google_hint_and_no_microsoft_tenant(scanned: tuple[Store, int]) -> None:
    store, sid = scanned
    fs = store.findings(sid, domain="school-wolk.nl")
    by_cap = {(f.capability.value, f.provider) for f in fs}
    assert ("office-suite", "google") in by_cap
    assert not any(f.provider == "microsoft" for f in fs)
    obs = next(o for _, _, obs in store.iter_results(sid, "school-wolk.nl") for o in obs)
    assert obs  # stored
    tenant = [
        o
        for _, _, obs in store.iter_results(sid, "school-wolk.nl")
        for o in obs
        if o.probe == "http-tenant"
    ]
    records = {(o.qtype, r.rtype, r.data) for o in tenant for r in o.answers}
    assert ("REALM", "NameSpaceType", "Unknown") in records
    assert ("OPENID", "error", "invalid_tenant") in records
    assert ("GOOGLE", "HTTP", "302") in records


def test_observations_are_stored_like_dns_and_posture_reads_them(
    scanned: tuple[Store, int],
) -> None:
    store, sid = scanned
    [(_, _, obs)] = list(store.iter_results(sid, "gemeente-tenant.nl"))
    smtp = [o for o in obs if o.probe == "smtp-banner"]
    assert len(smtp) == 1 and smtp[0].qname == "mx.gemeente-tenant.nl"
    rec = {r.rtype: r.data for r in smtp[0].answers}
    assert rec["STARTTLS"] == "offered" and rec["TLS"].startswith("TLSv1.")
    assert rec["CERT-ISSUER"] == "CN=*.mail.protection.outlook.com"
    assert rec["CERT-NOT-AFTER"] > rec["CERT-NOT-BEFORE"]
    found = {f.standard: f.code for f in posture("gemeente-tenant.nl", obs)}
    assert found["starttls"] == "POSTURE_STARTTLS_ALL"
    assert found["mta-sts"] == "POSTURE_MTA_STS_ENFORCE"
    [(_, _, obs2)] = list(store.iter_results(sid, "school-wolk.nl"))
    assert {f.standard: f.code for f in posture("school-wolk.nl", obs2)}["starttls"] == (
        "POSTURE_STARTTLS_NONE"
    )


def test_paused_input_gives_the_same_findings(
    world: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """One domain at a time waits for its probes (the input paused with the scanner's WAIT
    while the DNS loop goes on): the same findings as the module's scan."""
    from sovmap.collect.active import stage

    monkeypatch.setattr(stage, "PENDING", 1)
    store, sid = _scan(world, world["tmp"] / "paused.sqlite", world["settings"])
    got = sorted(
        (project(f) for f in store.iter_findings(sid)),
        key=lambda p: (p["domain"], p["capability"], p["provider"], p["role"]),
    )
    assert got == json.loads(GOLDEN.read_text())


def test_dns_goes_on_while_the_probes_wait(
    world: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """HTTP answers that take 0.3 s each: every domain's DNS is finished and handed to the
    probing thread before the first domain's probes are done (probes run inside the DNS
    loop's callback would hold the next domain's DNS until then), and no question times
    out."""
    from sovmap.collect.active import stage

    submitted: list[float] = []
    probed: list[float] = []
    submit, observe = stage.ProbeStage.submit, ActiveProber.observe

    def timed_submit(self: stage.ProbeStage, result: Any) -> None:
        submitted.append(time.monotonic())
        submit(self, result)

    def timed_observe(self: ActiveProber, domain: str, obs: Any) -> Any:
        got = observe(self, domain, obs)
        probed.append(time.monotonic())
        return got

    monkeypatch.setattr(stage.ProbeStage, "submit", timed_submit)
    monkeypatch.setattr(ActiveProber, "observe", timed_observe)
    login: FakeLogin = world["login"]
    login.delay = 0.3
    try:
        store, sid = _scan(world, world["tmp"] / "slow.sqlite", world["settings"])
    finally:
        login.delay = 0.0
    assert len(submitted) == len(probed) == 3
    assert max(submitted) < min(probed)
    observations = [o for _, _, obs in store.iter_results(sid) for o in obs]
    assert [o for o in observations if o.status is Status.TIMEOUT] == []


def test_reclassify_keeps_the_active_observations(world: dict[str, Any]) -> None:
    store, sid = _scan(world, world["tmp"] / "replay.sqlite", world["settings"])
    before = sorted(json.dumps(f.to_json(), sort_keys=True) for f in store.iter_findings(sid))
    out = reclassify(store, sid)  # the default plan: HTTP, SMTP and posture not asked again
    after = sorted(json.dumps(f.to_json(), sort_keys=True) for f in store.iter_findings(sid))
    assert out.domains == 3 and out.differing == 0
    assert after == before


# -- politeness and limits ---------------------------------------------------------------------


def test_one_host_is_asked_at_the_minimum_interval(world: dict[str, Any]) -> None:
    login: FakeLogin = world["login"]
    settings = replace(world["settings"], groups=frozenset({"http"}), min_interval=0.15)
    started: list[tuple[str, float]] = []

    class Recorded(Politeness):
        @contextmanager
        def turn(self, host: str) -> Iterator[None]:
            with super().turn(host):
                started.append((host, time.monotonic()))
                yield

    prober = ActiveProber(settings, Recorded(0.15, 100))
    login.times.clear()
    for d in ("gemeente-tenant.nl", "school-wolk.nl"):
        prober.observe(d, ())
    assert len(login.times) == 6  # realm, OpenID, Google for each: all at the one fake host
    assert {h for h, _ in started} == {f"127.0.0.1:{login.server_address[1]}"}
    gaps = [b - a for (_, a), (_, b) in itertools.pairwise(started)]
    assert len(gaps) == 5 and min(gaps) >= 0.149


def test_the_budget_stops_requests_and_says_so(world: dict[str, Any]) -> None:
    settings = replace(world["settings"], groups=frozenset({"http"}), budget=2)
    prober = ActiveProber(settings)
    got = prober.observe("gemeente-tenant.nl", ())
    assert [o.status for o in got] == [Status.NOERROR, Status.NOERROR, Status.REFUSED]
    assert prober.stats() == {"requests": 2, "failed": 1, "skipped": 1}


def test_politeness_waits_per_host_not_across_hosts() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(s: float) -> None:
        slept.append(round(s, 3))
        now[0] += s

    gate = Politeness(1.0, 10, clock=lambda: now[0], sleep=sleep)
    for host in ("a", "b", "a", "a"):
        with gate.turn(host):
            now[0] += 0.25
    # a at 0, b at 0.25 (another host: no wait), a again at 0.5 waits to 1.0, then 0.75 more
    assert slept == [0.5, 0.75]


def test_smtp_limits_every_read(world: dict[str, Any]) -> None:
    port = world["port"]
    flood = FakeSmtp("127.0.0.4", port, "", mode="flood")
    silent = FakeSmtp("127.0.0.5", port, "", mode="silent")
    try:
        s = replace(world["settings"], timeout=0.5)
        gate = Politeness(0, 100)
        o = probe_host("flood.example", "127.0.0.4", "d.nl", s, gate)
        assert o.status is Status.MALFORMED
        assert "longer than 1000" in dict((r.rtype, r.data) for r in o.answers)["ERROR"]
        started = time.monotonic()
        o = probe_host("silent.example", "127.0.0.5", "d.nl", s, gate)
        assert o.status is Status.TIMEOUT and time.monotonic() - started < 2
        o = probe_host("closed.example", "127.0.0.6", "d.nl", s, gate)  # nothing listens
        assert o.status is Status.OTHER
    finally:
        flood.close()
        silent.close()


def test_http_answers_too_large_or_not_json_are_not_read(world: dict[str, Any]) -> None:
    login: FakeLogin = world["login"]
    from sovmap.collect.active import http

    s = replace(world["settings"], max_bytes=1024)
    login.body_for["/getuserrealm.srf"] = (
        b'{"NameSpaceType": "Managed", "x": "' + b"y" * 5000 + b'"}'
    )
    try:
        o = http.realm("big.nl", s, Politeness(0, 10))
        assert [(r.rtype, r.data) for r in o.answers] == [("HTTP", "200")]
        login.body_for["/getuserrealm.srf"] = b"[" * 100000
        o = http.realm("deep.nl", replace(s, max_bytes=200000), Politeness(0, 10))
        assert [(r.rtype, r.data) for r in o.answers] == [("HTTP", "200")]
    finally:
        login.body_for.clear()


# -- options and the command line ---------------------------------------------------------------


def test_options_are_checked_before_work() -> None:
    with pytest.raises(ProbeSettingsError, match="choose from posture, http, smtp"):
        parse_groups("http,ftp")
    with pytest.raises(ProbeSettingsError, match="timeout"):
        with_overrides(default_settings(), {"timeout": 0})
    with pytest.raises(ProbeSettingsError, match="unknown key"):
        with_overrides(default_settings(), {"rate": 3})
    with pytest.raises(ProbeSettingsError, match="URL"):
        with_overrides(default_settings(), {"endpoints": {"realm": "ftp://x/{domain}"}})
    with pytest.raises(ProbeSettingsError, match="--workers 1"):
        ScanSettings(
            EngineConfig([("127.0.0.1", 53)]),
            workers=2,
            probes=default_settings(frozenset({"smtp"})),
        )


def test_cli_probe_scan_explain_and_posture(
    world: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dns = world["dns"]
    db = tmp_path / "cli.sqlite"
    s: ActiveSettings = world["settings"]
    conf = tmp_path / "probe.yaml"
    conf.write_text(
        json.dumps({"endpoints": dict(s.endpoints), "smtp_port": s.smtp_port, "min_interval": 0})
    )
    bad = cli_main(["scan", str(INPUT), "--db", str(db), "--probe", "http,gopher"])
    assert bad == 2
    assert "choose from posture, http, smtp" in capsys.readouterr().err
    argv = ["scan", str(INPUT), "--resolver", dns.address, "--db", str(db), "--quiet"]
    argv += ["--probe", "posture,http,smtp", "--probe-settings", str(conf), "--workers", "2"]
    assert cli_main(argv) == 0
    out = capsys.readouterr()
    assert "runs in one process (--workers 2 not used)" in out.err
    # 3 domains x (realm, OpenID, Google) + 1 MTA-STS policy + 3 MX hosts
    assert "active probes: 13 requests (0 failed, 0 not asked: budget spent)" in out.out
    assert cli_main(["explain", "vereniging-stil.nl", "--db", str(db), "--raw"]) == 0
    text = capsys.readouterr().out
    assert "\\x1b]0;owned\\x07" in text and "\x1b" not in text
    csv_out = tmp_path / "findings.csv"
    assert cli_main(["export", str(csv_out), "--db", str(db)]) == 0
    capsys.readouterr()
    text = csv_out.read_text()
    assert "ServiceLogin?hd=school-wolk.nl\\x1b]0;owned\\x07" in text and "\x1b" not in text
    assert cli_main(["explain", "school-wolk.nl", "--db", str(db)]) == 0
    text = capsys.readouterr().out
    assert "hd=school-wolk.nl\\x1b]0;owned\\x07" in text and "\x1b" not in text
    assert cli_main(["posture", "--db", str(db), "--domain", "gemeente-tenant.nl"]) == 0
    text = capsys.readouterr().out
    assert "STARTTLS: good POSTURE_STARTTLS_ALL" in text
    assert "MTA-STS: good POSTURE_MTA_STS_ENFORCE (mode=enforce)" in text
    assert cli_main(["posture", "--db", str(db), "--lang", "nl"]) == 0
    text = capsys.readouterr().out
    assert "E-mailbeveiliging, scan 1; domeinen: 3" in text
    assert "pas toe of leg uit" in text
    store = Store(db)
    raw = [
        r.data
        for _, _, obs in store.iter_results(1, "vereniging-stil.nl")
        for o in obs
        if o.probe == "smtp-banner"
        for r in o.answers
        if r.rtype == "BANNER"
    ]
    assert raw == [f"220 mx.vereniging-stil.nl {CONTROL} ESMTP"]  # the store keeps it raw


def test_cli_probe_settings_are_checked_before_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "never.sqlite"
    conf = tmp_path / "p.yaml"
    conf.write_text("- a list, not a mapping\n")
    base = ["scan", str(INPUT), "--db", str(db), "--resolver", "127.0.0.1:9"]
    cases = [
        ([*base, "--probe-settings", str(conf)], "needs --probe http or --probe smtp"),
        ([*base, "--probe", "posture", "--probe-settings", str(conf)], "needs --probe http"),
        ([*base, "--probe", "http", "--probe-settings", str(conf)], "must hold a mapping"),
        ([*base, "--probe", ","], "give one or more of posture, http, smtp"),
    ]
    conf2 = tmp_path / "big.yaml"
    conf2.write_text("timeout: 1\n" + "# padding\n" * 10000)
    cases.append(([*base, "--probe", "smtp", "--probe-settings", str(conf2)], "--probe-settings"))
    cases.append(([*base, "--probe", "posture", "--cluster", "tcp://127.0.0.1:1"], "--cluster"))
    conf3 = tmp_path / "port.yaml"
    conf3.write_text("smtp_port: 70000\n")
    cases.append(([*base, "--probe", "smtp", "--probe-settings", str(conf3)], "smtp_port"))
    for argv, message in cases:
        assert cli_main(argv) == 2, argv
        assert message in capsys.readouterr().err, argv
    assert not db.exists()  # refused before a store was made
