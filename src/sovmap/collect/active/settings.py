"""What the opt-in active probes are told: the groups asked, the endpoints, the SMTP port and
the politeness limits, from ``knowledge/data/active.yaml`` with overrides (a settings file
given with ``--probe-settings``, or a test's loopback fakes). Every value is checked before
the first request."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from sovmap.errors import SovmapError
from sovmap.i18n import t
from sovmap.knowledge.active import active_file

#: the groups ``--probe`` accepts: DNS posture questions, HTTP, SMTP
GROUPS = ("posture", "http", "smtp")
ENDPOINTS = ("realm", "openid", "google", "mta_sts")


class ProbeSettingsError(SovmapError):
    """An active-probe option or settings file that cannot be used (exit 2); the message is
    the catalogue's ``code`` (in English; ``.code`` and ``.params`` render it in Dutch)."""

    def __init__(self, code: str, **params: Any) -> None:
        self.code, self.params = code, params
        super().__init__(t("en", code, **params))


@dataclass(frozen=True, slots=True)
class ActiveSettings:
    """The active probes of one scan. ``groups``: which of :data:`GROUPS` are asked."""

    groups: frozenset[str] = frozenset()
    endpoints: Mapping[str, str] = field(default_factory=dict)
    smtp_port: int = 25
    smtp_max_hosts: int = 2
    timeout: float = 5.0
    min_interval: float = 1.0
    budget: int = 100000
    max_bytes: int = 65536
    max_line: int = 1000
    max_lines: int = 100
    helo_name: str = "sovmap.invalid"

    def __post_init__(self) -> None:
        check_settings(self)

    @property
    def active(self) -> bool:
        """Whether any network probe besides DNS is asked."""
        return bool(self.groups & {"http", "smtp"})


def _limit(name: str, value: Any, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ProbeSettingsError("PROBE_SETTING_NUMBER", name=name, value=repr(value))
    if not low <= value <= high:
        raise ProbeSettingsError("PROBE_SETTING_RANGE", name=name, value=value, low=low, high=high)
    return float(value)


def check_settings(s: ActiveSettings) -> None:
    unknown = s.groups - set(GROUPS)
    if unknown:
        raise ProbeSettingsError(
            "PROBE_UNKNOWN", given=",".join(sorted(unknown)), valid=", ".join(GROUPS)
        )
    _limit("timeout", s.timeout, 0.05, 60)
    _limit("min_interval", s.min_interval, 0, 3600)
    _limit("budget", s.budget, 1, 10_000_000)
    _limit("max_bytes", s.max_bytes, 512, 1 << 22)
    _limit("max_line", s.max_line, 512, 1 << 16)
    _limit("max_lines", s.max_lines, 1, 10_000)
    _limit("smtp_port", s.smtp_port, 1, 65535)
    _limit("smtp_max_hosts", s.smtp_max_hosts, 1, 10)
    for name, url in s.endpoints.items():
        if name not in ENDPOINTS:
            raise ProbeSettingsError(
                "PROBE_SETTING_ENDPOINT", name=name, valid=", ".join(ENDPOINTS)
            )
        if not re.match(r"^https?://[^/\s]+(/\S*)?$", url) or "{domain}" not in url:
            raise ProbeSettingsError("PROBE_SETTING_URL", name=name, url=repr(url))


def default_settings(groups: frozenset[str] = frozenset()) -> ActiveSettings:
    """The bundled endpoints and limits, asking ``groups``."""
    raw = active_file()
    lim, smtp = raw["limits"], raw["smtp"]
    return ActiveSettings(
        groups=groups,
        endpoints={k: str(v["url"]) for k, v in raw["endpoints"].items()},
        smtp_port=int(smtp["port"]),
        smtp_max_hosts=int(smtp["max_hosts"]),
        timeout=float(lim["timeout"]),
        min_interval=float(lim["min_interval"]),
        budget=int(lim["budget"]),
        max_bytes=int(lim["max_bytes"]),
        max_line=int(lim["max_line"]),
        max_lines=int(lim["max_lines"]),
    )


_OVERRIDABLE = ("smtp_port", "smtp_max_hosts", "timeout", "min_interval", "budget",
                "max_bytes", "max_line", "max_lines")  # fmt: skip


def with_overrides(base: ActiveSettings, raw: Any) -> ActiveSettings:
    """``base`` with the values of a settings mapping (``endpoints`` and the limits)."""
    if not isinstance(raw, Mapping):
        raise ProbeSettingsError("PROBE_SETTING_FILE")
    unknown = set(raw) - {"endpoints", *_OVERRIDABLE}
    if unknown:
        raise ProbeSettingsError(
            "PROBE_SETTING_KEY",
            given=", ".join(sorted(map(str, unknown))),
            valid=", ".join(("endpoints", *_OVERRIDABLE)),
        )
    endpoints = dict(base.endpoints)
    given = raw.get("endpoints") or {}
    if not isinstance(given, Mapping):
        raise ProbeSettingsError("PROBE_SETTING_FILE")
    endpoints.update({str(k): str(v) for k, v in given.items()})
    values: dict[str, Any] = {}
    for k in _OVERRIDABLE:
        if k in raw:
            v = raw[k]
            _limit(k, v, float("-inf"), float("inf"))
            values[k] = int(v) if isinstance(getattr(base, k), int) else float(v)
    return replace(base, endpoints=endpoints, **values)


def parse_groups(text: str) -> frozenset[str]:
    """``--probe http,smtp`` -> the groups; an unknown one is an error naming the valid ones."""
    groups = frozenset(g.strip().lower() for g in text.split(",") if g.strip())
    if not groups:
        raise ProbeSettingsError("PROBE_EMPTY", valid=", ".join(GROUPS))
    unknown = groups - set(GROUPS)
    if unknown:
        raise ProbeSettingsError(
            "PROBE_UNKNOWN", given=",".join(sorted(unknown)), valid=", ".join(GROUPS)
        )
    return groups
