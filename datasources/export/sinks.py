"""Table sinks: one pass over the rows feeds several files (the ZIP writes a panel's CSV and XLSX from
the same cursor), each written row by row."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import IO, Any

from openpyxl import Workbook
from openpyxl.styles import Font

from datasources.export import tabular


class CsvSink:
    """CSV rows into a binary stream, flushed every ``tabular.CSV_ROWS_PER_CHUNK`` rows."""

    def __init__(self, out: IO[bytes], head: Sequence[str]):
        self.out = out
        self.buf = io.StringIO()
        self.writer = csv.writer(self.buf, lineterminator="\r\n")
        self.buf.write(tabular.BOM)
        self.writer.writerow([tabular.guard(h) for h in head])
        self.n = 0

    def write(self, row: Sequence[Any]) -> None:
        self.writer.writerow([tabular.csv_value(v) for v in row])
        self.n += 1
        if self.n % tabular.CSV_ROWS_PER_CHUNK == 0:
            self._flush()

    def _flush(self) -> None:
        self.out.write(self.buf.getvalue().encode("utf-8"))
        self.buf.seek(0)
        self.buf.truncate()

    def close(self) -> None:
        self._flush()


class XlsxSink:
    """XLSX rows into a write-only workbook, saved to ``out`` (a path or binary file) on close."""

    def __init__(self, out: IO[bytes] | str, head: Sequence[str], sheet: str = "data"):
        self.out = out
        self.wb = Workbook(write_only=True)
        self.ws = self.wb.create_sheet(tabular.sheet_title(sheet))
        self.ws.freeze_panes = "A2"
        for i, h in enumerate(head):
            self.ws.column_dimensions[tabular.column_letter(i)].width = max(10, min(50, tabular.display_width(h) + 2))
        bold = Font(bold=True)
        cells = []
        for h in head:
            cell = tabular.text_cell(self.ws, h)
            cell.font = bold
            cells.append(cell)
        self.ws.append(cells)

    def write(self, row: Sequence[Any]) -> None:
        self.ws.append([tabular.xlsx_cell(self.ws, v) for v in row])

    def close(self) -> None:
        self.wb.save(self.out)
