"""The alert settings file (YAML, read through :mod:`sovmap.readers`): which change events
alert, in which language, and where they go (SMTP and/or webhook). Secrets are not written in
the file: it names the environment variables that hold them. See docs/alerts.md."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sovmap.errors import SovmapError
from sovmap.i18n import LANGUAGES
from sovmap.orgs.history import EventKind
from sovmap.readers import load_yaml

MAX_SETTINGS_BYTES = 64 * 1024
DEFAULT_KINDS = (EventKind.NEW_US_DEPENDENCY, EventKind.PROVIDER_CHANGED)


class AlertError(SovmapError):
    """Unusable alert settings, or an alert that could not be delivered."""


@dataclass(frozen=True, slots=True)
class EmailSettings:
    host: str
    port: int
    sender: str
    to: tuple[str, ...]
    starttls: bool = False
    username: str = ""
    password_env: str = ""
    ca_file: str = ""  # trust this CA for STARTTLS (default: the system's)
    timeout: float = 10.0

    def password(self) -> str:
        return os.environ.get(self.password_env, "") if self.password_env else ""


@dataclass(frozen=True, slots=True)
class WebhookSettings:
    url: str
    secret_env: str
    timeout: float = 5.0
    retries: int = 3
    backoff: float = 1.0  # seconds before the first retry, doubled for each next one

    def secret(self) -> bytes:
        value = os.environ.get(self.secret_env, "")
        if not value:
            raise AlertError(f"ALERT_NO_SECRET: environment variable {self.secret_env} is empty")
        return value.encode()


@dataclass(frozen=True, slots=True)
class AlertSettings:
    kinds: tuple[EventKind, ...] = DEFAULT_KINDS
    lang: str = "en"
    email: EmailSettings | None = None
    webhook: WebhookSettings | None = None
    source: str = ""
    max_events: int = field(default=200)  # listed in a message; the rest are counted


_TOP = {"kinds", "lang", "email", "webhook", "max_events"}
_EMAIL = {
    "host",
    "port",
    "from",
    "to",
    "starttls",
    "username",
    "password_env",
    "ca_file",
    "timeout",
}
_HOOK = {"url", "secret_env", "timeout", "retries", "backoff"}


def _mapping(value: Any, where: str, allowed: set[str], name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise AlertError(f"{where}: {name} must be a mapping")
    unknown = sorted(str(k) for k in value if k not in allowed)
    if unknown:
        raise AlertError(
            f"{where}: unknown key(s) in {name}: {', '.join(unknown)} "
            f"(allowed: {', '.join(sorted(allowed))})"
        )
    return value


def _number(value: Any, where: str, name: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise AlertError(f"{where}: {name} must be a number from {low:g} to {high:g}")
    return float(value)


def _text(value: Any, where: str, name: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 2048:
        raise AlertError(f"{where}: {name} must be a non-empty text")
    return value.strip()


def parse_alert_settings(data: Any, where: str) -> AlertSettings:
    top = _mapping(data, where, _TOP, "the settings")
    kinds = top.get("kinds", [k.value for k in DEFAULT_KINDS])
    valid = [k.value for k in EventKind]
    if not isinstance(kinds, list) or not kinds or any(k not in valid for k in kinds):
        raise AlertError(f"{where}: kinds must be a list of: {', '.join(valid)}")
    lang = top.get("lang", "en")
    if lang not in LANGUAGES:
        raise AlertError(f"{where}: lang must be one of {', '.join(LANGUAGES)}")
    email = webhook = None
    if "email" in top:
        e = _mapping(top["email"], where, _EMAIL, "email")
        to = e.get("to")
        if isinstance(to, str):
            to = [to]
        if (
            not isinstance(to, list)
            or not to
            or not all(isinstance(x, str) and "@" in x for x in to)
        ):
            raise AlertError(f"{where}: email.to must be an address or a list of addresses")
        sender = _text(e.get("from"), where, "email.from")
        if "@" not in sender:
            raise AlertError(f"{where}: email.from must be an address")
        email = EmailSettings(
            host=_text(e.get("host"), where, "email.host"),
            port=int(_number(e.get("port", 25), where, "email.port", 1, 65535)),
            sender=sender,
            to=tuple(to),
            starttls=bool(e.get("starttls", False)),
            username=str(e.get("username", "")),
            password_env=str(e.get("password_env", "")),
            ca_file=str(e.get("ca_file", "")),
            timeout=_number(e.get("timeout", 10), where, "email.timeout", 0.1, 300),
        )
    if "webhook" in top:
        h = _mapping(top["webhook"], where, _HOOK, "webhook")
        url = _text(h.get("url"), where, "webhook.url")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise AlertError(f"{where}: webhook.url must be an http(s) URL")
        webhook = WebhookSettings(
            url=url,
            secret_env=_text(h.get("secret_env"), where, "webhook.secret_env"),
            timeout=_number(h.get("timeout", 5), where, "webhook.timeout", 0.1, 300),
            retries=int(_number(h.get("retries", 3), where, "webhook.retries", 0, 10)),
            backoff=_number(h.get("backoff", 1), where, "webhook.backoff", 0, 600),
        )
    if email is None and webhook is None:
        raise AlertError(f"{where}: give email, webhook or both")
    return AlertSettings(
        kinds=tuple(EventKind(k) for k in kinds),
        lang=str(lang),
        email=email,
        webhook=webhook,
        source=where,
        max_events=int(_number(top.get("max_events", 200), where, "max_events", 1, 100_000)),
    )


def load_alert_settings(path: Path) -> AlertSettings:
    """Read and check an alert settings file; AlertError (or InputError) naming the problem."""
    return parse_alert_settings(load_yaml(path, max_bytes=MAX_SETTINGS_BYTES), str(path))
