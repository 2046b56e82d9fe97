"""The analyst's filters: one value object that the analyst page, its records table and every export read.

A view lives in the URL. :meth:`AnalysisFilters.from_query` reads it (a bad parameter raises
:class:`FilterError` naming it), :meth:`AnalysisFilters.to_query` writes it back (exact round trip), and
:meth:`AnalysisFilters.describe` prints it for people (the export manifest, image captions).

Dependent filters are normalised here, once, against a :class:`FilterCatalog` (which indicators belong
to which theme, which event categories to which source): an indicator outside the chosen theme or a
category outside the chosen sources is dropped, so the page and the exports always agree.

URL parameters (all optional; lists are comma-separated):

==========  ==========================================================  ========================
parameter   meaning                                                     example
==========  ==========================================================  ========================
areas       region codes (empty: the caller's top area)                 ``510182001,510182002``
from, to    first and last month, inclusive                             ``2025-01``, ``2025-12``
gran        month | quarter | year (default month)                      ``quarter``
theme       a theme id                                                  ``environment``
ind         indicator codes (order kept: the scatter's x then y)       ``gdp,retail``
src, cat    event sources and categories                                ``hotline``
status      event statuses                                              ``closed,resolved``
sev         event severities 1 (I, most severe) … 4 (IV)                ``1,2``
cmp         period comparison: yoy (default) | mom | range              ``range``
cmp_from,   the other range when cmp=range                              ``2024-01``
cmp_to
==========  ==========================================================  ========================

Other parameters (``lang``, ``panel``…) belong to the page or the export and are ignored here.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date

from dateutil.relativedelta import relativedelta

from datasources.rules import LIFECYCLE

GRANULARITIES = ("month", "quarter", "year")
#: yoy: the same window a year earlier; mom: the window of the same length just before (month-on-month for
#: one month, quarter-on-quarter for a quarter…); range: any other.
COMPARISONS = ("yoy", "mom", "range")
SEVERITIES = (1, 2, 3, 4)
#: Longest period window (months): the trends' limit and a bound on every query's size.
MAX_MONTHS = 36
#: Most values one list parameter may hold.
MAX_ITEMS = 64
_CODE = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
_MONTH = re.compile(r"(\d{4})-(\d{2})")


class FilterError(ValueError):
    """A bad URL parameter: ``param`` names it, ``reason`` says what it should be."""

    def __init__(self, param: str, reason: str):
        super().__init__(f"parameter '{param}': {reason}")
        self.param = param
        self.reason = reason


@dataclass(frozen=True)
class FilterCatalog:
    """What dependent filters are checked against: themes, indicator -> theme, category -> source."""

    themes: frozenset[str]
    indicator_theme: Mapping[str, str] = field(hash=False)
    category_source: Mapping[str, str] = field(hash=False)

    @property
    def sources(self) -> frozenset[str]:
        """Every event source that has a category."""
        return frozenset(self.category_source.values())

    @classmethod
    def from_rows(cls, indicators: Iterable[Mapping], pages: Iterable[Mapping], categories: Iterable) -> FilterCatalog:
        """From the repository's ``indicators()`` and ``pages()`` rows and the event categories
        (``catalog_loader.event_categories().values()``)."""
        return cls(
            themes=frozenset(p["id"] for p in pages if p["kind"] == "theme"),
            indicator_theme={i["code"]: i["theme"] for i in indicators},
            category_source={c.category: c.source for c in categories},
        )

    @classmethod
    def from_repo(cls, repo) -> FilterCatalog:  # noqa: ANN001 - Repository or ScopedRepository
        """The catalog of the loaded database (indicators and themes) and the shipped event categories."""
        from datasources.catalog_loader import event_categories

        return cls.from_rows(repo.indicators(), repo.pages(), event_categories().values())

    @classmethod
    @functools.cache
    def shipped(cls) -> FilterCatalog:
        """The catalog shipped with the code (``datasources/catalog``): the default of :meth:`AnalysisFilters.from_query`."""
        from datasources.catalog_loader import event_categories, load_catalog

        cat = load_catalog()
        return cls(
            themes=frozenset(p.id for p in cat.themes()),
            indicator_theme={i.code: i.theme for i in cat.indicators},
            category_source={c.category: c.source for c in event_categories().values()},
        )


def month_text(d: date) -> str:
    """``YYYY-MM`` of a month's first day (the URL's form)."""
    return f"{d.year:04d}-{d.month:02d}"


def _parse_month(param: str, raw: str) -> date:
    m = _MONTH.fullmatch(raw)
    if not m or not 1 <= int(m.group(2)) <= 12 or int(m.group(1)) < 1900:
        raise FilterError(param, f"a month as YYYY-MM, not {raw[:20]!r}")
    return date(int(m.group(1)), int(m.group(2)), 1)


def _split(param: str, raw: str) -> list[str]:
    items = [s.strip() for s in raw.split(",") if s.strip()]
    if len(items) > MAX_ITEMS:
        raise FilterError(param, f"at most {MAX_ITEMS} values")
    out: list[str] = []
    for s in items:
        if s not in out:
            out.append(s)
    return out


def _codes(param: str, raw: str, known: Iterable[str] | None = None, what: str = "code") -> tuple[str, ...]:
    items = _split(param, raw)
    for s in items:
        if not _CODE.fullmatch(s):
            raise FilterError(param, f"{what}s of letters, digits and . _ : - (got {s[:20]!r})")
        if known is not None and s not in known:
            raise FilterError(param, f"unknown {what} {s!r}")
    return tuple(items)


def _quarter_start(d: date) -> date:
    return date(d.year, (d.month - 1) // 3 * 3 + 1, 1)


def _snap(d: date | None, granularity: str, end: bool) -> date | None:
    """A month snapped to its bucket: the bucket's first month, or its last for the end of a range."""
    if d is None or granularity == "month":
        return d
    start = _quarter_start(d) if granularity == "quarter" else date(d.year, 1, 1)
    return start + relativedelta(months=2 if granularity == "quarter" else 11) if end else start


def _span(start: date, end: date) -> int:
    """Months in the inclusive range [start, end]."""
    return (end.year - start.year) * 12 + end.month - start.month + 1


@dataclass(frozen=True)
class AnalysisFilters:
    """Everything the analyst chose. Build it with :meth:`from_query` or :meth:`normalised` so that
    dependent values fit their parents; the defaults are 'everything'."""

    areas: tuple[str, ...] = ()
    period_from: date | None = None  # first day of the first month (inclusive); None: unbounded
    period_to: date | None = None  # first day of the last month (inclusive); None: unbounded
    granularity: str = "month"
    theme: str | None = None
    indicators: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    severities: tuple[int, ...] = ()
    compare: str = "yoy"
    compare_from: date | None = None  # only with compare == "range"
    compare_to: date | None = None

    # ------------------------------------------------------------------ URL
    @classmethod
    def from_query(cls, query: Mapping[str, str], catalog: FilterCatalog | None = None) -> AnalysisFilters:
        """Read the filters from URL parameters (a ``request.args`` or a dict of strings). Raises
        :class:`FilterError` naming the first bad parameter; dependent values that do not fit their
        parent are dropped (see :meth:`normalised`)."""
        catalog = catalog or FilterCatalog.shipped()

        def get(name: str) -> str:
            raw = query.get(name)
            if raw is None:
                return ""
            if isinstance(raw, list | tuple):  # parse_qs-style values: the last one counts
                raw = raw[-1] if raw else ""
            if not isinstance(raw, str) or len(raw) > 4096 or "\x00" in raw:
                raise FilterError(name, "text of at most 4096 characters")
            return raw.strip()

        gran = get("gran") or "month"
        if gran not in GRANULARITIES:
            raise FilterError("gran", f"one of {', '.join(GRANULARITIES)}")
        compare = get("cmp") or "yoy"
        if compare not in COMPARISONS:
            raise FilterError("cmp", f"one of {', '.join(COMPARISONS)}")
        theme = get("theme") or None
        if theme is not None and theme not in catalog.themes:
            raise FilterError("theme", f"unknown theme {theme[:40]!r} (known: {', '.join(sorted(catalog.themes))})")
        sev_raw = _split("sev", get("sev"))
        if any(s not in {str(v) for v in SEVERITIES} for s in sev_raw):
            raise FilterError("sev", "severities from 1 (I) to 4 (IV)")
        months = {name: _parse_month(name, get(name)) if get(name) else None for name in ("from", "to", "cmp_from", "cmp_to")}
        for a, b in (("from", "to"), ("cmp_from", "cmp_to")):
            if months[a] and months[b] and months[a] > months[b]:
                raise FilterError(a, f"a month no later than '{b}'")
            if months[a] and months[b] and _span(months[a], months[b]) > MAX_MONTHS:
                raise FilterError(a, f"a range of at most {MAX_MONTHS} months up to '{b}'")
        if compare == "range" and not (months["cmp_from"] and months["cmp_to"]):
            raise FilterError("cmp_from" if not months["cmp_from"] else "cmp_to", "a month (YYYY-MM) when cmp=range")
        filters = cls(
            areas=_codes("areas", get("areas"), what="region code"),
            period_from=months["from"],
            period_to=months["to"],
            granularity=gran,
            theme=theme,
            indicators=_codes("ind", get("ind"), catalog.indicator_theme, "indicator"),
            sources=_codes("src", get("src"), catalog.sources, "source"),
            categories=_codes("cat", get("cat"), catalog.category_source, "category"),
            statuses=_codes("status", get("status"), LIFECYCLE, "status"),
            severities=tuple(int(s) for s in sev_raw),
            compare=compare,
            compare_from=months["cmp_from"],
            compare_to=months["cmp_to"],
        )
        return filters.normalised(catalog)

    def to_query(self) -> dict[str, str]:
        """URL parameters of these filters (defaults left out, stable order): ``from_query`` of the
        result equals ``self`` for normalised filters."""
        q = {
            "areas": ",".join(self.areas),
            "from": month_text(self.period_from) if self.period_from else "",
            "to": month_text(self.period_to) if self.period_to else "",
            "gran": "" if self.granularity == "month" else self.granularity,
            "theme": self.theme or "",
            "ind": ",".join(self.indicators),
            "src": ",".join(self.sources),
            "cat": ",".join(self.categories),
            "status": ",".join(self.statuses),
            "sev": ",".join(str(s) for s in self.severities),
            "cmp": "" if self.compare == "yoy" else self.compare,
            "cmp_from": month_text(self.compare_from) if self.compare_from else "",
            "cmp_to": month_text(self.compare_to) if self.compare_to else "",
        }
        return {k: v for k, v in q.items() if v}

    # ------------------------------------------------------------------ normalisation
    def normalised(self, catalog: FilterCatalog | None = None) -> AnalysisFilters:
        """These filters with every dependent value fitted to its parent: indicators outside the theme,
        categories outside the chosen sources, and a comparison range without ``cmp=range`` are dropped;
        months snap to the granularity's buckets; event lists are sorted (one URL per view)."""
        catalog = catalog or FilterCatalog.shipped()
        indicators = tuple(dict.fromkeys(
            i for i in self.indicators
            if i in catalog.indicator_theme and (self.theme is None or catalog.indicator_theme[i] == self.theme)
        ))
        sources = tuple(sorted(set(self.sources) & catalog.sources))
        categories = tuple(sorted(
            c for c in set(self.categories)
            if c in catalog.category_source and (not sources or catalog.category_source[c] in sources)
        ))
        ranged = self.compare == "range"
        return replace(
            self,
            areas=tuple(dict.fromkeys(self.areas)),
            period_from=_snap(self.period_from, self.granularity, end=False),
            period_to=_snap(self.period_to, self.granularity, end=True),
            theme=self.theme if self.theme in catalog.themes else None,
            indicators=indicators,
            sources=sources,
            categories=categories,
            statuses=tuple(s for s in LIFECYCLE if s in self.statuses),
            severities=tuple(sorted(set(self.severities) & set(SEVERITIES))),
            compare_from=_snap(self.compare_from, self.granularity, end=False) if ranged else None,
            compare_to=_snap(self.compare_to, self.granularity, end=True) if ranged else None,
        )

    # ------------------------------------------------------------------ windows
    def resolved(self, latest: date | None, default_months: int = 12) -> AnalysisFilters:
        """These filters with an open period filled in: ``period_to`` defaults to ``latest`` (the newest
        period holding data), ``period_from`` to ``default_months`` months up to it; a comparison range
        without its months falls back to year-on-year. Panels' queries expect resolved filters."""
        if latest is None:
            return self
        to = self.period_to or _snap(date(latest.year, latest.month, 1), self.granularity, end=True)
        start = self.period_from or _snap(to - relativedelta(months=default_months - 1), self.granularity, end=False)
        if start > to:
            start = _snap(to, self.granularity, end=False)
        out = replace(self, period_from=start, period_to=to)
        if out.compare == "range" and not (out.compare_from and out.compare_to):
            out = replace(out, compare="yoy", compare_from=None, compare_to=None)
        return out

    def window(self) -> tuple[date | None, date | None]:
        """The chosen months as ``[start, end)``: first day of the first month, first day after the last."""
        end = self.period_to + relativedelta(months=1) if self.period_to else None
        return self.period_from, end

    def comparison_window(self) -> tuple[date | None, date | None]:
        """The window compared against, as ``[start, end)``: a year earlier (yoy), the same number of
        months just before (mom), or the chosen range (range). (None, None) when the period is open."""
        if self.compare == "range":
            return self.compare_from, (self.compare_to + relativedelta(months=1)) if self.compare_to else None
        start, end = self.window()
        if start is None or end is None:
            return None, None
        if self.compare == "yoy":
            return start - relativedelta(years=1), end - relativedelta(years=1)
        months = _span(start, self.period_to)
        return start - relativedelta(months=months), start

    def primary_indicator(self) -> str | None:
        """The indicator the ranking, the map and the scatter's x axis use: the first chosen one."""
        return self.indicators[0] if self.indicators else None

    # ------------------------------------------------------------------ for people
    def describe(self, lang: str = "zh", names: Mapping[str, str] | None = None) -> list[tuple[str, str]]:
        """The filters as readable (label, value) pairs in ``lang``, for the export manifest and image
        captions. ``names`` maps codes (areas, indicators, themes, categories) to display names; codes
        without a name are printed as they are. Unset filters read 'all'."""
        names = names or {}
        en = lang == "en"
        every = "all" if en else "全部"

        def listed(values: Iterable) -> str:
            values = [names.get(str(v), str(v)) for v in values]
            return ", ".join(values) if en else "、".join(values)

        def period(start: date | None, end: date | None) -> str:
            a = month_text(start) if start else ("start" if en else "最早")
            b = month_text(end) if end else ("latest" if en else "最新")
            return f"{a} – {b}"

        severity = {1: "I", 2: "II", 3: "III", 4: "IV"}
        status_zh = {"reported": "待派遣", "dispatched": "已派遣", "processing": "处置中", "resolved": "已处置", "closed": "已办结"}
        gran = {"month": ("月", "month"), "quarter": ("季度", "quarter"), "year": ("年", "year")}[self.granularity]
        cmp = {"yoy": ("同比", "year on year"), "mom": ("环比", "previous period"), "range": ("指定区间", "chosen range")}
        rows = [
            ("Areas" if en else "区域", listed(self.areas) if self.areas else ("the whole visible area" if en else "全部可见区域")),
            ("Period" if en else "时段", period(self.period_from, self.period_to)),
            ("Granularity" if en else "粒度", gran[1] if en else gran[0]),
            ("Theme" if en else "主题", names.get(self.theme, self.theme) if self.theme else every),
            ("Indicators" if en else "指标", listed(self.indicators) if self.indicators else every),
            ("Event sources" if en else "事件来源", listed(self.sources) if self.sources else every),
            ("Event categories" if en else "事件类别", listed(self.categories) if self.categories else every),
            ("Event statuses" if en else "事件状态",
             listed(self.statuses if en else [status_zh[s] for s in self.statuses]) if self.statuses else every),
            ("Event severities" if en else "事件等级", listed(severity[s] for s in self.severities) if self.severities else every),
            ("Comparison" if en else "对比", cmp[self.compare][1 if en else 0]),
        ]
        if self.compare == "range":
            rows.append(("Compared with" if en else "对比区间", period(self.compare_from, self.compare_to)))
        return rows


__all__ = [
    "COMPARISONS", "GRANULARITIES", "MAX_MONTHS", "SEVERITIES", "AnalysisFilters", "FilterCatalog", "FilterError", "month_text",
]
