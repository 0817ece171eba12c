"""Lists of organisations as CSV or Excel (.xlsx): one row per organisation.

At least one of the columns ``domain``, ``website`` or ``email`` is required (several values
in one cell separated by ``;``); optional columns: ``id``, ``name``, ``type``, ``parent``
(``parent_id``), ``country``, ``group`` (``groups``, ``;``-separated), ``abbreviation``.
Header names are matched case-insensitively, with common Dutch and English variants; the
header may follow up to four title rows. CSV delimiters ``,``, ``;`` and tab are recognised.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator, Mapping, Sequence

from sovmap.i18n import format_number, t
from sovmap.i18n.said import SaidText
from sovmap.orgs.model import Organisation, OrgType
from sovmap.orgs.sources import Download, Option, Parsed, SourceError, slug
from sovmap.readers import InputError, accounting, decode, read_csv, split_lines

#: Accepted header spellings per field.
COLUMNS: dict[str, tuple[str, ...]] = {
    "domain": ("domain", "domains", "domein", "domeinnaam", "domeinen"),
    "website": ("website", "websites", "url", "homepage", "internet", "site"),
    "email": ("email", "e-mail", "emails", "emailadres", "e-mailadres", "mail"),
    "id": ("id", "org_id", "identifier", "code"),
    "name": ("name", "naam", "organisation", "organization", "organisatie", "org_name"),
    "type": ("type", "org_type", "soort"),
    "parent": ("parent", "parent_id", "ministry", "ministerie"),
    "country": ("country", "land"),
    "group": ("group", "groups", "groep"),
    "abbreviation": ("abbreviation", "afkorting", "acronym"),
}
REQUIRED_ANY = ("domain", "website", "email")
HEADER_SEARCH = 5  # rows searched for the header (spreadsheets often start with a title)
MAX_SHOWN = 10  # rejected lines named in the message
_SPLIT = re.compile(r"[;\s]+")


_SEPARATORS = re.compile(r"[,;\t]")
_REQUIRED_SPELLINGS = frozenset(sp for f in REQUIRED_ANY for sp in COLUMNS[f])


def _rows_csv(data: bytes, origin: str) -> Iterator[tuple[int, list[str]]]:
    """Rows of a CSV list, read by :mod:`sovmap.readers` (encodings, delimiter, quotes): the
    title rows above the header as they are, then the header and every accepted row. A row
    the reader rejects (an unclosed quote, bytes that are not UTF-8, a field over the size
    limit) makes the list refused naming every such line, never merged
    into its neighbours."""
    try:
        text, problems = decode(data, origin)
    except InputError as exc:
        raise SourceError.wrap(exc) from exc
    lines = split_lines(text)
    header_at = None
    seen = 0
    for index, line in enumerate(lines):
        if not line.strip():
            continue
        cells = {c.strip().strip('"').lower() for c in _SEPARATORS.split(line)}
        if cells & _REQUIRED_SPELLINGS:
            header_at = index
            break
        seen += 1
        if seen > HEADER_SEARCH:
            break
    if header_at is None:  # no header: the caller names the first rows it found
        for number, line in enumerate(lines[: HEADER_SEARCH * 2], start=1):
            yield number, [c.strip() for c in _SEPARATORS.split(line)]
        return
    for index in range(header_at):
        if lines[index].strip():
            yield index + 1, [lines[index]]
    # the title rows blanked, so line numbers stay those of the file
    body = "\n" * header_at + "\n".join(lines[header_at:])
    try:
        table = read_csv(
            body,
            file=origin,
            want=_REQUIRED_SPELLINGS,
            comments=False,
            multiline=False,
            ragged=True,
            encoding_problems=problems,
        )
    except InputError as exc:
        raise SourceError.wrap(exc) from exc
    if table.problems:
        first = table.problems[:MAX_SHOWN]
        more = len(table.problems) - MAX_SHOWN

        def shown(lang: str) -> str:
            return "; ".join(
                f"{t(lang, 'ORGSRC_LINE', line=p.line)}: {p.code}: {p.text(lang)}" for p in first
            )

        raise SourceError.of(
            "ORGSRC_LINES_TO_FIX" if more <= 0 else "ORGSRC_LINES_TO_FIX_MORE",
            origin,
            accounting=table.accounting,
            shown=shown,
            more=lambda lang: format_number(more, lang),
        )
    yield table.header_line, table.header
    for number, row in table.rows:
        yield number, [row.get(h, "") for h in table.header]


def _rows_xlsx(data: bytes, origin: str) -> Iterator[tuple[int, list[str]]]:
    try:
        import openpyxl
    except ImportError as exc:  # pragma: no cover - extra not installed
        raise SourceError.of("ORGSRC_EXCEL_EXTRA") from exc
    try:
        wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:
        raise SourceError.of("ORGSRC_NOT_XLSX", origin, detail=exc) from exc
    sheet = wb.worksheets[0]
    for i, row in enumerate(sheet.iter_rows(values_only=True), start=1):
        yield i, ["" if v is None else str(v) for v in row]
    wb.close()


def _no_domain_column(origin: str, line: int, title: Sequence[str]) -> SourceError:
    found = ", ".join(c for c in title if c)
    if found:
        return SourceError.of("ORGSRC_NO_DOMAIN_COLUMN", origin, line=line, found=found)
    return SourceError.of("ORGSRC_NO_COLUMNS", origin, line=line)


def parse_table(data: bytes, origin: str, *, excel: bool) -> list[Organisation]:
    """Organisations from a CSV or .xlsx document; raises SourceError naming line and field."""
    rows = _rows_xlsx(data, origin) if excel else _rows_csv(data, origin)
    header: dict[str, int] = {}
    seen: dict[str, int] = {}  # id -> line
    out: list[Organisation] = []
    valid_types = {k.value for k in OrgType}
    skipped: list[tuple[int, list[str]]] = []  # title rows above the header
    for line, row in rows:
        if not header:
            if not any(c.strip() for c in row):
                continue
            names = [c.strip().lower() for c in row]
            found = {
                field: names.index(spelling)
                for field, spellings in COLUMNS.items()
                for spelling in reversed(spellings)
                if spelling in names
            }
            if any(f in found for f in REQUIRED_ANY):
                header = found
                continue
            skipped.append((line, names))
            if len(skipped) == HEADER_SEARCH:
                first_line, title = skipped[0]
                raise _no_domain_column(origin, first_line, title)
            continue

        def cell(field: str, row: list[str] = row, header: dict[str, int] = header) -> str:
            idx = header.get(field)
            return row[idx].strip() if idx is not None and idx < len(row) else ""

        if not any(c.strip() for c in row):
            continue
        values = {f: [v for v in _SPLIT.split(cell(f)) if v] for f in REQUIRED_ANY}
        name = cell("name")
        first = (values["domain"] or values["website"] or values["email"] or [""])[0]
        given = cell("id")
        org_id = given or slug(name) or first
        if org_id in seen:
            if given:
                raise SourceError.of(
                    "ORGSRC_ID_USED", origin, line=line, id=given, first=seen[org_id]
                )
            # two bodies of the same name (Sankt Johann...): tell them apart by their domain
            org_id = f"{org_id}~{first or line}"
        seen[org_id] = line
        if not org_id:
            raise SourceError.of("ORGSRC_ROW_EMPTY", origin, line=line)
        kind = cell("type").lower() or OrgType.OTHER.value
        if kind not in valid_types:
            raise SourceError.of(
                "ORGSRC_BAD_TYPE",
                origin,
                line=line,
                kind=kind,
                types=", ".join(sorted(valid_types)),
            )
        out.append(
            Organisation(
                id=org_id if ":" in org_id else f"list:{org_id}",
                name=name or org_id,
                type=kind,
                parent_id=cell("parent"),
                country=cell("country").upper(),
                websites=tuple(values["website"]),
                emails=tuple(values["email"]),
                domains=tuple(values["domain"]),
                source="list",
                source_id=f"{origin}:{line}",
                abbreviation=cell("abbreviation"),
                groups=tuple(g.strip() for g in cell("group").split(";") if g.strip()),
            )
        )
    if not header and skipped:
        first_line, title = skipped[0]
        raise _no_domain_column(origin, first_line, title)
    if not header:
        raise SourceError.of("ORGSRC_EMPTY_FILE", origin)
    # every row after the header became an organisation (a rejected row refuses the list)
    n = len(out)
    counted = SaidText.of(
        "ORGSRC_ACCOUNTING", origin, accounting=lambda lang: accounting(n, n, 0, lang)
    )
    return Parsed(out, [counted])


class TabularSource:
    """``list``: a CSV or Excel list of organisations, fetched from a URL."""

    name = "list"
    help = "a CSV or Excel (.xlsx) list with a domain, website or email column, by URL"
    default_base_url = ""
    options: Sequence[Option] = (Option("url", "where the .csv or .xlsx file lives"),)

    def downloads(self, base_url: str, options: Mapping[str, str]) -> list[Download]:
        url = options.get("url") or base_url
        if not url:
            raise SourceError.of("ORGSRC_LIST_NEEDS_URL")
        key = re.sub(r"[^A-Za-z0-9._-]+", "_", url.rsplit("/", 1)[-1]) or "list.csv"
        return [Download(key=key, url=url)]

    def parse(self, data: bytes, origin: str, options: Mapping[str, str]) -> list[Organisation]:
        excel = origin.lower().split("?", 1)[0].endswith(".xlsx") or data[:2] == b"PK"
        return parse_table(data, origin, excel=excel)


SOURCE = TabularSource()
