"""Server-side paging, sorting and filtering of any panel's query: the records table behind every chart.

``page(conn, select, sort, offset, limit, column_filters)`` runs two statements on the database — the
page itself (``ORDER BY … LIMIT … OFFSET …``) and its total — and never loads more than one page into
Python. Sorting always ends with the query's own order, turned in the sort's direction (ties of a
severity sorted ascending run oldest first), so pages stay deterministic and one index serves both directions; the
column filters are the records table's (dash DataTable ``filter_query``: ``{col} op value`` joined by
``&&``), parsed by :func:`parse_filter_query` into :class:`ColumnFilter` values that name their column.

Records panels (raw events and values, no GROUP BY) are filtered and sorted on their own columns so the
database can use the event indexes; aggregated panels are wrapped in a subquery first.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Date, Engine, Select, func, select
from sqlalchemy.sql.elements import ColumnElement, Label, UnaryExpression

from datasources.models import EpochSeconds

MAX_LIMIT = 1000
OPERATORS = ("=", "!=", "<", "<=", ">", ">=", "contains")
# DataTable writes e.g. {severity} = 2 && {title} contains "积水" && {region_name} contains 村
_TERM = re.compile(r'\s*\{(?P<col>[^{}]{1,64})\}\s*(?P<op>s?(?:=|!=|<=|>=|<|>|eq|ne|le|ge|lt|gt|contains))\s*(?P<value>.*?)\s*$')
_WORD_OPS = {"eq": "=", "ne": "!=", "le": "<=", "ge": ">=", "lt": "<", "gt": ">"}


class RecordsError(ValueError):
    """A bad sort or filter: ``column`` names the records table's column (or the parameter)."""

    def __init__(self, column: str, reason: str):
        super().__init__(f"column '{column}': {reason}")
        self.column = column
        self.reason = reason


@dataclass(frozen=True)
class ColumnFilter:
    """One condition of the records table: ``column op value`` (value as typed; numbers compare as numbers)."""

    column: str
    op: str
    value: str


@dataclass(frozen=True)
class Page:
    """One page of rows (dicts keyed by column) and the number of rows matching the filters."""

    rows: list[dict]
    total: int


def parse_filter_query(query: str | None, columns: Sequence[str]) -> list[ColumnFilter]:
    """DataTable's ``filter_query`` as column filters; RecordsError names an unknown column or a bad term."""
    if not query or not query.strip():
        return []
    if len(query) > 2000:
        raise RecordsError("filter_query", "at most 2000 characters")
    out = []
    for term in query.split("&&"):
        m = _TERM.fullmatch(term)
        if not m:
            raise RecordsError("filter_query", f"cannot read {term.strip()[:60]!r}: write {{column}} op value")
        col, op, value = m.group("col"), m.group("op").lstrip("s") or "=", m.group("value")
        op = _WORD_OPS.get(op, op)
        if col not in columns:
            raise RecordsError(col, "no such column")
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'`":
            value = value[1:-1]
        out.append(ColumnFilter(col, op, value))
    return out


def _is_plain(stmt: Select) -> bool:
    """True when the query neither groups nor uses window functions: its columns can be filtered and
    sorted in place (the planner then sees the base tables' indexes)."""
    if stmt._group_by_clauses or stmt._having_criteria:  # noqa: SLF001 - no public accessor
        return False
    return not any("over" in type(getattr(c, "element", c)).__name__.lower() for c in stmt.selected_columns)


def _condition(expr: ColumnElement, f: ColumnFilter) -> ColumnElement:
    value: Any = f.value
    if f.op == "contains":
        # Escape LIKE's wildcards: a typed % or _ is a character, not a pattern.
        escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        from sqlalchemy import String, cast

        return cast(expr, String).like(f"%{escaped}%", escape="\\")
    if isinstance(expr.type, EpochSeconds | Date):  # a time as typed: 2026-11-20 or 2026-11-20 08:30
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise RecordsError(f.column, f"a date as YYYY-MM-DD, not {value[:30]!r}") from None
        value = moment if isinstance(expr.type, EpochSeconds) else moment.date()
    else:
        try:
            python_type = expr.type.python_type
        except NotImplementedError:
            python_type = str
        if python_type in (int, float):
            try:
                value = python_type(value)
            except ValueError:
                raise RecordsError(f.column, f"a number, not {value[:30]!r}") from None
    ops = {"=": expr.__eq__, "!=": expr.__ne__, "<": expr.__lt__, "<=": expr.__le__, ">": expr.__gt__, ">=": expr.__ge__}
    return ops[f.op](value)


def _directed(clause: ColumnElement, desc: bool) -> ColumnElement:
    """An ORDER BY term turned to ``desc``: ties of a sorted column run in the same direction as the
    sort, so one index on (column, time) serves both directions (a mixed ASC/DESC order cannot use it)."""
    element = clause.element if isinstance(clause, UnaryExpression) and clause.modifier is not None else clause
    return element.desc() if desc else element.asc()


def prepare(
    stmt: Select, sort: Sequence[tuple[str, bool]] = (), column_filters: Sequence[ColumnFilter] = ()
) -> tuple[Select, Select]:
    """The sorted, filtered query (no paging yet) and the query counting its rows."""
    keys = [c.key for c in stmt.selected_columns]
    for key, _desc in sort:
        if key not in keys:
            raise RecordsError(key, "no such column to sort by")
    if _is_plain(stmt):
        cols = {c.key: (c.element if isinstance(c, Label) else c) for c in stmt.selected_columns}
        base = stmt.where(*[_condition(cols[f.column], f) for f in column_filters])
        own_order = [_directed(c, sort[0][1]) if sort else c for c in stmt._order_by_clauses]  # noqa: SLF001
        order = [cols[k].desc() if desc else cols[k].asc() for k, desc in sort]
        counted = base.order_by(None).with_only_columns(func.count(), maintain_column_froms=True)
        return base.order_by(None).order_by(*order, *own_order), counted
    sub = stmt.subquery("panel")
    base = select(*sub.c).where(*[_condition(sub.c[f.column], f) for f in column_filters])
    order = [sub.c[k].desc() if desc else sub.c[k].asc() for k, desc in sort]
    # The inner query's order is lost in a subquery: end with every column for a stable order.
    return base.order_by(*order, *sub.c), select(func.count()).select_from(base.subquery("counted"))


def page(
    conn: Connection | Engine | Any,
    stmt: Select,
    sort: Sequence[tuple[str, bool]] = (),
    offset: int = 0,
    limit: int = 50,
    column_filters: Sequence[ColumnFilter] = (),
    total: Select | None = None,
) -> Page:
    """One page of ``stmt`` sorted by ``sort`` ([(column, descending)], then the query's own order),
    filtered by ``column_filters``, from row ``offset``; with the total row count. ``conn`` is a
    connection, an engine or a repository (its engine). ``total`` is a cheaper query of the unfiltered
    row count (``Panel.count``), used when there are no column filters."""
    if not 0 < limit <= MAX_LIMIT:
        raise RecordsError("limit", f"from 1 to {MAX_LIMIT}")
    if offset < 0:
        raise RecordsError("offset", "0 or more")
    ordered, counted = prepare(stmt, sort, column_filters)
    if total is not None and not column_filters:
        counted = total
    engine = getattr(conn, "engine", conn)
    if isinstance(engine, Engine):
        with engine.connect() as c:
            return _run(c, ordered, counted, offset, limit)
    return _run(conn, ordered, counted, offset, limit)


def _run(conn: Connection, ordered: Select, counted: Select, offset: int, limit: int) -> Page:
    rows = [dict(r) for r in conn.execute(ordered.limit(limit).offset(offset)).mappings()]
    total = int(conn.execute(counted).scalar_one())
    return Page(rows, total)


__all__ = ["ColumnFilter", "OPERATORS", "Page", "RecordsError", "page", "parse_filter_query", "prepare"]
