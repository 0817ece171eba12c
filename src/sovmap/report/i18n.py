"""Messages of the reports: the shared catalogue of :mod:`sovmap.i18n`."""

from sovmap.i18n import LANGUAGES, MessageError, messages, t

__all__ = ["LANGUAGES", "MessageError", "messages", "t"]
