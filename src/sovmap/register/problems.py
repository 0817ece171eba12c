"""Problems found in register files: stable codes, with file, line and field."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sovmap.errors import SovmapError


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Problem:
    """One defect. ``field`` is a path such as ``services[3].provider``."""

    file: str
    line: int
    field: str
    code: str
    message: str
    severity: Severity = Severity.ERROR
    #: the catalogue message of a problem found by the input layer (and its parameters), so
    #: :meth:`render` can write it in Dutch too; ``message`` stays English
    key: str = dataclasses.field(default="", compare=False)
    params: tuple[tuple[str, Any], ...] = dataclasses.field(default=(), compare=False)

    @classmethod
    def of(
        cls,
        file: str,
        line: int,
        field: str,
        code: str,
        key: str,
        /,
        severity: Severity = Severity.ERROR,
        **params: Any,
    ) -> Problem:
        """The problem ``code`` said by the catalogue message ``key`` (English in
        ``message``, any language through :meth:`render`)."""
        from sovmap.readers import localise

        items = tuple(params.items())
        return cls(file, line, field, code, localise("en", key, items), severity, key, items)

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.field}: {self.message} [{self.code}]"

    def render(self, lang: str = "en") -> str:
        """Like ``str()``, the message in ``lang`` where it comes from the catalogue."""
        if not self.key or lang == "en":
            return str(self)
        from sovmap.readers import localise

        text = localise(lang, self.key, self.params)
        return f"{self.file}:{self.line}: {self.field}: {text} [{self.code}]"

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "line": self.line,
            "field": self.field,
            "code": self.code,
            "message": self.message,
            "severity": self.severity.value,
        }


class RegisterError(SovmapError, ValueError):
    """A register could not be read; ``problems`` lists every error found. ``message``, when
    given, replaces the default one (the first three problems)."""

    def __init__(self, problems: list[Problem], message: str = "") -> None:
        self.problems = problems
        head = "; ".join(str(p) for p in problems[:3])
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        super().__init__(message or head + more)


def field_path(path: tuple[str | int, ...] | list[str | int]) -> str:
    """``('services', 3, 'provider')`` -> ``services[3].provider``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out or "(document)"
