"""Vectorised checks over a batch (a pandas DataFrame): each finds every bad row at once and records a
:class:`Problem` naming the row and the field, so a batch of two million rows validates in seconds."""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Iterable, Mapping
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd

from datasources.ingest.errors import IngestError, Problem

_IDENT = re.compile(r"[a-z][a-z0-9_]*")
_MONTH = re.compile(r"(\d{4})-(\d{2})(?:-(\d{2}))?")


def frame(records: pd.DataFrame | Iterable[Mapping[str, Any]], kind: str) -> pd.DataFrame:
    """The batch as a DataFrame with a 0-based RangeIndex (the record numbers errors name)."""
    if isinstance(records, pd.DataFrame):
        df = records.reset_index(drop=True)
    else:
        rows = list(records)
        bad = [k for k, r in enumerate(rows) if not isinstance(r, Mapping)]
        if bad:
            raise IngestError(kind, [Problem(k, None, None, "a record must be an object of field: value") for k in bad])
        df = pd.DataFrame.from_records(rows)
    return df


class Checker:
    """Collects problems of one batch; :meth:`raise_if_any` raises them together."""

    def __init__(self, df: pd.DataFrame, kind: str):
        self.df = df
        self.kind = kind
        self.problems: list[Problem] = []

    # ------------------------------------------------------------------ plumbing
    def add(self, record: int | str, field: str | None, value: Any, reason: str) -> None:
        self.problems.append(Problem(_py(record), field, _py(value), reason))

    def flag(self, mask: np.ndarray | pd.Series, field: str, reason: str) -> None:
        """Record a problem for every row where ``mask`` is true (with that row's value of ``field``)."""
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            return
        values = self.df[field].to_numpy() if field in self.df.columns else np.full(len(self.df), None)
        for k in np.flatnonzero(mask):
            self.add(int(k), field, values[k], reason)

    def raise_if_any(self) -> None:
        if self.problems:
            self.problems.sort(key=lambda p: (str(type(p.record)), p.record, p.field or ""))
            raise IngestError(self.kind, self.problems)

    def has(self, field: str) -> bool:
        return field in self.df.columns

    def present(self, field: str) -> np.ndarray:
        """Rows where ``field`` holds a value (not missing/NaN/empty string)."""
        if field not in self.df.columns:
            return np.zeros(len(self.df), dtype=bool)
        col = self.df[field]
        ok = col.notna().to_numpy().copy()
        if col.dtype == object:
            blank = _strings(col).str.strip().eq("").fillna(False).to_numpy(dtype=bool)
            ok &= ~blank
        return ok

    # ------------------------------------------------------------------ checks
    def columns(self, required: Collection[str], known: Collection[str]) -> None:
        """Required columns exist; unknown columns are an error too (a typo must not be ignored)."""
        for c in required:
            if c not in self.df.columns:
                self.add("*", c, None, "required field is missing from every record")
        for c in self.df.columns:
            if c not in known:
                self.add("*", str(c), None, f"unknown field (known: {', '.join(sorted(known))})")
        self.raise_if_any()

    def required(self, field: str) -> np.ndarray:
        ok = self.present(field)
        self.flag(~ok, field, "required value is missing")
        return ok

    def text(self, field: str, max_len: int, required: bool = True, pattern: re.Pattern | None = None) -> None:
        ok = self.required(field) if required else self.present(field)
        if not ok.any():
            return
        col = _strings(self.df[field])
        lengths = col.str.len().to_numpy(dtype=float)  # NaN for anything that is not a string
        bad = ok & np.isnan(lengths)
        bad |= ok & col.str.contains("\x00", regex=False).fillna(False).to_numpy(dtype=bool)
        if pattern is not None:
            bad |= ok & ~col.str.fullmatch(pattern.pattern).fillna(False).to_numpy(dtype=bool)
        too_long = ok & ~bad & (np.nan_to_num(lengths) > max_len)
        self.flag(bad, field, "must be text" + (f" matching {pattern.pattern}" if pattern else "") + " without NUL characters")
        self.flag(too_long, field, f"longer than {max_len} characters")

    def identifier(self, field: str, max_len: int = 32, required: bool = True) -> None:
        self.text(field, max_len, required, _IDENT)

    def one_of(self, field: str, allowed: Collection, required: bool = True) -> None:
        ok = self.required(field) if required else self.present(field)
        bad = ok & ~self.df[field].isin(list(allowed)).to_numpy() if field in self.df.columns else ok
        self.flag(bad, field, f"must be one of {', '.join(map(str, sorted(allowed, key=str)))}")

    def number(self, field: str, lo: float | None = None, hi: float | None = None, integer: bool = False,
               required: bool = True) -> pd.Series:
        """Parse ``field`` as numbers; flags non-numbers, non-finite, out-of-range and non-integers."""
        ok = self.required(field) if required else self.present(field)
        if field not in self.df.columns:
            return pd.Series(np.full(len(self.df), np.nan))
        col = self.df[field]
        nums = pd.to_numeric(col.where(~col.map(lambda v: isinstance(v, bool))), errors="coerce").astype(float)
        bad_num = ok & ~np.isfinite(nums.to_numpy())
        self.flag(bad_num, field, "must be a finite number")
        good = ok & ~bad_num
        arr = nums.to_numpy()
        if lo is not None:
            self.flag(good & (arr < lo), field, f"must be at least {lo:g}")
        if hi is not None:
            self.flag(good & (arr > hi), field, f"must be at most {hi:g}")
        if integer:
            self.flag(good & (np.floor(np.nan_to_num(arr)) != np.nan_to_num(arr)), field, "must be a whole number")
        return nums

    def timestamp(self, field: str, required: bool = True) -> pd.Series:
        """Parse ``field`` as datetimes (ISO text, datetime or pandas Timestamp); NaT where missing."""
        ok = self.required(field) if required else self.present(field)
        if field not in self.df.columns:
            return pd.Series(pd.NaT, index=self.df.index, dtype="datetime64[us]")
        col = self.df[field]
        if pd.api.types.is_datetime64_any_dtype(col):
            parsed = col.dt.tz_localize(None) if getattr(col.dt, "tz", None) is not None else col
        else:
            parsed = pd.to_datetime(col.where(ok), errors="coerce", format="ISO8601")
            if getattr(parsed.dt, "tz", None) is not None:
                parsed = parsed.dt.tz_convert(None)
        self.flag(ok & parsed.isna().to_numpy(), field, "must be a date-time like 2026-11-20 18:00:00")
        return parsed.astype("datetime64[us]")

    def month(self, field: str) -> pd.Series:
        """Parse ``field`` as a month: 'YYYY-MM', 'YYYY-MM-01' or a date on the 1st. Returns dates."""
        ok = self.required(field)
        if field not in self.df.columns:
            return pd.Series([None] * len(self.df), dtype=object)
        col = self.df[field]
        # A batch holds few distinct periods: parse each once.
        parsed = {v: _as_month(v) for v in pd.unique(col[ok])}
        out = col.map(lambda v: parsed.get(v)).astype(object)
        out[~ok] = None
        bad = ok & out.isna().to_numpy()
        self.flag(bad, field, "must be a month: YYYY-MM (or YYYY-MM-01)")
        return out

    def codes(self, field: str, known: Collection[str], what: str, required: bool = True) -> None:
        ok = self.required(field) if required else self.present(field)
        if field in self.df.columns:
            self.flag(ok & ~self.df[field].astype(str).isin(list(known)).to_numpy(), field, f"unknown {what}")

    def unique(self, fields: list[str], what: str) -> None:
        """No two records share ``fields`` (records missing any of them are not compared)."""
        if not all(f in self.df.columns for f in fields):
            return
        full = np.logical_and.reduce([self.present(f) for f in fields])
        keys = self.df.loc[full, fields].astype(str)
        dup = keys.duplicated(keep=False)
        if dup.any():
            first = keys.reset_index().groupby(fields)["index"].transform("min").to_numpy()
            for pos, k in enumerate(keys.index):
                if dup.iat[pos] and first[pos] != k:
                    self.add(int(k), fields[0], self.df[fields[0]].iat[k], f"duplicate {what} (same as record {int(first[pos])})")


def _strings(col: pd.Series) -> pd.Series:
    """The column with every non-string value replaced by None, so that ``.str`` works (fast when the
    column holds only strings, as it usually does)."""
    if pd.api.types.infer_dtype(col, skipna=True) == "string":
        return col.astype(object)
    return col.map(lambda v: v if isinstance(v, str) else None).astype(object)


def _as_month(v: Any) -> date | None:
    if isinstance(v, pd.Timestamp):
        v = v.to_pydatetime()
    if isinstance(v, datetime):
        return date(v.year, v.month, 1) if (v.day, v.hour, v.minute, v.second) == (1, 0, 0, 0) else None
    if isinstance(v, date):
        return v if v.day == 1 else None
    if isinstance(v, str):
        m = _MONTH.fullmatch(v.strip())
        if not m or (m.group(3) not in (None, "01")):
            return None
        year, month = int(m.group(1)), int(m.group(2))
        return date(year, month, 1) if 1 <= month <= 12 and 1900 <= year <= 2999 else None
    return None


def _py(v: Any) -> Any:
    """numpy scalars to Python ones, NaN to None (for messages and JSON)."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and math.isnan(v):
        return None
    return v
