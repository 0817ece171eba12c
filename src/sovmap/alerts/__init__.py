"""Alerts on change events: after a scan, the change events between it and the scan before
(the organisation room's ``sovmap diff``, computed once and kept in the store so the web's
``/changes`` reads them instead of recomputing) are sent by e-mail (SMTP) and webhook (JSON,
HMAC-signed) as a settings file says. See docs/alerts.md."""

from sovmap.alerts.events import keep_changes, kept_changes
from sovmap.alerts.settings import AlertError, AlertSettings, load_alert_settings

__all__ = ["AlertError", "AlertSettings", "keep_changes", "kept_changes", "load_alert_settings"]
