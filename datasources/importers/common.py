"""What the importers share: reading CSV/XLSX in the encodings cities use, collecting every problem of a
file with its row and column, mapping the write layer's problems back to the file, the audit row."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from datasources.ingest.errors import IngestError

MAX_SHOWN = 50  # problems listed in the message; all of them stay in ``ImportFailed.issues``
ENCODINGS = ("utf-8-sig", "gbk")  # tried in this order when none is given (utf-8-sig also reads plain UTF-8)


@dataclass(frozen=True)
class Issue:
    """One problem of a file: ``where`` is 'row 7' / 'feature 3' / 'file', ``column`` the file's column."""

    where: str
    column: str | None
    value: Any
    reason: str

    def __str__(self) -> str:
        col = f", column '{self.column}'" if self.column else ""
        shown = "" if self.value is None or self.value == "" else f" (value {self.value!r})"
        return f"{self.where}{col}: {self.reason}{shown}"


class ImportFailed(ValueError):
    """A file was refused before anything was written; lists every problem found."""

    def __init__(self, path: str | Path, issues: Sequence[Issue]):
        self.path = str(path)
        self.issues = list(issues)
        super().__init__(str(self))

    def __str__(self) -> str:
        n = len(self.issues)
        lines = [str(i) for i in self.issues[:MAX_SHOWN]]
        if n > MAX_SHOWN:
            lines.append(f"… and {n - MAX_SHOWN} more")
        return f"{Path(self.path).name}: {n} problem{'s' if n != 1 else ''}, nothing written\n  " + "\n  ".join(lines)


@dataclass
class ImportSummary:
    """What an import did: counts, repairs and notes for the command line's summary."""

    kind: str
    path: str
    counts: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    data_version: int | None = None
    seconds: float = 0.0

    def text(self) -> str:
        counts = ", ".join(f"{k} {v:,}" for k, v in self.counts.items())
        head = f"imported {self.kind} from {Path(self.path).name} in {self.seconds:.1f} s: {counts}"
        if self.data_version is not None:
            head += f" (data version {self.data_version})"
        return "\n".join([head, *(f"  {n}" for n in self.notes)])


class Issues:
    """Collects the problems of one file; :meth:`raise_if_any` raises them together."""

    def __init__(self, path: str | Path):
        self.path = path
        self.items: list[Issue] = []

    def add(self, where: str, column: str | None, value: Any, reason: str) -> None:
        self.items.append(Issue(where, column, None if value is None else _plain(value), reason))

    def raise_if_any(self) -> None:
        if self.items:
            raise ImportFailed(self.path, self.items)


def _plain(v: Any) -> Any:
    try:
        if pd.isna(v):
            return None
    except (TypeError, ValueError):
        pass
    return v.item() if hasattr(v, "item") else v


def decode(raw: bytes, encoding: str | None) -> tuple[str, str]:
    """Text of a file and the encoding used: the given one, else UTF-8 (with or without BOM), else GBK."""
    for enc in [encoding] if encoding else ENCODINGS:
        try:
            return raw.decode(enc), enc
        except UnicodeDecodeError:
            continue
        except LookupError:
            raise ImportFailed("", [Issue("file", None, encoding, "unknown encoding")]) from None
    raise UnicodeDecodeError("gbk", raw, 0, 1, "neither UTF-8 nor GBK")


def read_table(path: str | Path, encoding: str | None = None) -> tuple[pd.DataFrame, list[int], str]:
    """A CSV or XLSX file as text cells (empty cells ''), the file's row number of each record (the header is
    row 1, as a spreadsheet shows it) and the encoding used."""
    p = Path(path)
    if not p.exists():
        raise ImportFailed(p, [Issue("file", None, str(p), "no such file")])
    if p.suffix.lower() in (".xlsx", ".xlsm"):
        try:
            df = pd.read_excel(p, dtype=str, engine="openpyxl").fillna("")
        except Exception as exc:  # noqa: BLE001 - any unreadable workbook is one problem of the file
            raise ImportFailed(p, [Issue("file", None, None, f"not a readable XLSX workbook: {exc}")]) from None
        enc = "xlsx"
    else:
        try:
            text, enc = decode(p.read_bytes(), encoding)
        except UnicodeDecodeError:
            raise ImportFailed(p, [Issue("file", None, encoding, "cannot decode the text (tried UTF-8, UTF-8 with BOM and GBK; "
                                                               "give --encoding)")]) from None
        except ImportFailed as exc:
            raise ImportFailed(p, exc.issues) from None
        try:
            df = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, skipinitialspace=True)
        except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise ImportFailed(p, [Issue("file", None, None, f"not a readable CSV file: {exc}")]) from None
    df.columns = [str(c).strip() for c in df.columns]
    df = df.apply(lambda s: s.astype(str).str.strip())
    # Skip blank lines (spreadsheets leave them at the end); keep the file's row numbers.
    keep = (df != "").any(axis=1).to_numpy()
    rows = [k + 2 for k in range(len(df)) if keep[k]]
    return df[keep].reset_index(drop=True), rows, enc


def find_column(columns: Sequence[str], given: str | None, candidates: Sequence[str]) -> str | None:
    """The column named ``given`` (exactly), else the first column whose name is one of ``candidates``
    (case-insensitive)."""
    if given:
        return given if given in columns else None
    lower = {str(c).strip().lower(): c for c in columns}
    for c in candidates:
        if c.lower() in lower:
            return lower[c.lower()]
    return None


def raise_ingest_as_issues(path: str | Path, exc: IngestError, where: Callable[[Any], str],
                           column: Callable[[str | None], str | None]) -> None:
    """Re-raise the write layer's refusal naming the file's rows and columns (``where`` maps a record
    number, ``column`` a field)."""
    raise ImportFailed(path, [Issue(where(p.record), column(p.field), p.value, p.reason) for p in exc.problems]) from None


def audit(conn: Any, path: str | Path, kind: str, counts: dict[str, int], actor: str) -> None:
    """One audit-log row (action 'import') in the import's transaction."""
    from datasources.access import audit as audit_log

    detail = f"{kind} from {Path(path).name}: " + ", ".join(f"{k}={v}" for k, v in counts.items())
    audit_log.record(conn, "import", actor, target=f"{kind}:{Path(path).name}", detail=detail)
