"""``sovmap alerts``: record the alert settings of a store, show them, send an alert."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from sqlalchemy import delete, insert

from sovmap import i18n
from sovmap.store import DEFAULT_DB, Store


def _db(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", default=DEFAULT_DB, help=f"SQLite path or URL (default {DEFAULT_DB})")
    p.add_argument("--lang", choices=i18n.LANGUAGES, default="en", help="language of the output")


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "alerts",
        help="alerts on change events (new US dependency, provider change) by e-mail/webhook",
        description="After every finished scan the change events against the scan before are "
        "kept in the store, and sent as the store's alert settings say. Example: "
        "sovmap alerts configure alerts.yaml --db sovmap.sqlite",
    )
    a = p.add_subparsers(dest="alerts_command", metavar="ACTION", required=True)
    c = a.add_parser(
        "configure",
        help="check a settings file and make the scans of the store alert with it",
        description="Checks the file (format: docs/alerts.md) and records its path in the "
        "store; --off stops alerting.",
    )
    c.add_argument("settings", type=Path, nargs="?", default=None)
    c.add_argument("--off", action="store_true", help="no alerts for this store")
    _db(c)
    c.set_defaults(func=_configure)
    s = a.add_parser("show", help="the settings file the store alerts with")
    _db(s)
    s.set_defaults(func=_show)
    d = a.add_parser(
        "send",
        help="send the alert of the latest scan (each channel once per scan)",
        description="Sends the change events between the two latest finished scans, on each "
        "channel not yet delivered for the newer scan. Exit 3 when a delivery failed.",
    )
    d.add_argument("--settings", type=Path, default=None, help="default: the configured file")
    _db(d)
    d.set_defaults(func=_send)


def _configure(args: argparse.Namespace) -> int:
    from sovmap.alerts.deliver import SETTINGS_KEY
    from sovmap.alerts.settings import AlertError, load_alert_settings
    from sovmap.web.tables import settings as kv

    if args.off == (args.settings is not None):
        raise AlertError("give a settings file, or --off")
    path = None if args.off else args.settings.resolve()
    if path is not None:
        load_alert_settings(path)
    store = Store(args.db)
    try:
        with store.engine.begin() as conn:
            conn.execute(delete(kv).where(kv.c.key == SETTINGS_KEY))
            if path is not None:
                conn.execute(insert(kv).values(key=SETTINGS_KEY, value=str(path)))
    finally:
        store.close()
    print(
        i18n.t(args.lang, "ALERT_CLI_CONFIGURED", file=path)
        if path
        else i18n.t(args.lang, "ALERT_CLI_NONE")
    )
    return 0


def _show(args: argparse.Namespace) -> int:
    from sovmap.alerts.deliver import configured

    store = Store.for_reading(args.db)
    try:
        path = configured(store.engine)
    finally:
        store.close()
    if path is None:
        print(i18n.t(args.lang, "ALERT_CLI_NONE"))
    else:
        print(i18n.t(args.lang, "ALERT_CLI_SETTINGS", file=path))
    return 0


def _send(args: argparse.Namespace) -> int:
    from sovmap.alerts.deliver import configured, send_alerts
    from sovmap.alerts.settings import AlertError, load_alert_settings

    store = Store(args.db)
    try:
        path = args.settings or configured(store.engine)
        if path is None:
            raise AlertError(i18n.t(args.lang, "ALERT_CLI_NONE"))
        out = send_alerts(store.engine, load_alert_settings(path))
    finally:
        store.close()
    lang = args.lang
    if out.scan is None:
        print(i18n.t(lang, "ALERT_CLI_NO_SCANS"))
        return 0
    if not out.events:
        print(i18n.t(lang, "ALERT_CLI_NO_EVENTS", scan=out.scan))
    for ch in out.sent:
        print(i18n.t(lang, "ALERT_CLI_SENT", scan=out.scan, n=out.events, channel=ch))
    for ch in out.skipped:
        print(i18n.t(lang, "ALERT_CLI_SKIPPED", scan=out.scan, channel=ch))
    for problem in out.failed:
        print(i18n.t(lang, "ALERT_CLI_FAILED", problem=problem))
    return 3 if out.failed else 0
