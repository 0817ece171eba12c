"""Messages of the reports: the shared catalogue of :mod:`sovmap.i18n`."""

from sovmap.i18n import LANGUAGES, MessageError, format_date, format_number, messages, t, value

__all__ = ["LANGUAGES", "MessageError", "format_date", "format_number", "messages", "t", "value"]
