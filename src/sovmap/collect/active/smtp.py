"""The SMTP face of an MX host: banner, EHLO, STARTTLS and the certificate it presents
(issuer, subject, names, validity), as one :class:`~sovmap.model.Observation` of kind
``smtp-banner`` per host.

Every read waits at most ``timeout`` and reads at most ``max_line`` octets per line,
``max_lines`` lines per reply and ``max_bytes`` in all; the certificate is read, not
verified (a self-signed or expired one is itself an answer), and nothing is sent after
STARTTLS but QUIT.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
from datetime import UTC

from cryptography import x509
from cryptography.x509.oid import ExtensionOID

from sovmap.collect.active.budget import BudgetSpent, Politeness
from sovmap.collect.active.settings import ActiveSettings
from sovmap.model import RR, Observation, Status

MAX_VALUE = 512


class SmtpError(Exception):
    def __init__(self, status: Status, detail: str) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail


class _Reader:
    """Reply lines from a socket, every limit checked before more is read."""

    def __init__(self, sock: socket.socket, s: ActiveSettings) -> None:
        self.sock, self.s = sock, s
        self.buf = b""
        self.total = 0

    def line(self) -> bytes:
        while b"\n" not in self.buf:
            if len(self.buf) > self.s.max_line:
                raise SmtpError(Status.MALFORMED, f"reply line longer than {self.s.max_line}")
            chunk = self.sock.recv(min(4096, self.s.max_line + 2))
            if not chunk:
                raise SmtpError(Status.OTHER, "connection closed")
            self.total += len(chunk)
            if self.total > self.s.max_bytes:
                raise SmtpError(Status.MALFORMED, f"more than {self.s.max_bytes} octets")
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        if len(line) > self.s.max_line:
            raise SmtpError(Status.MALFORMED, f"reply line longer than {self.s.max_line}")
        return line.rstrip(b"\r")

    def reply(self) -> tuple[int, list[str]]:
        """One (multi-line) reply: its code and its lines' text."""
        lines: list[str] = []
        for _ in range(self.s.max_lines):
            raw = self.line()
            text = raw.decode("utf-8", "backslashreplace")
            if len(raw) < 3 or not raw[:3].isdigit():
                raise SmtpError(Status.MALFORMED, f"not an SMTP reply: {text[:80]!r}")
            lines.append(text)
            if raw[3:4] != b"-":
                return int(raw[:3]), lines
        raise SmtpError(Status.MALFORMED, f"reply of more than {self.s.max_lines} lines")


def _cert_records(host: str, der: bytes) -> list[tuple[str, str]]:
    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError as exc:
        return [("CERT-ERROR", str(exc)[:MAX_VALUE])]
    out = [
        ("CERT-SUBJECT", cert.subject.rfc4514_string()[:MAX_VALUE]),
        ("CERT-ISSUER", cert.issuer.rfc4514_string()[:MAX_VALUE]),
        ("CERT-NOT-BEFORE", cert.not_valid_before_utc.astimezone(UTC).isoformat()),
        ("CERT-NOT-AFTER", cert.not_valid_after_utc.astimezone(UTC).isoformat()),
    ]
    try:
        san = cert.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
        names = san.value.get_values_for_type(x509.DNSName)  # type: ignore[attr-defined]
    except (x509.ExtensionNotFound, ValueError):
        names = []
    out += [("CERT-SAN", str(n).lower()[:MAX_VALUE]) for n in names[:50]]
    return out


def probe_host(
    host: str, address: str, via: str, s: ActiveSettings, gate: Politeness
) -> Observation:
    """Banner, EHLO, STARTTLS and certificate of ``host`` at ``address``."""
    records: list[tuple[str, str]] = [("ADDRESS", address)]
    status = Status.NOERROR
    try:
        with gate.turn(address):
            records += _converse(host, address, s)
    except BudgetSpent:
        status, records = Status.REFUSED, [*records, ("ERROR", "request budget of the scan spent")]
    except SmtpError as exc:
        status, records = exc.status, [*records, ("ERROR", exc.detail[:MAX_VALUE])]
    except TimeoutError:
        status, records = Status.TIMEOUT, [*records, ("ERROR", "timeout")]
    except (OSError, ssl.SSLError) as exc:
        status = Status.OTHER
        records = [*records, ("ERROR", f"{type(exc).__name__}: {exc}"[:MAX_VALUE])]
    answers = tuple(RR(host, k, 0, v) for k, v in records)
    return Observation("smtp-banner", host, "SMTP", status, answers, via)


def _converse(host: str, address: str, s: ActiveSettings) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    sock = socket.create_connection((address, s.smtp_port), timeout=s.timeout)
    try:
        sock.settimeout(s.timeout)
        reader = _Reader(sock, s)
        code, lines = reader.reply()
        out.append(("BANNER", lines[0][:MAX_VALUE]))
        if code != 220:
            return out
        sock.sendall(f"EHLO {s.helo_name}\r\n".encode())
        code, lines = reader.reply()
        out.append(("EHLO", " | ".join(lines)[:MAX_VALUE]))
        offered = code == 250 and any(ln[4:].strip().upper() == "STARTTLS" for ln in lines)
        if not offered:
            out.append(("STARTTLS", "not offered"))
            sock.sendall(b"QUIT\r\n")
            return out
        sock.sendall(b"STARTTLS\r\n")
        code, lines = reader.reply()
        if code != 220:
            out.append(("STARTTLS", f"refused: {lines[0]}"[:MAX_VALUE]))
            return out
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE  # read whatever it presents; judged, not trusted
        tls = ctx.wrap_socket(sock, server_hostname=host if "." in host else None)
        sock = tls
        out.append(("STARTTLS", "offered"))
        out.append(("TLS", str(tls.version())))
        der = tls.getpeercert(binary_form=True)
        if der:
            out += _cert_records(host, der)
        with contextlib.suppress(OSError):
            tls.sendall(b"QUIT\r\n")
        return out
    finally:
        sock.close()
