"""Bytes to text: encodings, byte-order marks, size limits, and the shape of an input problem."""

from __future__ import annotations

import codecs
import os
import re
import stat
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sovmap.errors import SovmapError
from sovmap.i18n import format_number, t

#: Default size limit of one input file (bytes).
MAX_BYTES = 512 * 1024 * 1024
#: A value quoted in a message is cut to this many characters.
QUOTE_CHARS = 80


def quote(value: str, limit: int = QUOTE_CHARS) -> str:
    """``value`` as a Python literal, cut to ``limit`` characters (control characters escaped,
    so nothing from an input reaches a terminal raw)."""
    if len(value) > limit:
        cut = value[: limit - 1]
        return repr(cut)[:-1] + "…" + repr(cut)[-1] + f" ({len(value):,} characters)"
    return repr(value)


# C0 and C1 control characters, DEL, and the bidirectional overrides and isolates
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """``text`` with every control character (terminal escapes, line breaks, bidi overrides)
    written as ``\\xNN`` or ``\\uNNNN``: data from DNS or a file shown on a terminal or in a
    CSV cell can neither move the cursor nor break the line."""
    if not _CONTROL.search(text):
        return text
    return _CONTROL.sub(
        lambda m: (
            f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100 else f"\\u{ord(m.group()):04x}"
        ),
        text,
    )


Params = tuple[tuple[str, Any], ...]


@dataclass(frozen=True, slots=True)
class Text:
    """A catalogue message not yet rendered (a message inside another one)."""

    key: str
    params: Params = ()


def _param(value: Any, lang: str) -> Any:
    if isinstance(value, Text):
        return localise(lang, value.key, value.params)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return format_number(value, lang)
    return value


def localise(lang: str, key: str, params: Params | dict[str, Any]) -> str:
    """The catalogue message ``key`` in ``lang``, numbers among ``params`` written the
    language's way (``1,234`` / ``1.234``), a :class:`Text` rendered in ``lang`` too; text
    values (quoted input) as they are."""
    items = params.items() if isinstance(params, dict) else params
    return t(lang, key, **{k: _param(v, lang) for k, v in items})


@dataclass(frozen=True, slots=True)
class InputProblem:
    """A problem with one line of an input; the rest of the file goes on.

    ``code`` is stable and never translated; ``message`` is the English text. A problem made
    with :meth:`of` also keeps its catalogue ``key`` and ``params``, so :meth:`render` writes
    it in Dutch as well."""

    file: str
    line: int
    code: str
    message: str
    key: str = field(default="", compare=False)
    params: Params = field(default=(), compare=False)

    @classmethod
    def of(cls, file: str, line: int, code: str, key: str, /, **params: Any) -> InputProblem:
        items = tuple(params.items())
        return cls(file, line, code, localise("en", key, items), key, items)

    def text(self, lang: str = "en") -> str:
        """The message in ``lang`` (English when it was made without a catalogue key)."""
        return localise(lang, self.key, self.params) if self.key else self.message

    def render(self, lang: str = "en") -> str:
        return f"{self.file}:{self.line}: {self.code}: {self.text(lang)}"


class InputError(SovmapError):
    """A file unusable as a whole (exit 2); the message names the file and, where known,
    the line and byte."""

    def __init__(
        self,
        file: str,
        message: str,
        *,
        line: int | None = None,
        key: str = "",
        params: Params = (),
    ) -> None:
        self.file = file
        self.line = line
        self.detail = message
        code, sep, rest = message.partition(": ")
        #: the stable code the message starts with (``TOO_LARGE``, ``YAML_ALIAS``, ...)
        self.code = code if sep and code.replace("_", "").isalpha() and code.isupper() else ""
        self.message = rest if self.code else message
        self.key = key
        self.params = params
        where = f"{file}:{line}" if line is not None else file
        super().__init__(f"{where}: {message}")

    @classmethod
    def of(
        cls, file: str, code: str, key: str, /, *, line: int | None = None, **params: Any
    ) -> InputError:
        """The error ``code`` with the catalogue message ``key`` (English in ``str()``,
        any language through :meth:`localised`)."""
        items = tuple(params.items())
        return cls(file, f"{code}: {localise('en', key, items)}", line=line, key=key, params=items)

    def __reduce__(self) -> tuple[Any, ...]:  # whole across processes
        return (_input_error, (self.file, self.detail, self.line, self.key, self.params))

    def localised(self, lang: str) -> str:
        if not self.key:
            return str(self)
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        code = f"{self.code}: " if self.code else ""
        return f"{where}: {code}{localise(lang, self.key, self.params)}"


def _input_error(file: str, message: str, line: int | None, key: str, params: Params) -> InputError:
    return InputError(file, message, line=line, key=key, params=params)


def summary(problems: Iterable[InputProblem], lang: str = "en") -> str:
    """One line counting problems per code, e.g. ``2 DUPLICATE, 1 ENCODING``."""
    counts = Counter(p.code for p in problems)
    return ", ".join(f"{format_number(n, lang)} {code}" for code, n in sorted(counts.items()))


def accounting(read: int, accepted: int, rejected: int, lang: str = "en") -> str:
    """The input accounting line: ``rows read: N = accepted A + rejected R``."""
    return localise(
        lang, "INPUT_ACCOUNTING", {"read": read, "accepted": accepted, "rejected": rejected}
    )


_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def decode(data: bytes, file: str) -> tuple[str, list[InputProblem]]:
    """Text of ``data``: UTF-8 (with or without BOM) or UTF-16 with a BOM.

    A line of UTF-8 text holding bytes that are not UTF-8 is reported (``ENCODING``, with the
    byte offset) and kept with U+FFFD in place of those bytes, so line numbers stay right and a
    reader can reject that line and keep the others. UTF-16 that does not decode, or text
    without a BOM holding NUL bytes in most lines (UTF-16 without a BOM), raises
    :class:`InputError` naming the file, line and byte.
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            body = data[len(bom) :]
            if encoding == "utf-8":
                return _decode_utf8(body, file, len(bom))
            try:
                return body.decode(encoding), []
            except UnicodeDecodeError as exc:
                good = body[: exc.start].decode(encoding, "replace")
                line = good.count("\n") + 1
                raise InputError.of(
                    file,
                    "ENCODING",
                    "INPUT_NOT_UTF16",
                    line=line,
                    encoding=encoding.upper()[:6],
                    byte=exc.start + len(bom),
                ) from None
    if data[:1000].count(b"\x00") > 100:
        raise InputError.of(file, "ENCODING", "INPUT_UTF16_NO_BOM", line=1)
    return _decode_utf8(data, file, 0)


def _decode_utf8(data: bytes, file: str, base: int) -> tuple[str, list[InputProblem]]:
    try:
        return data.decode("utf-8"), []
    except UnicodeDecodeError:
        pass
    parts: list[str] = []
    problems: list[InputProblem] = []
    offset = 0
    for lineno, raw in enumerate(data.splitlines(keepends=True), start=1):
        try:
            parts.append(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            parts.append(raw.decode("utf-8", "replace"))
            byte = raw[exc.start]
            problems.append(
                InputProblem.of(
                    file,
                    lineno,
                    "ENCODING",
                    "INPUT_NOT_UTF8",
                    byte=f"0x{byte:02x}",
                    offset=base + offset + exc.start,
                )
            )
        offset += len(raw)
    return "".join(parts), problems


_LINE = re.compile(r"([^\r\n]*)(\r\n|\r|\n|$)")


def split_lines(text: str) -> list[str]:
    """Lines without their terminators; ``\\r\\n``, ``\\r`` and ``\\n`` end a line (and
    nothing else), the rule :func:`decode` counts lines by, so line numbers agree."""
    return [m.group(1) for m in _LINE.finditer(text) if m.group(0)]


def iter_lines(text: str) -> Iterator[str]:
    """The lines of ``text`` one by one (the :func:`split_lines` rule), without a list."""
    for m in _LINE.finditer(text):
        if m.group(0):
            yield m.group(1)


class Lines:
    """The lines of a text, split as they are asked for: ``lines[i]`` for any ``i`` not yet
    released, ``has(i)``; ``release(i)`` forgets the lines before ``i``. A reader of a
    million-line file so holds the text and a few lines, never a list of them all."""

    def __init__(self, text: str) -> None:
        self._source = iter_lines(text)
        self._buffer: list[str] = []
        self._base = 0  # the index of _buffer[0]
        self._done = False

    def has(self, i: int) -> bool:
        while not self._done and i - self._base >= len(self._buffer):
            line = next(self._source, None)
            if line is None:
                self._done = True
            else:
                self._buffer.append(line)
        return 0 <= i - self._base < len(self._buffer)

    def __getitem__(self, i: int) -> str:
        if not self.has(i):
            raise IndexError(i)
        return self._buffer[i - self._base]

    def release(self, i: int) -> None:
        if i - self._base > 4096:
            del self._buffer[: i - self._base]
            self._base = i


def read_bytes(path: Path | str, *, max_bytes: int = MAX_BYTES) -> bytes:
    """The bytes of ``path``; the size is checked before reading, and a device or pipe is read
    only up to the limit."""
    p = Path(path)
    try:  # non-blocking open: a named pipe without a writer must not hang the open
        fd = os.open(p, os.O_RDONLY | os.O_NONBLOCK)
    except IsADirectoryError:
        raise InputError.of(str(p), "NOT_A_FILE", "INPUT_DIRECTORY") from None
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise InputError.of(str(p), "UNREADABLE", "INPUT_CANNOT_OPEN", reason=reason) from None
    st = os.fstat(fd)
    if stat.S_ISDIR(st.st_mode):
        os.close(fd)
        raise InputError.of(str(p), "NOT_A_FILE", "INPUT_DIRECTORY")
    os.set_blocking(fd, True)  # a pipe with a writer is then read to its end
    with os.fdopen(fd, "rb") as fh:
        if stat.S_ISREG(st.st_mode) and st.st_size > max_bytes:
            raise InputError.of(
                str(p), "TOO_LARGE", "INPUT_TOO_LARGE", size=st.st_size, limit=max_bytes
            )
        try:
            data = fh.read(max_bytes + 1)
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise InputError.of(str(p), "UNREADABLE", "INPUT_CANNOT_READ", reason=reason) from None
    if len(data) > max_bytes:
        raise InputError.of(str(p), "TOO_LARGE", "INPUT_TOO_LARGE_STREAM", limit=max_bytes)
    return data


def read_text(
    path: Path | str, *, max_bytes: int = MAX_BYTES, file: str = ""
) -> tuple[str, list[InputProblem]]:
    """Text of ``path`` (see :func:`decode`), refusing a file over ``max_bytes`` before
    reading it."""
    return decode(read_bytes(path, max_bytes=max_bytes), file or str(path))


def text_of(
    path_or_text: Path | str | bytes,
    file: str,
    max_bytes: int,
    encoding_problems: Sequence[InputProblem] = (),
) -> tuple[str, list[InputProblem], str]:
    """Text, encoding problems and name of a reader's input: a :class:`~pathlib.Path` is read
    (size checked first), ``bytes`` decoded, a ``str`` is the text itself."""
    if isinstance(path_or_text, Path):
        name = file or str(path_or_text)
        text, problems = read_text(path_or_text, max_bytes=max_bytes, file=name)
        return text, problems, name
    name = file or "<input>"
    if len(path_or_text) > max_bytes:
        size = len(path_or_text)
        raise InputError.of(name, "TOO_LARGE", "INPUT_TOO_LARGE", size=size, limit=max_bytes)
    if isinstance(path_or_text, bytes):
        text, problems = decode(path_or_text, name)
        return text, problems, name
    return path_or_text, list(encoding_problems), name
