"""Every panel of the analyst page, declared once: its columns, its query and its chart.

``Panel.select(scope, filters)`` returns a SQLAlchemy ``Select`` whose result columns are exactly the
panel's ``columns`` (same keys, same order), filtered by ``filters`` AND by the caller's ``scope``, and
ordered deterministically: the page shows it, the records table pages it (``datasources.analysis.records``)
and the exports stream it. ``filters`` must be resolved (``AnalysisFilters.resolved``): the repository's
``panel_query`` does that and checks the chosen areas against the scope first.

Scope is part of every query, whatever the filters say: rows are limited to the scope's subtree with the
same ``region_closure`` join the repository uses, so an area outside the scope yields nothing.

Numbers come from SQL: indicator values (with their load-time roll-ups per region) and the monthly event
roll-up ``event_monthly``; only the records tables read raw events. Several values of one indicator in a
bucket (a quarter, a year, a range) are combined by the indicator's aggregation: summed for 'sum'
indicators, averaged otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import pandas as pd
import plotly.graph_objects as go
from sqlalchemy import (
    Integer,
    Select,
    String,
    and_,
    case,
    cast,
    exists,
    extract,
    false,
    func,
    literal,
    not_,
    null,
    or_,
    select,
    true,
)
from sqlalchemy.sql.elements import ColumnElement

from datasources.analysis.filters import AnalysisFilters, month_text
from datasources.models import Event, EventMonthly, Indicator, IndicatorValue, Region, RegionClosure

Scope = str | None

_events = Event.__table__
_values = IndicatorValue.__table__
_indicators = Indicator.__table__
_regions = Region.__table__
_closure = RegionClosure.__table__
_monthly = EventMonthly.__table__


@dataclass(frozen=True)
class Column:
    """One column of a panel's data: its key (the result column's name), headers and unit in zh and en."""

    key: str
    zh: str
    en: str
    unit_zh: str = ""
    unit_en: str = ""

    def header(self, lang: str = "zh") -> str:
        """The column header in ``lang`` with its unit, e.g. '数值 (件)'."""
        name, unit = (self.en, self.unit_en) if lang == "en" else (self.zh, self.unit_zh)
        return f"{name} ({unit})" if unit else name


Figure = Callable[[pd.DataFrame, AnalysisFilters, str], go.Figure]


@dataclass(frozen=True)
class Panel:
    """A panel of the analyst page: title, columns, query (``select``) and chart (``figure``; None for a
    table). ``records`` names the records panel a click on the chart drills into; ``count``, when set,
    counts ``select``'s rows from a roll-up (equal by construction, checked by the tests)."""

    id: str
    title_zh: str
    title_en: str
    columns: tuple[Column, ...]
    select: Callable[[Scope, AnalysisFilters], Select]
    figure: Figure | None = None
    records: str | None = None
    #: A cheaper query of the number of rows ``select`` returns (from a roll-up), for the records table.
    count: Callable[[Scope, AnalysisFilters], Select] | None = None

    def title(self, lang: str = "zh") -> str:
        """The panel's title in ``lang``."""
        return self.title_en if lang == "en" else self.title_zh

    @property
    def keys(self) -> tuple[str, ...]:
        """The result column names, in order."""
        return tuple(c.key for c in self.columns)


# ---------------------------------------------------------------------------------------------- areas


def _under(column: ColumnElement, ancestor: ColumnElement) -> ColumnElement:
    """``column`` (a region code) lies in the subtree of ``ancestor`` (a correlated EXISTS on the closure:
    the planner checks it row by row while walking a sort index, instead of driving the query by area
    and sorting every match; measured in bench/records_table.py)."""
    return exists().where(ancestor, _closure.c.descendant_code == column)


def in_scope(column: ColumnElement, scope: Scope) -> ColumnElement:
    """``column`` (a region code) lies in the scope's subtree (always true without a scope)."""
    return _under(column, _closure.c.ancestor_code == scope) if scope is not None else true()


def in_areas(column: ColumnElement, scope: Scope, filters: AnalysisFilters) -> ColumnElement:
    """``column`` (a region code) lies in the chosen areas' subtrees and in the scope's."""
    cond = in_scope(column, scope)
    if filters.areas:
        cond = and_(cond, _under(column, _closure.c.ancestor_code.in_(list(filters.areas))))
    return cond


def top_areas(column: ColumnElement, scope: Scope, filters: AnalysisFilters) -> ColumnElement:
    """``column`` is one of the chosen areas (none of which lies inside another chosen one), or the
    caller's top area when none is chosen: the areas whose own roll-up rows answer for the whole choice."""
    if filters.areas:
        areas = list(filters.areas)
        nested = select(_closure.c.descendant_code).where(_closure.c.ancestor_code.in_(areas), _closure.c.depth > 0)
        return and_(column.in_(areas), column.not_in(nested), in_scope(column, scope))
    if scope is not None:
        return column == scope
    return column.in_(select(_regions.c.code).where(_regions.c.parent_code.is_(None)))


def members(column: ColumnElement, scope: Scope, filters: AnalysisFilters) -> ColumnElement:
    """The areas compared side by side (ranking, scatter, map): the children of the one chosen area (or
    of the caller's top area), the area itself when it has none, or the chosen areas when several."""
    if len(filters.areas) > 1:
        return top_areas(column, scope, filters)
    if filters.areas:
        parent: ColumnElement = literal(filters.areas[0])
    elif scope is not None:
        parent = literal(scope)
    else:
        parent = select(_regions.c.code).where(_regions.c.parent_code.is_(None)).order_by(_regions.c.code).limit(1).scalar_subquery()
    kids = select(_regions.c.code).where(_regions.c.parent_code == parent)
    leaf = and_(column == parent, not_(select(_regions.c.code).where(_regions.c.parent_code == parent).exists()))
    return and_(or_(column.in_(kids), leaf), in_scope(column, scope))


# ---------------------------------------------------------------------------------------------- pieces


def _ts(d) -> datetime | None:  # noqa: ANN001
    return None if d is None else datetime(d.year, d.month, d.day)


def _event_conditions(table, filters: AnalysisFilters, month_col=None) -> list[ColumnElement]:  # noqa: ANN001
    """Source, category, status and severity filters on ``table`` (raw events or the monthly roll-up)."""
    cond = []
    for col, values in (("source", filters.sources), ("category", filters.categories), ("status", filters.statuses),
                        ("severity", filters.severities)):
        if values:
            cond.append(table.c[col].in_(list(values)))
    return cond


def _indicator_condition(filters: AnalysisFilters) -> ColumnElement:
    """The chosen indicators; else the theme's; else the headline indicators."""
    if filters.indicators:
        return _indicators.c.code.in_(list(filters.indicators))
    if filters.theme:
        return _indicators.c.theme == filters.theme
    return _indicators.c.headline.is_(True)


def _period_between(column: ColumnElement, start, end) -> list[ColumnElement]:  # noqa: ANN001
    """``start <= column < end`` for a month (Date) column; open sides are left out."""
    cond = []
    if start is not None:
        cond.append(column >= start)
    if end is not None:
        cond.append(column < end)
    return cond


def _aggregate(value: ColumnElement) -> ColumnElement:
    """Several values of one indicator combined by its aggregation: a sum for 'sum' indicators, else the mean."""
    return case((_indicators.c.aggregation == "sum", func.sum(value)), else_=func.avg(value))


def _windowed(value: ColumnElement, period: ColumnElement, start, end) -> ColumnElement:  # noqa: ANN001
    """``value`` where ``period`` lies in ``[start, end)``, else NULL (conditional aggregation)."""
    cond = _period_between(period, start, end)
    return case((and_(*cond), value), else_=null()) if cond else value


def _bucket(period: ColumnElement, granularity: str) -> ColumnElement:
    """The label of a month's bucket: 'YYYY-MM', 'YYYY-Qn' or 'YYYY' (the same text in SQLite and PostgreSQL)."""
    year = cast(extract("year", period), Integer)
    month = cast(extract("month", period), Integer)
    if granularity == "year":
        return cast(year, String)
    if granularity == "quarter":
        return cast(year, String) + literal("-Q") + cast((month - 1) // 3 + 1, String)
    return cast(year, String) + literal("-") + case((month < 10, literal("0")), else_=literal("")) + cast(month, String)


def _member_values(scope: Scope, filters: AnalysisFilters, indicator: str | None, label: str):  # noqa: ANN202
    """One value per member area of ``indicator`` over the chosen window (aggregated), as a subquery
    (region_code, <label>)."""
    start, end = filters.window()
    v = _values.alias(f"v_{label}")
    i = _indicators.alias(f"i_{label}")
    value = case((i.c.aggregation == "sum", func.sum(v.c.value)), else_=func.avg(v.c.value))
    return (
        select(v.c.region_code.label("region_code"), value.label(label))
        .join(i, i.c.code == v.c.indicator_code)
        .where(v.c.indicator_code == (indicator or ""), members(v.c.region_code, scope, filters),
               *_period_between(v.c.period, start, end))
        .group_by(v.c.region_code, i.c.aggregation)
        .subquery(f"s_{label}")
    )


# ---------------------------------------------------------------------------------------------- records


EVENT_COLUMNS = (
    Column("id", "编号", "ID"),
    Column("reported_at", "上报时间", "Reported at"),
    Column("region_code", "区域代码", "Area code"),
    Column("region_name", "区域", "Area"),
    Column("region_name_en", "区域(英文)", "Area (English)"),
    Column("source", "来源", "Source"),
    Column("category", "类别", "Category"),
    Column("severity", "等级", "Severity"),
    Column("status", "状态", "Status"),
    Column("title", "标题", "Title"),
    Column("department", "责任部门", "Department"),
    Column("closed_at", "关闭时间", "Closed at"),
)


def event_records(scope: Scope, filters: AnalysisFilters) -> Select:
    """Raw events of the chosen areas and months matching the event filters, newest first."""
    e, r = _events, _regions
    start, end = filters.window()
    cond = [in_areas(e.c.region_code, scope, filters), *_event_conditions(e, filters)]
    if start is not None:
        cond.append(e.c.reported_at >= _ts(start))
    if end is not None:
        cond.append(e.c.reported_at < _ts(end))
    return (
        select(e.c.id, e.c.reported_at, e.c.region_code, r.c.name.label("region_name"), r.c.name_en.label("region_name_en"),
               e.c.source, e.c.category, e.c.severity, e.c.status, e.c.title, e.c.department, e.c.closed_at)
        .join(r, r.c.code == e.c.region_code)
        .where(*cond)
        .order_by(e.c.reported_at.desc(), e.c.id.desc())
    )


def event_count(scope: Scope, filters: AnalysisFilters) -> Select:
    """The number of rows of :func:`event_records`, summed from the monthly roll-up (every filter of the
    events panel is one of its keys): a count of millions of events without reading them."""
    m = _monthly
    start, end = filters.window()
    return select(func.coalesce(func.sum(m.c.n), 0)).where(
        top_areas(m.c.region_code, scope, filters), *_period_between(m.c.month, start, end), *_event_conditions(m, filters)
    )


VALUE_COLUMNS = (
    Column("indicator_code", "指标代码", "Indicator code"),
    Column("indicator_zh", "指标", "Indicator (Chinese)"),
    Column("indicator_en", "指标(英文)", "Indicator"),
    Column("region_code", "区域代码", "Area code"),
    Column("region_name", "区域", "Area"),
    Column("region_name_en", "区域(英文)", "Area (English)"),
    Column("level", "层级", "Level"),
    Column("period", "期间", "Period"),
    Column("value", "数值", "Value"),
    Column("unit", "单位", "Unit (Chinese)"),
    Column("unit_en", "单位(英文)", "Unit"),
    Column("derived", "汇总值", "Rolled up"),
)


def value_records(scope: Scope, filters: AnalysisFilters) -> Select:
    """Indicator values (the chosen indicators, else the theme's, else the headline ones) of every region
    in the chosen areas' subtrees and months, including the load-time roll-ups (``derived``)."""
    v, i, r = _values, _indicators, _regions
    start, end = filters.window()
    return (
        select(v.c.indicator_code, i.c.name_zh.label("indicator_zh"), i.c.name_en.label("indicator_en"), v.c.region_code,
               r.c.name.label("region_name"), r.c.name_en.label("region_name_en"), r.c.level, v.c.period, v.c.value,
               i.c.unit, i.c.unit_en, v.c.derived)
        .join(i, i.c.code == v.c.indicator_code)
        .join(r, r.c.code == v.c.region_code)
        .where(_indicator_condition(filters), in_areas(v.c.region_code, scope, filters), *_period_between(v.c.period, start, end))
        .order_by(v.c.indicator_code, r.c.level, v.c.region_code, v.c.period)
    )


# ---------------------------------------------------------------------------------------------- comparisons

RANKING_COLUMNS = (
    Column("rank", "排名", "Rank"),
    Column("region_code", "区域代码", "Area code"),
    Column("region_name", "区域", "Area"),
    Column("region_name_en", "区域(英文)", "Area (English)"),
    Column("indicator_code", "指标代码", "Indicator code"),
    Column("value", "指标值", "Indicator value"),
    Column("events", "事件数", "Events", "件", "events"),
)


def _member_events(scope: Scope, filters: AnalysisFilters, start, end, label: str):  # noqa: ANN001, ANN202
    """Events per member area in ``[start, end)`` (months) matching the event filters, from the roll-up."""
    m = _monthly.alias(f"m_{label}")
    return (
        select(m.c.region_code.label("region_code"), func.sum(m.c.n).label(label))
        .where(members(m.c.region_code, scope, filters), *_period_between(m.c.month, start, end), *_event_conditions(m, filters))
        .group_by(m.c.region_code)
        .subquery(f"s_{label}")
    )


def ranking(scope: Scope, filters: AnalysisFilters) -> Select:
    """The member areas ranked by the primary indicator over the window (best first by its polarity; areas
    without a value after those with one), then by their event count (the only key when no indicator is
    chosen); with their events in the window."""
    r, i = _regions, _indicators
    start, end = filters.window()
    code = filters.primary_indicator()
    vals = _member_values(scope, filters, code, "value")
    evs = _member_events(scope, filters, start, end, "events")
    events = func.coalesce(evs.c.events, 0)
    polarity = select(i.c.polarity).where(i.c.code == (code or "")).scalar_subquery()
    order = (events.desc(),)
    if code:  # areas without a value of the indicator rank after those with one, by their events
        order = (case((vals.c.value.is_(None), 1), else_=0), (vals.c.value * polarity).desc(), events.desc())
    rank = func.rank().over(order_by=order)
    return (
        select(rank.label("rank"), r.c.code.label("region_code"), r.c.name.label("region_name"),
               r.c.name_en.label("region_name_en"), literal(code, String).label("indicator_code"), vals.c.value.label("value"),
               events.label("events"))
        .select_from(r)
        .outerjoin(vals, vals.c.region_code == r.c.code)
        .outerjoin(evs, evs.c.region_code == r.c.code)
        .where(members(r.c.code, scope, filters))
        .order_by(rank, r.c.code)
    )


TREND_COLUMNS = (
    Column("indicator_code", "指标代码", "Indicator code"),
    Column("indicator_zh", "指标", "Indicator (Chinese)"),
    Column("indicator_en", "指标(英文)", "Indicator"),
    Column("region_code", "区域代码", "Area code"),
    Column("region_name", "区域", "Area"),
    Column("region_name_en", "区域(英文)", "Area (English)"),
    Column("bucket", "期间", "Period"),
    Column("bucket_start", "起始月", "First month"),
    Column("value", "数值", "Value"),
    Column("unit", "单位", "Unit (Chinese)"),
    Column("unit_en", "单位(英文)", "Unit"),
)


def trend(scope: Scope, filters: AnalysisFilters) -> Select:
    """The chosen indicators (else the theme's, else the headline ones) of each chosen area per month,
    quarter or year of the window, oldest first."""
    v, i, r = _values, _indicators, _regions
    start, end = filters.window()
    bucket = _bucket(v.c.period, filters.granularity)
    return (
        select(i.c.code.label("indicator_code"), i.c.name_zh.label("indicator_zh"), i.c.name_en.label("indicator_en"),
               r.c.code.label("region_code"), r.c.name.label("region_name"), r.c.name_en.label("region_name_en"),
               bucket.label("bucket"), func.min(v.c.period).label("bucket_start"), _aggregate(v.c.value).label("value"),
               i.c.unit, i.c.unit_en)
        .select_from(v)
        .join(i, i.c.code == v.c.indicator_code)
        .join(r, r.c.code == v.c.region_code)
        .where(_indicator_condition(filters), top_areas(v.c.region_code, scope, filters), *_period_between(v.c.period, start, end))
        .group_by(i.c.code, i.c.name_zh, i.c.name_en, i.c.unit, i.c.unit_en, i.c.aggregation, r.c.code, r.c.name, r.c.name_en, bucket)
        .order_by(i.c.code, r.c.code, bucket)
    )


COMPARE_COLUMNS = (
    Column("indicator_code", "指标代码", "Indicator code"),
    Column("indicator_zh", "指标", "Indicator (Chinese)"),
    Column("indicator_en", "指标(英文)", "Indicator"),
    Column("region_code", "区域代码", "Area code"),
    Column("region_name", "区域", "Area"),
    Column("region_name_en", "区域(英文)", "Area (English)"),
    Column("current", "本期", "This period"),
    Column("previous", "对比期", "Compared period"),
    Column("change", "变化率", "Change", "", ""),
    Column("unit", "单位", "Unit (Chinese)"),
    Column("unit_en", "单位(英文)", "Unit"),
)


def comparison(scope: Scope, filters: AnalysisFilters) -> Select:
    """Each chosen indicator of each chosen area over the window against the comparison window (a year
    earlier, the window just before, or another range), with the relative change (NULL when undefined)."""
    v, i, r = _values, _indicators, _regions
    start, end = filters.window()
    c_start, c_end = filters.comparison_window()
    cur = _aggregate(_windowed(v.c.value, v.c.period, start, end))
    prev = _aggregate(_windowed(v.c.value, v.c.period, c_start, c_end)) if c_start is not None else null()
    either = or_(and_(*_period_between(v.c.period, start, end)),
                 and_(*_period_between(v.c.period, c_start, c_end)) if c_start is not None else false())
    inner = (
        select(i.c.code.label("indicator_code"), i.c.name_zh.label("indicator_zh"), i.c.name_en.label("indicator_en"),
               r.c.code.label("region_code"), r.c.name.label("region_name"), r.c.name_en.label("region_name_en"),
               cur.label("current"), prev.label("previous"), i.c.unit, i.c.unit_en)
        .select_from(v)
        .join(i, i.c.code == v.c.indicator_code)
        .join(r, r.c.code == v.c.region_code)
        .where(_indicator_condition(filters), top_areas(v.c.region_code, scope, filters), either)
        .group_by(i.c.code, i.c.name_zh, i.c.name_en, i.c.unit, i.c.unit_en, i.c.aggregation, r.c.code, r.c.name, r.c.name_en)
        .subquery("cmp")
    )
    change = (inner.c.current - inner.c.previous) / func.nullif(func.abs(inner.c.previous), 0)
    return (
        select(inner.c.indicator_code, inner.c.indicator_zh, inner.c.indicator_en, inner.c.region_code, inner.c.region_name,
               inner.c.region_name_en, inner.c.current, inner.c.previous, change.label("change"), inner.c.unit, inner.c.unit_en)
        .order_by(inner.c.indicator_code, inner.c.region_code)
    )


SCATTER_COLUMNS = (
    Column("region_code", "区域代码", "Area code"),
    Column("region_name", "区域", "Area"),
    Column("region_name_en", "区域(英文)", "Area (English)"),
    Column("x_indicator", "横轴指标", "x indicator"),
    Column("x", "横轴值", "x value"),
    Column("y_indicator", "纵轴指标", "y indicator"),
    Column("y", "纵轴值", "y value"),
)


def scatter(scope: Scope, filters: AnalysisFilters) -> Select:
    """The member areas by the first two chosen indicators over the window (x, y); no rows with fewer than two."""
    r = _regions
    x_code, y_code = (filters.indicators + (None, None))[:2]
    xs = _member_values(scope, filters, x_code, "x")
    ys = _member_values(scope, filters, y_code, "y")
    return (
        select(r.c.code.label("region_code"), r.c.name.label("region_name"), r.c.name_en.label("region_name_en"),
               literal(x_code, String).label("x_indicator"), xs.c.x, literal(y_code, String).label("y_indicator"), ys.c.y)
        .select_from(r)
        .outerjoin(xs, xs.c.region_code == r.c.code)
        .outerjoin(ys, ys.c.region_code == r.c.code)
        .where(members(r.c.code, scope, filters), true() if y_code is not None else false())
        .order_by(r.c.code)
    )


CATEGORY_COLUMNS = (
    Column("source", "来源", "Source"),
    Column("category", "类别", "Category"),
    Column("current", "本期事件数", "Events this period", "件", "events"),
    Column("previous", "对比期事件数", "Events compared period", "件", "events"),
    Column("change", "变化率", "Change"),
)


def categories(scope: Scope, filters: AnalysisFilters) -> Select:
    """Events of the chosen areas by source and category in the window and in the comparison window
    (from the monthly roll-up), most frequent first."""
    m = _monthly
    start, end = filters.window()
    c_start, c_end = filters.comparison_window()
    in_cur = and_(*_period_between(m.c.month, start, end)) if start or end else true()
    in_prev = and_(*_period_between(m.c.month, c_start, c_end)) if c_start is not None else false()
    cur = func.coalesce(func.sum(case((in_cur, m.c.n), else_=0)), 0)
    prev = func.coalesce(func.sum(case((in_prev, m.c.n), else_=0)), 0) if c_start is not None else null()
    inner = (
        select(m.c.source, m.c.category, cur.label("current"), prev.label("previous"))
        .where(top_areas(m.c.region_code, scope, filters), or_(in_cur, in_prev), *_event_conditions(m, filters))
        .group_by(m.c.source, m.c.category)
        .subquery("cats")
    )
    change = (inner.c.current - inner.c.previous) / func.nullif(inner.c.previous * 1.0, 0)
    return (
        select(inner.c.source, inner.c.category, inner.c.current, inner.c.previous, change.label("change"))
        .order_by(inner.c.current.desc(), inner.c.source, inner.c.category)
    )


# ---------------------------------------------------------------------------------------------- figures

#: Most lines one trend chart draws.
MAX_LINES = 8
_LAYOUT = {"template": "plotly_white", "margin": {"l": 48, "r": 16, "t": 36, "b": 40}, "font": {
    "family": '"Microsoft YaHei", "PingFang SC", "Noto Sans CJK SC", "Source Han Sans SC", sans-serif'}}


def _empty(text: str) -> go.Figure:
    fig = go.Figure(layout=_LAYOUT)
    fig.add_annotation(text=text, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig


def _no_data(lang: str) -> go.Figure:
    return _empty("No data for these filters" if lang == "en" else "当前筛选条件下无数据")


def _area_name(df: pd.DataFrame, lang: str) -> pd.Series:
    return df["region_name_en"].where(df["region_name_en"].fillna("") != "", df["region_name"]) if lang == "en" else df["region_name"]


def ranking_figure(df: pd.DataFrame, filters: AnalysisFilters, lang: str = "zh") -> go.Figure:
    """Bar chart of the member areas: the primary indicator's value, else the event count. Each bar's
    ``customdata`` is its region code (a click drills into its records)."""
    if df.empty:
        return _no_data(lang)
    col = "value" if filters.primary_indicator() and df["value"].notna().any() else "events"
    fig = go.Figure(go.Bar(x=_area_name(df, lang), y=df[col], customdata=df["region_code"], marker_color="#2f7ed8"),
                    layout=_LAYOUT)
    fig.update_layout(yaxis_title=(filters.primary_indicator() or "") if col == "value" else ("Events" if lang == "en" else "事件数"))
    return fig


def trend_figure(df: pd.DataFrame, filters: AnalysisFilters, lang: str = "zh") -> go.Figure:  # noqa: ARG001
    """One line per indicator and area over the buckets; ``customdata`` = [region code, first month]."""
    if df.empty:
        return _no_data(lang)
    fig = go.Figure(layout=_LAYOUT)
    name_col = "indicator_en" if lang == "en" else "indicator_zh"
    areas = _area_name(df, lang)
    groups = list(df.groupby(["indicator_code", "region_code"], sort=True))
    if len(groups) > MAX_LINES:  # dozens of lines of unrelated units say nothing: ask for a choice
        fig.add_annotation(text=(f"{MAX_LINES} of {len(groups)} series shown: choose indicators" if lang == "en"
                                 else f"显示 {len(groups)} 条中的 {MAX_LINES} 条，请选择指标"),
                           showarrow=False, x=1, y=1.12, xref="paper", yref="paper", xanchor="right")
    for (ind, _region), part in groups[:MAX_LINES]:
        label = f"{part[name_col].iloc[0]} · {areas[part.index[0]]}" if df["region_code"].nunique() > 1 else part[name_col].iloc[0]
        fig.add_trace(go.Scatter(x=part["bucket"], y=part["value"], mode="lines+markers", name=label,
                                 customdata=list(zip(part["region_code"], part["bucket_start"].astype(str), strict=True)),
                                 meta=ind))
    fig.update_layout(legend={"orientation": "h", "y": -0.15, "font": {"size": 12}})
    return fig


def comparison_figure(df: pd.DataFrame, filters: AnalysisFilters, lang: str = "zh") -> go.Figure:
    """Relative change of each indicator (and area) against the comparison window, as horizontal bars."""
    if df.empty:
        return _no_data(lang)
    name_col = "indicator_en" if lang == "en" else "indicator_zh"
    label = df[name_col] + (" · " + _area_name(df, lang) if df["region_code"].nunique() > 1 else "")
    change = df["change"].astype(float) * 100
    fig = go.Figure(go.Bar(y=label, x=change, orientation="h", customdata=df["region_code"],
                           marker_color=["#2e9d5b" if (c or 0) >= 0 else "#d9534f" for c in change.fillna(0)]),
                    layout=_LAYOUT)
    what = {"yoy": ("同比", "year on year"), "mom": ("环比", "on the previous period"), "range": ("对比区间", "against the range")}
    fig.update_layout(xaxis_title=f"Change {what[filters.compare][1]} (%)" if lang == "en" else f"{what[filters.compare][0]}变化率 (%)",
                      yaxis={"autorange": "reversed"})
    return fig


def scatter_figure(df: pd.DataFrame, filters: AnalysisFilters, lang: str = "zh") -> go.Figure:
    """Member areas by two indicators; ``customdata`` = region code."""
    if len(filters.indicators) < 2:
        return _empty("Choose two indicators to compare" if lang == "en" else "请选择两个指标进行对比")
    if df.empty:
        return _no_data(lang)
    fig = go.Figure(go.Scatter(x=df["x"], y=df["y"], mode="markers+text", text=_area_name(df, lang), textposition="top center",
                               customdata=df["region_code"], marker={"size": 11, "color": "#2f7ed8"}), layout=_LAYOUT)
    fig.update_layout(xaxis_title=filters.indicators[0], yaxis_title=filters.indicators[1])
    return fig


def categories_figure(df: pd.DataFrame, filters: AnalysisFilters, lang: str = "zh") -> go.Figure:
    """Events by category, this period against the comparison period; ``customdata`` = category."""
    if df.empty:
        return _no_data(lang)
    from datasources.catalog_loader import event_categories

    cats = event_categories()
    names = [(cats[c].name_en if lang == "en" else cats[c].name_zh) if c in cats else c for c in df["category"]]
    fig = go.Figure(layout=_LAYOUT)
    fig.add_trace(go.Bar(x=names, y=df["current"], name="This period" if lang == "en" else "本期", customdata=df["category"],
                         marker_color="#2f7ed8"))
    if df["previous"].notna().any():
        fig.add_trace(go.Bar(x=names, y=df["previous"], name="Compared period" if lang == "en" else "对比期",
                             customdata=df["category"], marker_color="#b0c4de"))
    fig.update_layout(barmode="group", legend={"orientation": "h", "y": 1.12})
    del filters
    return fig


# ---------------------------------------------------------------------------------------------- registry

PANELS: dict[str, Panel] = {p.id: p for p in (
    Panel("ranking", "区域排名", "Ranking of areas", RANKING_COLUMNS, ranking, ranking_figure, records="events"),
    Panel("trend", "趋势", "Trend", TREND_COLUMNS, trend, trend_figure, records="values"),
    Panel("comparison", "期间对比", "Period comparison", COMPARE_COLUMNS, comparison, comparison_figure, records="values"),
    Panel("scatter", "指标关联", "Indicator against indicator", SCATTER_COLUMNS, scatter, scatter_figure, records="values"),
    Panel("categories", "事件类别构成", "Events by category", CATEGORY_COLUMNS, categories, categories_figure, records="events"),
    Panel("events", "事件明细", "Event records", EVENT_COLUMNS, event_records, count=event_count),
    Panel("values", "指标数据明细", "Indicator value records", VALUE_COLUMNS, value_records),
)}


def caption(filters: AnalysisFilters, lang: str = "zh") -> str:
    """A one-line summary of the window for chart titles: 'YYYY-MM – YYYY-MM'."""
    a = month_text(filters.period_from) if filters.period_from else "…"
    b = month_text(filters.period_to) if filters.period_to else "…"
    del lang
    return f"{a} – {b}"


__all__ = ["PANELS", "Column", "Panel", "caption", "in_areas", "in_scope", "members", "top_areas"]
