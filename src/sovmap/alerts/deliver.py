"""Compose the alert of a scan's change events (words from the message catalogue, NL/EN) and
deliver it: one e-mail over SMTP (optional STARTTLS and log-in) and one webhook (a JSON POST
signed with HMAC-SHA256, retried with back-off). Each channel is sent at most once per scan:
the store records what was delivered, so a second ``sovmap alerts send`` sends nothing."""

from __future__ import annotations

import hashlib
import hmac
import logging
import smtplib
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import orjson
from sqlalchemy import Engine, insert, select

from sovmap import i18n
from sovmap.alerts.events import keep_changes, kept_changes
from sovmap.alerts.settings import (
    AlertError,
    AlertSettings,
    EmailSettings,
    WebhookSettings,
    load_alert_settings,
)
from sovmap.errors import SovmapError
from sovmap.orgs.history import ChangeEvent, Provider
from sovmap.orgs.service import DiffResult
from sovmap.store.snapshots import list_scans
from sovmap.web.tables import settings as kv

log = logging.getLogger("sovmap.alerts")
SETTINGS_KEY = "alerts.settings"  # the settings file the scans of this store alert with
SIGNATURE_HEADER = "X-Sovmap-Signature"
TIMESTAMP_HEADER = "X-Sovmap-Timestamp"


@dataclass(frozen=True, slots=True)
class Alert:
    old_scan: int
    new_scan: int
    events: tuple[ChangeEvent, ...]
    subject: str
    text: str

    def payload(self) -> bytes:
        return orjson.dumps(
            {
                "type": "sovmap.changes",
                "old_scan": self.old_scan,
                "new_scan": self.new_scan,
                "count": len(self.events),
                "subject": self.subject,
                "text": self.text,
                "events": [e.to_json() for e in self.events],
            }
        )


@dataclass(slots=True)
class Outcome:
    scan: int | None = None
    events: int = 0
    sent: list[str] = field(default_factory=list)  # email | webhook
    skipped: list[str] = field(default_factory=list)  # already delivered for this scan
    failed: list[str] = field(default_factory=list)  # "channel: why"


def _providers(lang: str, ps: tuple[Provider, ...]) -> str:
    if not ps:
        return i18n.t(lang, "ALERT_NONE")
    unknown = i18n.t(lang, "ALERT_UNKNOWN_JURISDICTION")
    return ", ".join(f"{p.name or p.id} ({p.jurisdiction or unknown})" for p in ps)


def compose(result: DiffResult, s: AlertSettings) -> Alert | None:
    """The alert of the events of ``s.kinds`` in ``result``, or None when there are none."""
    lang = s.lang
    events = tuple(e for e in result.events if e.kind in s.kinds)
    if not events:
        return None
    lines = [
        i18n.t(
            lang,
            "ALERT_INTRO",
            old=result.old.id,
            new=result.new.id,
            n=i18n.format_number(len(events), lang),
        ),
        "",
    ]
    for e in events[: s.max_events]:
        line = i18n.t(
            lang,
            "ALERT_LINE",
            kind=i18n.t(lang, f"ALERT_KIND_{e.kind.value}"),
            who=e.subject_name or e.subject,
            capability=i18n.value(lang, "capability", e.capability.value),
            old=_providers(lang, e.old),
            new=_providers(lang, e.new),
            domains=", ".join(e.domains),
        )
        if e.uncertain:
            line += " " + i18n.t(lang, "ALERT_UNCERTAIN", domains=", ".join(e.uncertain))
        lines.append("- " + line)
    if len(events) > s.max_events:
        more = i18n.format_number(len(events) - s.max_events, lang)
        lines.append(i18n.t(lang, "ALERT_MORE", n=more))
    lines += ["", i18n.t(lang, "ALERT_FOOTER", new=result.new.id)]
    subject = i18n.t(
        lang, "ALERT_SUBJECT", n=i18n.format_number(len(events), lang), new=result.new.id
    )
    return Alert(result.old.id, result.new.id, events, subject, "\n".join(lines) + "\n")


def send_email(alert: Alert, e: EmailSettings) -> None:
    msg = EmailMessage()
    msg["Subject"] = alert.subject
    msg["From"] = e.sender
    msg["To"] = ", ".join(e.to)
    msg["Message-ID"] = make_msgid(domain=e.sender.rsplit("@", 1)[-1])
    msg.set_content(alert.text)
    try:
        with smtplib.SMTP(e.host, e.port, timeout=e.timeout) as smtp:
            if e.starttls:
                ctx = ssl.create_default_context(cafile=e.ca_file or None)
                smtp.starttls(context=ctx)
            if e.username:
                smtp.login(e.username, e.password())
            smtp.send_message(msg)
    except (OSError, smtplib.SMTPException) as exc:
        raise AlertError(f"ALERT_EMAIL_FAILED: {e.host}:{e.port}: {exc}") from None


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """The webhook signature: ``sha256=`` HMAC-SHA256 of ``timestamp + "." + body``."""
    mac = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def send_webhook(
    alert: Alert, h: WebhookSettings, sleep: Callable[[float], None] = time.sleep
) -> int:
    """POST the alert; retried on a network error, a timeout, 429 or 5xx, waiting
    ``backoff`` seconds, doubled each time. Returns the number of attempts made."""
    body = alert.payload()
    secret = h.secret()
    last = ""
    for attempt in range(h.retries + 1):
        if attempt:
            sleep(h.backoff * 2 ** (attempt - 1))
        stamp = str(int(time.time()))
        req = urllib.request.Request(
            h.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "User-Agent": "sovmap-alerts",
                TIMESTAMP_HEADER: stamp,
                SIGNATURE_HEADER: sign(secret, stamp, body),
            },
        )
        try:
            with urllib.request.urlopen(req, timeout=h.timeout) as resp:
                resp.read(65536)
                return attempt + 1
        except urllib.error.HTTPError as exc:
            last = f"HTTP {exc.code}"
            if exc.code != 429 and exc.code < 500:
                break
        except (OSError, TimeoutError) as exc:
            last = str(exc) or type(exc).__name__
    raise AlertError(f"ALERT_WEBHOOK_FAILED: {h.url}: {last}")


def _sent_key(scan: int, channel: str) -> str:
    return f"alerts.sent.{scan}.{channel}"


def configured(engine: Engine) -> Path | None:
    """The alert settings file recorded for this store (``sovmap alerts configure``)."""
    with engine.connect() as conn:
        v = conn.execute(select(kv.c.value).where(kv.c.key == SETTINGS_KEY)).scalar()
    return Path(v) if v else None


def send_alerts(
    engine: Engine,
    s: AlertSettings,
    *,
    result: DiffResult | None = None,
    channels: Sequence[str] = ("email", "webhook"),
) -> Outcome:
    """Deliver the alert of the change events between the two latest finished scans, on each
    channel not yet delivered for the newer scan. Failures are reported in the outcome."""
    out = Outcome()
    if result is None:
        with engine.connect() as conn:
            done = [x for x in list_scans(conn) if x.finished]
            result = kept_changes(conn, done[-2], done[-1]) if len(done) >= 2 else None
        if result is None and len(done) >= 2:
            result = keep_changes(engine)
    if result is None:
        return out
    out.scan = result.new.id
    alert = compose(result, s)
    if alert is None:
        return out
    out.events = len(alert.events)
    targets = {"email": s.email, "webhook": s.webhook}
    for channel in channels:
        target = targets[channel]
        if target is None:
            continue
        key = _sent_key(result.new.id, channel)
        with engine.connect() as conn:
            if conn.execute(select(kv.c.key).where(kv.c.key == key)).first():
                out.skipped.append(channel)
                continue
        try:
            if isinstance(target, EmailSettings):
                send_email(alert, target)
            else:
                send_webhook(alert, target)
        except AlertError as exc:
            log.warning("%s", exc)
            out.failed.append(f"{channel}: {exc}")
            continue
        with engine.begin() as conn:
            conn.execute(insert(kv).values(key=key, value=str(int(time.time()))))
        out.sent.append(channel)
    return out


def after_scan(engine: Engine, scan_id: int) -> Outcome | None:
    """Run when a scan finishes: keep its change events (so ``/changes`` is fast) and, when
    the store has alert settings, deliver the alert. Never raises for a delivery problem:
    the scan is done either way; problems are logged and returned."""
    result = keep_changes(engine, scan_id)
    path = configured(engine)
    if result is None or path is None or result.new.shard:
        return None  # one shard of a scan is not the organisations' state: no alert for it
    try:
        s = load_alert_settings(path)
    except SovmapError as exc:  # settings file gone or changed since: the scan stands
        log.warning("alert settings %s: %s", path, exc)
        return Outcome(scan=scan_id, failed=[f"settings: {exc}"])
    return send_alerts(engine, s, result=result)
