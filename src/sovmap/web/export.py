"""Tables of the pages: server-side sorting over the whole result, paging, and CSV/XLSX export.

A page describes each of its tables once (:class:`Grid`: its columns and how to read a row's
values); the same description sorts the rows (``?sort=<table>.<column>&dir=asc|desc``, column
names checked against the table's), pages them and writes them as CSV or XLSX
(``?export=<table>&format=csv|xlsx``), so a download holds exactly the rows the page filters
and in its order, all of them, not only the page shown. Text cells that a spreadsheet would
read as a formula (starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return) are
written with a leading apostrophe.
"""

from __future__ import annotations

import csv
import functools
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar
from urllib.parse import quote_plus, urlencode

from fastapi import HTTPException, Request
from fastapi.responses import Response
from markupsafe import Markup, escape

from sovmap import i18n

T = TypeVar("T")

FORMATS = ("csv", "xlsx")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_RISKY = ("=", "+", "-", "@", "\t", "\r")
#: most rows one export writes (a larger table is cut with a last line saying so)
MAX_EXPORT_ROWS = 1_000_000


def safe_cell(v: Any) -> Any:
    """A value as a spreadsheet should store it: text that would start a formula gets a
    leading apostrophe; numbers stay numbers; None is empty."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int | float):
        return v
    if isinstance(v, list | tuple | set | frozenset):
        v = ", ".join(str(x) for x in v)
    text = str(v)
    if text.startswith(_RISKY):
        return "'" + text
    return text


@dataclass(frozen=True)
class Col:
    """A column: its name in the query string, its header's catalogue code, numeric or not."""

    key: str
    label: str
    num: bool = False
    sortable: bool = True
    #: the header already in the page's language (a label with parameters)
    text: str = ""


@functools.lru_cache(maxsize=1024)
def _quoted(name: str) -> str:
    """A table's or column's name in a query string (names are the code's own: few)."""
    return quote_plus(name)


def _sort_key(v: Any) -> tuple[int, Any]:
    """Unknown values last; numbers by value; text case-blind."""
    if v is None or v == "":
        return (2, "")
    if isinstance(v, bool):
        return (0, int(v))
    if isinstance(v, int | float):
        return (0, v)
    if isinstance(v, list | tuple):
        v = ", ".join(str(x) for x in v)
    return (1, str(v).casefold())


@dataclass
class Grid(Generic[T]):
    """One table of a page: columns, the rows (all of them, filtered), a row's values."""

    key: str
    cols: Sequence[Col]
    cells: Callable[[T], Sequence[Any]]
    rows: Sequence[T] = ()
    sort: str = ""
    desc: bool = False
    #: set by Tables.add: the page's filters, kept in the sort and export links
    base: list[tuple[str, str]] = field(default_factory=list)
    lang: str = "en"

    def sorted(self) -> list[T]:
        """The rows in the asked order (stable: equal values keep the page's order)."""
        rows = list(self.rows)
        if not self.sort:
            return rows
        i = next(n for n, c in enumerate(self.cols) if c.key == self.sort)
        rows.sort(key=lambda r: _sort_key(self.cells(r)[i]), reverse=self.desc)
        return rows

    def aria(self, col: Col) -> str:
        if col.key != self.sort:
            return ""
        return "descending" if self.desc else "ascending"

    def _sort_href(self, col: Col, base: str) -> str:
        """The link of a header: sorts by this column, ascending first, then the other way
        (``base``: the page's filters, urlencoded)."""
        way = "desc" if col.key == self.sort and not self.desc else "asc"
        mine = f"sort={_quoted(f'{self.key}.{col.key}')}&dir={way}"
        return f"?{base}&{mine}" if base else f"?{mine}"

    def thead(self) -> Markup:
        """The table's head: a header per column, a sorting link on each sortable one and
        ``aria-sort`` on the sorted one. Written here rather than in a template macro: every
        table of every page has one, and the macro cost a third of a domain page's rendering
        (with the export links, :meth:`exports`, no page imports a macro module, which an
        import "with context" ran on every render)."""
        base = urlencode(self.base)
        cells = []
        for c in self.cols:
            label = escape(c.text or i18n.t(self.lang, c.label))
            attrs = ' class="num"' if c.num else ""
            if aria := self.aria(c):
                attrs += f' aria-sort="{aria}"'
            if c.sortable:
                href = escape(self._sort_href(c, base))
                label = Markup(f'<a class="sort" href="{href}">{label}</a>')
            cells.append(f'<th scope="col"{attrs}>{label}</th>')
        return Markup("<thead><tr>" + "".join(cells) + "</tr></thead>")

    def export_href(self, fmt: str) -> str:
        params = list(self.base)
        if self.sort:
            params.append(("sort", f"{self.key}.{self.sort}"))
            params.append(("dir", "desc" if self.desc else "asc"))
        params += [("export", self.key), ("format", fmt)]
        return "?" + urlencode(params)

    def exports(self) -> Markup:
        """The table's download links (CSV and XLSX of all its rows in the page's order)."""
        label = escape(i18n.t(self.lang, "WEB_EXPORT"))
        key = escape(self.key)
        csv_href = escape(self.export_href("csv"))
        xlsx_href = escape(self.export_href("xlsx"))
        return Markup(
            f'<p class="export">{label} <a href="{csv_href}" data-export="{key}-csv">CSV</a>'
            f' · <a href="{xlsx_href}" data-export="{key}-xlsx">XLSX</a></p>'
        )

    def header(self) -> list[str]:
        return [c.text or i18n.t(self.lang, c.label) for c in self.cols]

    def values(self) -> list[list[Any]]:
        return [[safe_cell(v) for v in self.cells(r)] for r in self.sorted()[:MAX_EXPORT_ROWS]]


def csv_bytes(header: list[str], rows: list[list[Any]]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow([safe_cell(h) for h in header])
    w.writerows(rows)
    return ("\ufeff" + buf.getvalue()).encode("utf-8")  # BOM: spreadsheets read UTF-8


def xlsx_bytes(title: str, header: list[str], rows: list[list[Any]]) -> bytes:
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title[:31] or "sovmap")
    ws.append([safe_cell(h) for h in header])
    for r in rows:
        ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


class Tables:
    """The tables of one page request: checks ``sort``/``dir``/``export``/``format`` against
    them and answers an export."""

    def __init__(self, request: Request, lang: str, keep: Sequence[str] = ()) -> None:
        """``keep``: the page's filter parameters, carried into its sort and export links
        (nothing else of the query string is echoed)."""
        qp = request.query_params
        self.lang = lang
        self.base = [(k, v) for k, v in qp.multi_items() if k in keep]
        self.sort = qp.get("sort", "")[:80]
        direction = qp.get("dir", "asc")
        if direction not in ("asc", "desc"):
            raise HTTPException(400, i18n.t(lang, "WEB_ERR_DIR"))
        self.desc = direction == "desc"
        self.export = qp.get("export", "")[:40]
        self.format = qp.get("format", "csv")
        if self.export and self.format not in FORMATS:
            raise HTTPException(400, i18n.t(lang, "WEB_ERR_FORMAT", valid=", ".join(FORMATS)))
        self.grids: dict[str, Grid[Any]] = {}

    def wants(self, key: str) -> bool:
        """Whether this request sorts or exports table ``key`` (it then needs all rows)."""
        return self.export == key or self.sort.startswith(key + ".")

    def add(
        self,
        key: str,
        cols: Sequence[Col],
        cells: Callable[[T], Sequence[Any]],
        rows: Sequence[T] = (),
    ) -> Grid[T]:
        grid: Grid[T] = Grid(key, cols, cells, rows, base=self.base, lang=self.lang)
        table, _, col = self.sort.partition(".")
        if table == key:
            valid = [c.key for c in cols if c.sortable]
            if col not in valid:
                raise HTTPException(
                    400,
                    i18n.t(
                        self.lang,
                        "WEB_ERR_COLUMN",
                        table=key,
                        column=repr(col[:40]),
                        valid=", ".join(valid),
                    ),
                )
            grid.sort, grid.desc = col, self.desc
        self.grids[key] = grid
        return grid

    def answer(self, title: str) -> Response | None:
        """The export asked for, or None for the page itself; 400 for an unknown table."""
        table = self.sort.partition(".")[0]
        if self.sort and table not in self.grids:
            raise HTTPException(400, self._no_table("sort", table))
        if not self.export:
            return None
        grid = self.grids.get(self.export)
        if grid is None:
            raise HTTPException(400, self._no_table("export", self.export))
        name = f"sovmap-{title}-{grid.key}.{self.format}"
        disposition = {"content-disposition": f'attachment; filename="{name}"'}
        if self.format == "csv":
            body = csv_bytes(grid.header(), grid.values())
            return Response(body, media_type="text/csv; charset=utf-8", headers=disposition)
        body = xlsx_bytes(grid.key, grid.header(), grid.values())
        return Response(body, media_type=XLSX, headers=disposition)

    def _no_table(self, param: str, table: str) -> str:
        valid = ", ".join(self.grids)
        return i18n.t(self.lang, "WEB_ERR_TABLE", param=param, table=repr(table[:40]), valid=valid)


def page_of(rows: Sequence[T], page: int, size: int) -> tuple[list[T], int]:
    """One page of ``rows`` and the number of pages."""
    pages = max(1, (len(rows) + size - 1) // size)
    return list(rows[(page - 1) * size : page * size]), pages
