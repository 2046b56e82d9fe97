"""CSV and XLSX writers fed by a row iterator, one row at a time.

CSV is UTF-8 with a BOM (Excel then opens Chinese text) and text that a spreadsheet would run as a
formula gets a leading apostrophe. XLSX uses openpyxl's write-only mode (rows go to the file as they
come; memory stays flat), with bold headers that carry the unit, typed number and date cells, text that
starts like a formula stored as text, and a frozen header row."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from typing import IO, Any, Protocol

from openpyxl.cell import WriteOnlyCell
from openpyxl.utils import get_column_letter

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
BOM = "\ufeff"
#: Rows written to the CSV buffer before it is handed on as one chunk of bytes.
CSV_ROWS_PER_CHUNK = 1000


class ColumnLike(Protocol):
    """What the writers need of a column (``datasources.analysis.panels.Column`` has it)."""

    key: str
    zh: str
    en: str
    unit_zh: str
    unit_en: str


def header(column: ColumnLike, lang: str) -> str:
    """A readable column header in ``lang``, with the unit in brackets when there is one."""
    name = column.en if lang == "en" else column.zh
    unit = column.unit_en if lang == "en" else column.unit_zh
    return f"{name} ({unit})" if unit else name


def headers(columns: Sequence[ColumnLike], lang: str) -> list[str]:
    """The header row of a panel's columns."""
    return [header(c, lang) for c in columns]


def guard(value: Any) -> Any:
    """A text cell that would start a formula in a spreadsheet, defused with a leading apostrophe."""
    if isinstance(value, str) and value[:1] in _FORMULA_CHARS:
        return f"'{value}"
    return value


_FORMULA_CHARS = frozenset(FORMULA_START)


def csv_value(value: Any) -> Any:
    """A value as the CSV writes it: empty for None, ISO dates, formula-like text defused. (Called for
    every cell of a million-row export: the common types are tested first, by exact type.)"""
    kind = type(value)
    if kind is str:
        return f"'{value}" if value[:1] in _FORMULA_CHARS else value
    if kind is int or kind is float:
        return value
    if value is None:
        return ""
    if kind is datetime:
        return value.isoformat(sep=" ", timespec="seconds")
    if kind is date:
        return value.isoformat()
    if kind is bool:
        return int(value)
    return guard(value)


def write_csv(out: IO[bytes], head: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Write the CSV file to a binary file object; returns the number of rows."""
    from datasources.export.sinks import CsvSink

    sink = CsvSink(out, head)
    for row in rows:
        sink.write(row)
    sink.close()
    return sink.n


def csv_chunks(head: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[bytes]:
    """The CSV file as chunks of bytes (for a streamed HTTP response): BOM and header first."""
    from datasources.export.sinks import CsvSink

    out = _Chunks()
    sink = CsvSink(out, head)
    for row in rows:
        sink.write(row)
        if out.parts:
            yield from out.take()
    sink.close()
    yield from out.take()


def csv_bytes(head: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """The whole CSV file in memory (small tables only, such as the cockpit's KPI cards)."""
    return b"".join(csv_chunks(head, rows))


def write_xlsx(out: IO[bytes] | str, head: Sequence[str], rows: Iterable[Sequence[Any]], sheet: str = "data") -> int:
    """Write an XLSX workbook with one sheet (write-only: memory does not grow with the rows); returns
    the number of rows."""
    from datasources.export.sinks import XlsxSink

    sink = XlsxSink(out, head, sheet)
    n = 0
    for row in rows:
        sink.write(row)
        n += 1
    sink.close()
    return n


class _Chunks:
    """A write-only byte sink that hands its parts on (the CSV sink writes into it)."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        if data:
            self.parts.append(data)
        return len(data)

    def take(self) -> list[bytes]:
        parts, self.parts = self.parts, []
        return parts


def text_cell(ws: Any, value: str) -> WriteOnlyCell:
    """A cell that holds text as text, never a formula, whatever it starts with."""
    cell = WriteOnlyCell(ws, value=value)
    cell.data_type = "s"
    return cell


def xlsx_cell(ws: Any, value: Any) -> Any:
    """A value as the workbook takes it: numbers, dates and datetimes as they are (openpyxl gives dates a
    date format), booleans as 0/1, text that openpyxl would take for a formula (a leading '=') as a text
    cell. Plain values skip a cell object each: this runs for every cell of a million-row export."""
    kind = type(value)
    if kind is str:
        return text_cell(ws, value) if value[:1] == "=" else value
    if kind is bool:
        return int(value)
    return value


def sheet_title(name: str) -> str:
    """A valid worksheet title (at most 31 characters, none of []:*?/\\)."""
    clean = "".join("_" if ch in "[]:*?/\\" else ch for ch in name).strip() or "data"
    return clean[:31]


def column_letter(i: int) -> str:
    """Spreadsheet letter of the 0-based column ``i``."""
    return get_column_letter(i + 1)


def display_width(text: str) -> int:
    """Width of a header in character cells: CJK characters take two."""
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)
