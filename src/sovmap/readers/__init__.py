"""The one input layer: every file the tool reads comes through here.

- :func:`decode` turns bytes into text (UTF-8, UTF-8 with BOM, UTF-16 with BOM); a line with
  bytes that are not UTF-8 is reported (file, line, byte offset) and kept with U+FFFD in their
  place, so a reader that can go on rejects that line and keeps the rest.
- :func:`read_text` checks the size before reading (``/dev/zero`` or a 10 GB file is refused
  at once).
- :func:`read_csv` reads a CSV with a header: dialect sniffing that cannot crash, ``#``
  comment lines, field-size limits, an unterminated quote reported at the line where it opened
  with reading going on at the next line, duplicate header names refused; rows read = accepted
  + rejected, always (:func:`accounting` writes that line).
- :func:`load_yaml` reads YAML with aliases refused and depth, node and size limits enforced
  while the document is composed, duplicate keys an error naming the line.

A file unusable as a whole raises :class:`InputError` (exit 2); a problem with one line is an
:class:`InputProblem`, rendered ``FILE:LINE: CODE: message``. Every message comes from the
catalogue (``sovmap/i18n/messages/input.<lang>.yaml``): ``problem.render(lang)`` and
``error.localised(lang)`` write it in Dutch or English (Dutch numbers in Dutch); the CODE
is stable and never translated; ``str()`` and ``message`` stay English.
"""

from sovmap.readers.csvfile import CsvTable, open_csv, read_csv
from sovmap.readers.text import (
    MAX_BYTES,
    InputError,
    InputProblem,
    Lines,
    Text,
    accounting,
    decode,
    iter_lines,
    localise,
    printable,
    quote,
    read_bytes,
    read_text,
    split_lines,
    summary,
)
from sovmap.readers.yamlfile import check_events, compose_yaml, load_yaml

__all__ = [
    "MAX_BYTES",
    "CsvTable",
    "InputError",
    "InputProblem",
    "Lines",
    "Text",
    "accounting",
    "check_events",
    "compose_yaml",
    "decode",
    "iter_lines",
    "load_yaml",
    "localise",
    "open_csv",
    "printable",
    "quote",
    "read_bytes",
    "read_csv",
    "read_text",
    "split_lines",
    "summary",
]
