"""CSV with a header row, read so that no row is ever lost without a message.

The parser is our own small state machine rather than :mod:`csv`, because the standard
reader cannot tell where an unterminated quote opened, swallows every later line into one
field, and raises mid-file on a field over its size limit. Here:

- the delimiter is chosen among ``delimiters`` from the header and the rows below it (the one
  that splits the header into a known column, else the one most rows agree with), and the
  choice cannot fail: one column is a valid answer;
- a line whose first non-blank character is ``#`` is a comment (outside a quoted field);
- a quote that is not closed (on its line, or with ``multiline=True`` within a row of the
  header's width) is reported at the line where it opened, and reading goes on at the next
  line;
- a field over ``max_field`` characters rejects its row with the length in the message;
- a row with more or fewer fields than the header is rejected (trailing empty fields aside);
- a line holding bytes that were not UTF-8 (see :func:`~sovmap.readers.decode`) rejects its
  row;
- two header columns with the same name make the file unusable (:class:`InputError`).

Every record after the header counts once: ``read == accepted + rejected``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sovmap.readers.text import (
    MAX_BYTES,
    InputError,
    InputProblem,
    Lines,
    Params,
    Text,
    accounting,
    quote,
    text_of,
)

#: Default limit of one field (characters).
MAX_FIELD = 128 * 1024
#: A quoted field may run over at most this many lines (``multiline=True``).
MAX_RECORD_LINES = 200
_SNIFF_ROWS = 20


@dataclass
class CsvTable:
    """The rows of a CSV (``rows``: line number and row by header name) and its accounting."""

    header: list[str]
    rows: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    problems: list[InputProblem] = field(default_factory=list)
    delimiter: str = ","
    read: int = 0
    accepted: int = 0
    rejected: int = 0
    header_line: int = 1
    _source: _Source | None = field(default=None, repr=False, compare=False)

    def iter_rows(self) -> Iterator[tuple[int, dict[str, str]]]:
        """The rows after the header, once (from :func:`open_csv`); counts grow as they
        come."""
        src, self._source = self._source, None
        if src is None:
            return iter(())
        return _iter_rows(self, src)

    def accounting(self, lang: str = "en") -> str:
        """``rows read: N = accepted A + rejected R`` (in ``lang``)."""
        return accounting(self.read, self.accepted, self.rejected, lang)


class _Reject(Exception):
    """A record that cannot be read: its code, catalogue key and parameters, and the line
    index where reading goes on."""

    def __init__(self, code: str, key: str, resume: int, **params: object) -> None:
        self.code = code
        self.key = key
        self.params: Params = tuple(params.items())
        self.resume = resume

    def problem(self, file: str, line: int) -> InputProblem:
        return InputProblem.of(file, line, self.code, self.key, **dict(self.params))


def _record(
    lines: Lines, i: int, delim: str, *, max_field: int, multiline: bool
) -> tuple[list[str], int]:
    """The fields of the record starting at ``lines[i]`` and the index after it."""
    s = lines[i]
    if '"' not in s:
        plain = s.split(delim)
        for n, value in enumerate(plain, start=1):
            if len(value) > max_field:
                raise _Reject(
                    "FIELD_TOO_LARGE",
                    "INPUT_FIELD_TOO_LARGE",
                    i + 1,
                    field=n,
                    size=len(value),
                    limit=max_field,
                )
        return plain, i + 1
    fields: list[str] = []
    cur: list[str] = []
    size = 0
    in_quote = False
    at_start = True
    j = i
    while True:
        s = lines[j]
        k = 0
        n = len(s)
        while k < n:
            if in_quote:
                q = s.find('"', k)
                if q < 0:
                    cur.append(s[k:])
                    size += n - k
                    k = n
                elif q + 1 < n and s[q + 1] == '"':
                    cur.append(s[k : q + 1])
                    size += q + 1 - k
                    k = q + 2
                else:
                    cur.append(s[k:q])
                    size += q - k
                    in_quote = False
                    k = q + 1
                    if j > i and k < n and s[k] != delim:
                        # a quote that closes lines later with text after it: a stray quote
                        # on this row and another on a later one, not a field with line breaks
                        raise _Reject(
                            "UNTERMINATED_QUOTE", "INPUT_QUOTE_BEFORE_LINE", i + 1, closes=j + 1
                        )
            elif at_start and s[k] == '"':
                in_quote = True
                at_start = False
                k += 1
            else:
                at_start = False
                d = s.find(delim, k)
                end = n if d < 0 else d
                cur.append(s[k:end])
                size += end - k
                k = end
                if d >= 0:
                    fields.append("".join(cur))
                    cur, size, at_start = [], 0, True
                    k = d + 1
            if size > max_field:
                if j > i:
                    raise _Reject(
                        "UNTERMINATED_QUOTE", "INPUT_QUOTE_WITHIN_CHARS", i + 1, limit=max_field
                    )
                raise _Reject(
                    "FIELD_TOO_LARGE",
                    "INPUT_FIELD_OVER",
                    j + 1,
                    field=len(fields) + 1,
                    limit=max_field,
                )
        if not in_quote:
            fields.append("".join(cur))
            return fields, j + 1
        j += 1
        if not multiline or not lines.has(j) or j - i >= MAX_RECORD_LINES:
            if not lines.has(j):
                raise _Reject("UNTERMINATED_QUOTE", "INPUT_QUOTE_AT_END", i + 1)
            if not multiline:
                raise _Reject("UNTERMINATED_QUOTE", "INPUT_QUOTE_ON_LINE", i + 1)
            raise _Reject(
                "UNTERMINATED_QUOTE", "INPUT_QUOTE_WITHIN_LINES", i + 1, lines=MAX_RECORD_LINES
            )
        cur.append("\n")
        size += 1


def _is_skipped(line: str, comments: bool) -> bool:
    stripped = line.strip()
    return not stripped or (comments and stripped.startswith("#"))


def _choose_delimiter(
    lines: Lines, start: int, delimiters: str, want: Collection[str], comments: bool
) -> tuple[str, list[str]]:
    """The delimiter (and header fields) for the header at ``lines[start]``; never fails."""
    scores: list[tuple[tuple[int, int, int, int], str, list[str]]] = []
    for order, delim in enumerate(delimiters):
        try:
            header, _ = _record(lines, start, delim, max_field=MAX_FIELD, multiline=False)
        except _Reject:
            continue
        names = {h.strip().strip('"').lower() for h in header}
        known = len(names & set(want))
        agree = 0
        seen = 0
        k = start + 1
        while lines.has(k) and seen < _SNIFF_ROWS:
            if not _is_skipped(lines[k], comments):
                seen += 1
                try:
                    row, _ = _record(lines, k, delim, max_field=MAX_FIELD, multiline=False)
                except _Reject:
                    row = []
                agree += len(header) > 1 and len(row) == len(header)
            k += 1
        scores.append(((known, agree, len(header), -order), delim, header))
    if not scores:
        return delimiters[0] if delimiters else ",", [lines[start]]
    _, delim, header = max(scores, key=lambda s: s[0])
    return delim, header


def read_csv(
    path_or_text: Path | str | bytes,
    *,
    file: str = "",
    max_bytes: int = MAX_BYTES,
    max_field: int = MAX_FIELD,
    delimiters: str = ",;\t",
    want: Collection[str] = (),
    comments: bool = True,
    multiline: bool = True,
    ragged: bool = False,
    encoding_problems: Sequence[InputProblem] = (),
) -> CsvTable:
    """Read a CSV with a header row; every accepted row in ``rows``.

    ``path_or_text``: a :class:`~pathlib.Path` is read (size checked first), ``bytes`` are
    decoded, a ``str`` is the text itself (``encoding_problems``: what :func:`decode` reported
    for it). ``file`` names the input in messages. ``want``: header names (lower case) that
    make a delimiter the right one when the header split by it holds one of them.
    ``multiline=False``: a quoted field never runs over a line end (for inputs whose values
    never hold one, so a stray quote costs one line, never more). ``ragged=True``: a row with
    fewer fields than the header is padded with empty ones and fields past the header are
    dropped (spreadsheet exports), instead of the row being rejected.

    Raises :class:`InputError` for a file unusable as a whole (too large, not decodable, no
    header, a header with an unclosed quote or duplicate names).
    """
    table = open_csv(
        path_or_text,
        file=file,
        max_bytes=max_bytes,
        max_field=max_field,
        delimiters=delimiters,
        want=want,
        comments=comments,
        multiline=multiline,
        ragged=ragged,
        encoding_problems=encoding_problems,
    )
    table.rows = list(table.iter_rows())
    return table


def open_csv(
    path_or_text: Path | str | bytes,
    *,
    file: str = "",
    max_bytes: int = MAX_BYTES,
    max_field: int = MAX_FIELD,
    delimiters: str = ",;\t",
    want: Collection[str] = (),
    comments: bool = True,
    multiline: bool = True,
    ragged: bool = False,
    encoding_problems: Sequence[InputProblem] = (),
) -> CsvTable:
    """Like :func:`read_csv`, but the rows are not kept: :meth:`CsvTable.iter_rows` yields
    them once (the counts grow as they come), for inputs too long to hold as row dicts."""
    text, problems, name = text_of(path_or_text, file, max_bytes, encoding_problems)
    bad_lines = {p.line for p in problems}
    lines = Lines(text)
    start = 0
    while lines.has(start) and _is_skipped(lines[start], comments):
        start += 1
    if not lines.has(start):
        raise InputError.of(name, "EMPTY", "INPUT_NO_HEADER", line=1)
    if start + 1 in bad_lines:
        raise InputError.of(name, "ENCODING", "INPUT_HEADER_NOT_UTF8", line=start + 1)
    delim, raw_header = _choose_delimiter(lines, start, delimiters, want, comments)
    try:
        raw_header, _ = _record(lines, start, delim, max_field=max_field, multiline=False)
    except _Reject as exc:
        raise InputError.of(
            name,
            exc.code,
            "INPUT_HEADER_ROW",
            line=start + 1,
            problem=Text(exc.key, exc.params),
        ) from None
    header = [h.strip() for h in raw_header]
    firsts: dict[str, int] = {}
    for n, h in enumerate(header, start=1):
        if not h:
            continue
        key = h.casefold()
        if key in firsts:
            raise InputError.of(
                name,
                "DUPLICATE_HEADER",
                "INPUT_DUPLICATE_HEADER",
                line=start + 1,
                name=quote(h),
                first=firsts[key],
                second=n,
            )
        firsts[key] = n
    table = CsvTable(header=header, problems=problems, delimiter=delim, header_line=start + 1)
    table._source = _Source(name, lines, bad_lines, max_field, comments, multiline, ragged)
    return table


@dataclass
class _Source:
    name: str
    lines: Lines
    bad_lines: set[int]
    max_field: int
    comments: bool
    multiline: bool
    ragged: bool


def _iter_rows(table: CsvTable, src: _Source) -> Iterator[tuple[int, dict[str, str]]]:
    lines, bad_lines, name, delim = src.lines, src.bad_lines, src.name, table.delimiter
    header = table.header
    width = len(header)
    i = table.header_line
    while lines.has(i):
        lines.release(i)
        if _is_skipped(lines[i], src.comments):
            i += 1
            continue
        lineno = i + 1
        table.read += 1
        try:
            fields, nxt = _record(lines, i, delim, max_field=src.max_field, multiline=src.multiline)
        except _Reject as exc:
            table.rejected += 1
            if lineno not in bad_lines:
                table.problems.append(exc.problem(name, lineno))
            i = exc.resume
            continue
        if any(n in bad_lines for n in range(lineno, nxt + 1)):
            table.rejected += 1  # the ENCODING problem is already reported for that line
            i = nxt
            continue
        if all(not f.strip() for f in fields):
            table.read -= 1  # a blank row (only delimiters): not a row
            i = nxt
            continue
        if len(fields) > width and (src.ragged or not any(f.strip() for f in fields[width:])):
            fields = fields[:width]
        elif len(fields) < width and src.ragged and nxt - i == 1:
            fields = fields + [""] * (width - len(fields))
        if len(fields) != width:
            table.rejected += 1
            if nxt - i > 1:  # a quote that closed lines later, leaving a row of the wrong width
                table.problems.append(
                    InputProblem.of(
                        name,
                        lineno,
                        "UNTERMINATED_QUOTE",
                        "INPUT_QUOTE_WIDTH",
                        closes=nxt,
                        fields=len(fields),
                        width=width,
                    )
                )
                i += 1
                continue
            table.problems.append(
                InputProblem.of(
                    name,
                    lineno,
                    "COLUMNS",
                    "INPUT_COLUMNS",
                    fields=len(fields),
                    width=width,
                    row=quote(delim.join(fields)),
                )
            )
            i = nxt
            continue
        table.accepted += 1
        yield lineno, {h: v for h, v in zip(header, fields, strict=True) if h}
        i = nxt
