"""Load and validate the indicator catalog kept as CSV files in ``datasources/catalog/``.

The catalog is data, not code: adding an indicator or a topic page is an edit to
``pages.csv`` or ``indicators.csv``. This module reads the files with the standard library
only and returns frozen dataclasses. Every problem raises :class:`CatalogError`, which names
the file, the line (the header is line 1) and the field, so a wrong edit is easy to find.

Files (UTF-8, comma separated, a header row with exactly these columns in this order):

- ``pages.csv``: ``id,kind,name_zh,name_en,order,icon`` -- the five themes and the topics.
- ``indicators.csv``: see :data:`INDICATOR_COLUMNS`; one row per indicator.
- ``demo_profile.csv``: ``code,base,cv,trend,season,decimals`` -- one row per indicator,
  used only by the synthetic demo generator (see :class:`DemoProfile`).
- ``alert_rules.csv``: see :data:`ALERT_RULE_COLUMNS`; alert rules on readings, event surges and
  indicators, each active in some operating modes (see :class:`AlertRuleDef`).
- ``modes.csv``: see :data:`MODE_COLUMNS`; one profile per operating mode (see :class:`ModeProfile`).
- ``event_categories.csv``: see :data:`CATEGORY_COLUMNS`; one row per event category: its source,
  names, theme, suggested department, SLA hours and standard operating steps (see :class:`EventCategory`).
- ``topic_panels.csv``: see :data:`TOPIC_PANEL_COLUMNS`; the panels of each topic page, in order (see
  :class:`TopicPanel`): adding a topic is a row in ``pages.csv`` and rows here, no code.
"""

from __future__ import annotations

import csv
import functools
import math
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from datasources.rules import Status, threshold_status

CATALOG_DIR = Path(__file__).with_name("catalog")

PAGES_FILE = "pages.csv"
INDICATORS_FILE = "indicators.csv"
DEMO_PROFILE_FILE = "demo_profile.csv"
RULES_FILE = "rules.csv"
ALERT_RULES_FILE = "alert_rules.csv"
MODES_FILE = "modes.csv"
CATEGORIES_FILE = "event_categories.csv"
TOPIC_PANELS_FILE = "topic_panels.csv"

PAGE_COLUMNS = ("id", "kind", "name_zh", "name_en", "order", "icon")
INDICATOR_COLUMNS = (
    "code", "name_zh", "name_en", "theme", "topics", "unit", "unit_en", "aggregation",
    "polarity", "warn", "alarm", "department", "frequency", "level", "headline", "description",
)
DEMO_PROFILE_COLUMNS = ("code", "base", "cv", "trend", "season", "decimals")
CATEGORY_COLUMNS = ("category", "source", "name_zh", "name_en", "theme", "department", "sla_hours", "sop_zh", "sop_en")
#: The longest SLA a category may have (a year): a typo such as 7200 for 72 must not pass silently.
MAX_SLA_HOURS = 8760
RULE_COLUMNS = ("indicator", "measure", "sources", "categories", "facility_kind", "attribute")
ALERT_RULE_COLUMNS = (
    "id", "kind", "target", "name_zh", "name_en", "severity", "polarity", "warn", "alarm", "window_hours",
    "baseline_weeks", "factor", "min_count", "level", "modes", "description",
)
MODE_COLUMNS = ("mode", "name_zh", "name_en", "refresh_seconds", "layers", "panels", "description")
ALERT_RULE_KINDS = frozenset({"reading", "surge", "indicator"})
#: The operating modes (DESIGN.md glossary: 日常 / 汛期 / 假期 / 疫情 / 应急), in display order.
MODE_IDS = ("daily", "flood", "holiday", "epidemic", "emergency")
#: Map layer keys a mode may put first; equal to ``layouts.map_layers.LAYER_KEYS`` (a test keeps them equal:
#: datasources may not import layouts).
LAYER_KEYS = (
    "heat", "open", "alerts", "camera", "air_station", "water_station", "hospital", "school", "shelter", "base_station",
    "major_project", "pollution_camera", "rain_gauge", "river_station", "risk_point", "rescue_team", "charging_station",
)
#: Alert rule names the derive step uses itself (``threshold:<indicator>`` cannot clash: ids have no ':').
RESERVED_ALERT_RULES = frozenset({"severe_event"})
MAX_BASELINE_WEEKS = 26
#: The slowest screen refresh an emergency may have (DESIGN.md 6: an event shows within 5 s).
EMERGENCY_MAX_REFRESH = 5

#: What a rule computes: event counts and rates from ``event_monthly``, facility counts from ``facilities``.
EVENT_MEASURES = frozenset({"events", "closure_rate", "on_time_rate", "satisfaction"})
MEASURES = EVENT_MEASURES | {"facilities"}

PAGE_KINDS = frozenset({"theme", "topic"})
TOPIC_PANEL_COLUMNS = (
    "topic", "order", "kind", "title_zh", "title_en", "indicators", "layers", "categories", "facility_kinds", "metrics",
)
#: Panel kinds a topic page may use: equal to ``callbacks.panel_kinds.KINDS`` (a test keeps them equal:
#: datasources may not import callbacks). Which list columns each kind reads, and which it needs.
PANEL_READS = {
    "kpis": {"indicators"}, "trend": {"indicators"}, "ranking": {"indicators"}, "map": {"indicators", "layers"},
    "events": {"categories"}, "facilities": {"facility_kinds", "metrics"}, "readings": {"facility_kinds", "metrics"},
    "detail": {"indicators"},
}
PANEL_KINDS = frozenset(PANEL_READS)
PANEL_NEEDS = {
    "kpis": ("indicators",), "trend": ("indicators",), "ranking": ("indicators",), "map": ("indicators",),
    "facilities": ("facility_kinds",), "readings": ("facility_kinds", "metrics"), "detail": ("indicators",),
}
#: How values of child areas roll up to their parent: ``wmean`` is the population-weighted mean.
AGGREGATIONS = frozenset({"sum", "mean", "wmean", "max", "min", "last"})
FREQUENCIES = frozenset({"realtime", "daily", "monthly", "quarterly", "yearly"})

_ID_PATTERN = re.compile(r"[a-z][a-z0-9_]*")
_INT_PATTERN = re.compile(r"[+-]?\d+")
_OPTIONAL = {
    PAGES_FILE: {"icon"},
    INDICATORS_FILE: {"topics", "warn", "alarm"},
    DEMO_PROFILE_FILE: set(),
    RULES_FILE: {"sources", "categories", "facility_kind", "attribute"},
    ALERT_RULES_FILE: {"polarity", "warn", "alarm", "window_hours", "baseline_weeks", "factor", "min_count", "level",
                       "modes", "description"},
    MODES_FILE: {"layers", "panels", "description"},
    CATEGORIES_FILE: set(),
    TOPIC_PANELS_FILE: {"title_en", "indicators", "layers", "categories", "facility_kinds", "metrics"},
}



class CatalogError(ValueError):
    """A catalog file is missing or has a bad header or row.

    ``file`` is the file name, ``row`` the 1-based line number (header = line 1; ``None`` when
    the problem has no single line), ``field`` the column (or ``None``), ``message`` the reason.
    """

    def __init__(self, file: str, row: int | None, field: str | None, message: str) -> None:
        self.file = file
        self.row = row
        self.field = field
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.file if self.row is None else f"{self.file} line {self.row}"
        if self.field is not None:
            where += f", field '{self.field}'"
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class Page:
    """A theme (one of the five cockpit panels) or a topic page (专题)."""

    id: str
    kind: str
    name_zh: str
    name_en: str
    order: int
    icon: str


@dataclass(frozen=True)
class Indicator:
    """One catalog indicator; ``level`` is the lowest administrative level it exists at."""

    code: str
    name_zh: str
    name_en: str
    theme: str
    topics: tuple[str, ...]
    unit: str
    unit_en: str
    aggregation: str
    polarity: int
    warn: float | None
    alarm: float | None
    department: str
    frequency: str
    level: int
    headline: bool
    description: str

    def status(self, value: float | None) -> Status:
        """Classify ``value`` against the thresholds (see :func:`datasources.rules.threshold_status`)."""
        return threshold_status(value, self.polarity, self.warn, self.alarm)


@dataclass(frozen=True)
class DemoProfile:
    """Parameters of the synthetic demo data for one indicator.

    ``base`` is a typical value of one area at the indicator's lowest level in the latest year:
    for ``sum`` indicators its total over one month (one quarter or year for quarterly and
    yearly ones; daily and realtime feeds are stored per month, so their base is a monthly
    total too), otherwise a typical reading or rate. ``cv`` is the spread between areas
    (coefficient of variation; near-ceiling rates use less than 0.05); ``trend`` the
    relative change per year; ``season`` the yearly seasonal amplitude as a fraction
    (positive: peak in July, negative: peak in January); ``decimals`` the rounding digits.
    """

    code: str
    base: float
    cv: float
    trend: float
    season: float
    decimals: int


@dataclass(frozen=True)
class Rule:
    """An indicator computed from other tables instead of being loaded (``rules.csv``).

    ``events``: events reported in the month (filtered by ``sources`` and ``categories``);
    ``closure_rate``: % of them resolved or closed; ``on_time_rate``: % of the done ones done by their
    due time; ``satisfaction``: % of rated ones rated 4 or 5; ``facilities``: facilities of
    ``facility_kind`` (and ``attribute`` key=value) in service at the end of the month."""

    indicator: str
    measure: str
    sources: tuple[str, ...]
    categories: tuple[str, ...]
    facility_kind: str
    attribute: str


@dataclass(frozen=True)
class AlertRuleDef:
    """An alert rule (``alert_rules.csv``), active in ``modes`` (empty = every mode).

    ``reading``: the newest reading of metric ``target`` at each live station against ``warn``/``alarm``
    (oriented by ``polarity``; -1 = above is bad); beyond alarm the alert has ``severity``, beyond warn
    only one grade lower (``severity + 1``, at most IV).
    ``surge``: events of category ``target`` in each area at ``level`` (None = the leaves) over the last
    ``window_hours`` against the area's own seasonal baseline (see ``datasources.ingest.alerting``).
    ``indicator``: the catalog's warn/alarm of indicator ``target`` (as without a rule) but only in
    ``modes`` and with ``severity``."""

    id: str
    kind: str
    target: str
    name_zh: str
    name_en: str
    severity: int
    polarity: int = -1
    warn: float | None = None
    alarm: float | None = None
    window_hours: int | None = None
    baseline_weeks: int | None = None
    factor: float | None = None
    min_count: int | None = None
    level: int | None = None
    modes: tuple[str, ...] = ()
    description: str = ""


@dataclass(frozen=True)
class ModeProfile:
    """What an operating mode changes on the screens (``modes.csv``): how often they refresh, which
    map layers and which panels (theme ids or indicator codes) come first."""

    mode: str
    name_zh: str
    name_en: str
    refresh_seconds: int
    layers: tuple[str, ...]
    panels: tuple[str, ...]
    description: str


@dataclass(frozen=True)
class EventCategory:
    """One event category (``event_categories.csv``): the department a case is suggested to go to, its
    SLA (hours from report to due) and the standard operating steps (SOP) shown as a checklist."""

    category: str
    source: str
    name_zh: str
    name_en: str
    theme: str
    department: str
    sla_hours: float
    sop_zh: tuple[str, ...]
    sop_en: tuple[str, ...]


@dataclass(frozen=True)
class TopicPanel:
    """One panel of a topic page (``topic_panels.csv``), shown in ``order``. What a kind reads (lists;
    empty = not used): ``indicators`` (kpis: the cards; trend, ranking, map: the choices, first = default),
    ``layers`` (map: the point layers), ``categories`` (events: event categories; empty = all),
    ``facility_kinds`` (facilities, readings: the kinds listed), ``metrics`` (facilities: the attribute
    columns; readings: the reading metric, then optionally the attribute holding its warning level)."""

    topic: str
    order: int
    kind: str
    title_zh: str
    title_en: str
    indicators: tuple[str, ...] = ()
    layers: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    facility_kinds: tuple[str, ...] = ()
    metrics: tuple[str, ...] = ()

    def as_dict(self) -> dict:
        """Plain data (stored with the loaded catalog, read by the screens)."""
        return {f: list(v) if isinstance(v, tuple) else v for f, v in self.__dict__.items()}


@dataclass(frozen=True)
class Catalog:
    """All pages, indicators, rules and event categories, in file order, with lookup helpers."""

    pages: tuple[Page, ...]
    indicators: tuple[Indicator, ...]
    rules: tuple[Rule, ...] = ()
    alert_rules: tuple[AlertRuleDef, ...] = ()
    modes: tuple[ModeProfile, ...] = ()
    categories: tuple[EventCategory, ...] = ()
    topic_panels: tuple[TopicPanel, ...] = ()

    @cached_property
    def _pages_by_id(self) -> dict[str, Page]:
        return {page.id: page for page in self.pages}

    @cached_property
    def _indicators_by_code(self) -> dict[str, Indicator]:
        return {indicator.code: indicator for indicator in self.indicators}

    def page(self, page_id: str) -> Page:
        """Return the theme or topic page ``page_id``; raise KeyError if there is none."""
        return self._pages_by_id[page_id]

    def indicator(self, code: str) -> Indicator:
        """Return the indicator ``code``; raise KeyError if there is none."""
        return self._indicators_by_code[code]

    def themes(self) -> tuple[Page, ...]:
        """Return the theme pages sorted by their ``order``."""
        return self._pages_of_kind("theme")

    def topics(self) -> tuple[Page, ...]:
        """Return the topic pages sorted by their ``order``."""
        return self._pages_of_kind("topic")

    def by_theme(self, theme_id: str) -> tuple[Indicator, ...]:
        """Return the indicators of theme ``theme_id`` in file order."""
        self._require(theme_id, "theme")
        return tuple(ind for ind in self.indicators if ind.theme == theme_id)

    def headlines(self, theme_id: str) -> tuple[Indicator, ...]:
        """Return the headline KPIs of theme ``theme_id`` (its cockpit panel) in file order."""
        return tuple(ind for ind in self.by_theme(theme_id) if ind.headline)

    def by_topic(self, topic_id: str) -> tuple[Indicator, ...]:
        """Return the indicators grouped under topic ``topic_id`` in file order."""
        self._require(topic_id, "topic")
        return tuple(ind for ind in self.indicators if topic_id in ind.topics)

    def _pages_of_kind(self, kind: str) -> tuple[Page, ...]:
        return tuple(sorted((p for p in self.pages if p.kind == kind), key=lambda p: p.order))

    def _require(self, page_id: str, kind: str) -> None:
        page = self._pages_by_id.get(page_id)
        if page is None or page.kind != kind:
            raise KeyError(f"no {kind} page {page_id!r}")


def load_catalog(directory: str | Path | None = None) -> Catalog:
    """Read and validate ``pages.csv`` and ``indicators.csv`` from ``directory``.

    ``directory`` defaults to the ``catalog/`` folder next to this module. Raises
    :class:`CatalogError` on the first problem found.
    """
    folder = Path(directory) if directory is not None else CATALOG_DIR
    pages = _load_pages(folder)
    indicators = _load_indicators(folder, pages)
    rules = _load_rules(folder, indicators) if (folder / RULES_FILE).is_file() else ()
    modes = _load_modes(folder, pages, indicators) if (folder / MODES_FILE).is_file() else ()
    alert_rules = _load_alert_rules(folder, indicators) if (folder / ALERT_RULES_FILE).is_file() else ()
    themes = frozenset(p.id for p in pages if p.kind == "theme")
    categories = _load_categories(folder, themes) if (folder / CATEGORIES_FILE).is_file() else ()
    topic_panels = (_load_topic_panels(folder, pages, indicators, categories)
                    if (folder / TOPIC_PANELS_FILE).is_file() else ())
    return Catalog(pages=pages, indicators=indicators, rules=rules, alert_rules=alert_rules, modes=modes,
                   categories=categories, topic_panels=topic_panels)


def _load_modes(folder: Path, pages: tuple[Page, ...], indicators: tuple[Indicator, ...]) -> tuple[ModeProfile, ...]:
    panels_known = {p.id for p in pages} | {i.code for i in indicators}
    out: list[ModeProfile] = []
    lines: dict[str, int] = {}
    for row in _read_rows(folder, MODES_FILE, MODE_COLUMNS):
        mode = row.choice("mode", frozenset(MODE_IDS), "mode")
        row.once("mode", mode, lines, f"duplicate mode {mode!r}")
        refresh = row.integer("refresh_seconds")
        if not 1 <= refresh <= 3600:
            raise row.error("refresh_seconds", f"{refresh} is outside 1..3600")
        if mode == "emergency" and refresh > EMERGENCY_MAX_REFRESH:
            raise row.error("refresh_seconds", f"{refresh} s is too slow for an emergency (at most {EMERGENCY_MAX_REFRESH})")
        layers = row.names("layers")
        for layer in layers:
            if layer not in LAYER_KEYS:
                raise row.error("layers", f"unknown map layer {layer!r} (expected one of: {', '.join(LAYER_KEYS)})")
        panels = row.names("panels")
        for panel in panels:
            if panel not in panels_known:
                raise row.error("panels", f"{panel!r} is neither a page id nor an indicator code")
        for field, values in (("layers", layers), ("panels", panels)):
            if len(set(values)) != len(values):
                raise row.error(field, "an entry is listed twice")
        out.append(ModeProfile(mode, row.text("name_zh"), row.text("name_en"), refresh, layers, panels, row.text("description")))
    if "daily" not in lines:
        raise CatalogError(MODES_FILE, None, "mode", "the 'daily' mode is required (it is the default)")
    return tuple(out)


def _load_alert_rules(folder: Path, indicators: tuple[Indicator, ...]) -> tuple[AlertRuleDef, ...]:
    by_code = {i.code: i for i in indicators}
    out: list[AlertRuleDef] = []
    lines: dict[str, int] = {}
    indicator_lines: dict[str, int] = {}
    for row in _read_rows(folder, ALERT_RULES_FILE, ALERT_RULE_COLUMNS):
        rule_id = row.identifier("id")
        if rule_id in RESERVED_ALERT_RULES:
            raise row.error("id", f"{rule_id!r} is the name of a built-in alert rule")
        row.once("id", rule_id, lines, f"duplicate id {rule_id!r}")
        kind = row.choice("kind", ALERT_RULE_KINDS, "kind")
        target = row.identifier("target")
        severity = row.integer("severity")
        if not 1 <= severity <= 4:
            raise row.error("severity", f"{severity} is outside 1 (I, most severe) .. 4 (IV)")
        polarity = row.polarity("polarity") if row.values["polarity"] else -1
        modes = row.names("modes")
        for mode in modes:
            if mode not in MODE_IDS:
                raise row.error("modes", f"unknown mode {mode!r} (expected one of: {', '.join(MODE_IDS)})")
        surge_fields = ("window_hours", "baseline_weeks", "factor", "min_count", "level")
        fields = {"warn": None, "alarm": None} | dict.fromkeys(surge_fields)
        if kind == "reading":
            if not row.values["warn"] or not row.values["alarm"]:
                raise row.error("warn" if not row.values["warn"] else "alarm", "a reading rule needs both warn and alarm")
            fields["warn"], fields["alarm"] = row.thresholds(polarity)
            allowed = {"warn", "alarm"}
        elif kind == "surge":
            for f in ("window_hours", "baseline_weeks", "min_count"):
                fields[f] = row.integer(f)
                if fields[f] < 1:
                    raise row.error(f, "must be at least 1")
            # The baseline's year-ago windows reach baseline_weeks either side of 52 weeks back.
            if fields["baseline_weeks"] > MAX_BASELINE_WEEKS:
                raise row.error("baseline_weeks", f"{fields['baseline_weeks']} is above {MAX_BASELINE_WEEKS}")
            if fields["window_hours"] > 24 * 7:
                raise row.error("window_hours", f"{fields['window_hours']} is above a week (168)")
            fields["factor"] = row.number("factor")
            if fields["factor"] < 1:
                raise row.error("factor", f"{fields['factor']:g} must be at least 1 (a surge is more than usual)")
            if row.values["level"]:
                fields["level"] = row.integer("level")
            allowed = set(surge_fields)
        else:
            ind = by_code.get(target)
            if ind is None:
                raise row.error("target", f"unknown indicator {target!r}")
            if ind.alarm is None:
                raise row.error("target", f"indicator {target!r} has no warn/alarm thresholds in indicators.csv")
            row.once("target", target, indicator_lines, f"a second rule for indicator {target!r}")
            allowed = set()
        for f in ("warn", "alarm", *surge_fields):
            if f not in allowed and row.values[f]:
                raise row.error(f, f"not used by a {kind} rule (leave it empty)")
        out.append(AlertRuleDef(
            id=rule_id, kind=kind, target=target, name_zh=row.text("name_zh"), name_en=row.text("name_en"),
            severity=severity, polarity=polarity, modes=modes, description=row.text("description"), **fields,
        ))
    return tuple(out)


def load_event_categories(directory: str | Path | None = None) -> dict[str, EventCategory]:
    """The validated ``event_categories.csv`` of ``directory`` (default: the shipped catalog), keyed by
    category id. Raises :class:`CatalogError` naming file, line and field."""
    folder = Path(directory) if directory is not None else CATALOG_DIR
    themes = frozenset(p.id for p in _load_pages(folder) if p.kind == "theme")
    return {c.category: c for c in _load_categories(folder, themes)}


@functools.lru_cache(maxsize=4)
def event_categories(directory: str | None = None) -> dict[str, EventCategory]:
    """:func:`load_event_categories`, read once per process: the write path (SLA due times), the use
    cases (suggested department) and the console (names, SOP) all read the same shipped file. It is
    reference data that ships with the code, like the message catalog, so it is read at run time rather
    than copied into a table (an edit takes effect on restart)."""
    return load_event_categories(directory)


def _load_categories(folder: Path, themes: frozenset[str]) -> tuple[EventCategory, ...]:
    out: list[EventCategory] = []
    lines: dict[str, int] = {}
    for row in _read_rows(folder, CATEGORIES_FILE, CATEGORY_COLUMNS):
        cid = row.identifier("category")
        row.once("category", cid, lines, f"duplicate category {cid!r}")
        sla = row.number("sla_hours")
        if not 0 < sla <= MAX_SLA_HOURS:
            raise row.error("sla_hours", f"{sla:g} is outside (0, {MAX_SLA_HOURS}] hours")
        sop_zh, sop_en = row.steps("sop_zh"), row.steps("sop_en")
        if len(sop_zh) != len(sop_en):
            raise row.error("sop_en", f"{len(sop_en)} steps, but sop_zh has {len(sop_zh)}: each step needs both languages")
        out.append(EventCategory(
            category=cid, source=row.identifier("source"), name_zh=row.text("name_zh"), name_en=row.text("name_en"),
            theme=row.choice("theme", themes, "theme"), department=row.text("department"), sla_hours=sla,
            sop_zh=sop_zh, sop_en=sop_en,
        ))
    return tuple(out)


def _load_topic_panels(
    folder: Path, pages: tuple[Page, ...], indicators: tuple[Indicator, ...], categories: tuple[EventCategory, ...]
) -> tuple[TopicPanel, ...]:
    topics = frozenset(p.id for p in pages if p.kind == "topic")
    known_indicators = {i.code for i in indicators}
    known_categories = {c.category for c in categories}
    out: list[TopicPanel] = []
    orders: dict[str, int] = {}
    maps: dict[str, int] = {}
    for row in _read_rows(folder, TOPIC_PANELS_FILE, TOPIC_PANEL_COLUMNS):
        topic = row.choice("topic", topics, "topic")
        order = row.integer("order")
        row.once("order", f"{topic}:{order}", orders, f"topic {topic!r} has a second panel with order {order}")
        kind = row.choice("kind", PANEL_KINDS, "panel kind")
        lists = {f: row.words(f) for f in ("indicators", "layers", "categories", "facility_kinds", "metrics")}
        for code in lists["indicators"]:
            if code not in known_indicators:
                raise row.error("indicators", f"unknown indicator {code!r}")
        for layer in lists["layers"]:
            if layer not in LAYER_KEYS:
                raise row.error("layers", f"unknown map layer {layer!r} (expected one of: {', '.join(LAYER_KEYS)})")
        for category in lists["categories"]:
            if known_categories and category not in known_categories:
                raise row.error("categories", f"unknown event category {category!r}")
        for field in PANEL_NEEDS.get(kind, ()):
            if not lists[field]:
                raise row.error(field, f"a {kind} panel needs at least one entry here")
        for field, values in lists.items():
            if values and field not in PANEL_READS[kind]:
                raise row.error(field, f"not used by a {kind} panel (leave it empty)")
        if kind == "map":
            row.once("kind", topic, maps, f"topic {topic!r} has a second map panel")
        out.append(TopicPanel(topic, order, kind, row.text("title_zh"), row.text("title_en") or row.text("title_zh"),
                              **lists))
    return tuple(sorted(out, key=lambda p: (p.topic, p.order)))


def _load_rules(folder: Path, indicators: tuple[Indicator, ...]) -> tuple[Rule, ...]:
    known = {i.code for i in indicators}
    rules: list[Rule] = []
    lines: dict[str, int] = {}
    for row in _read_rows(folder, RULES_FILE, RULE_COLUMNS):
        code = row.text("indicator")
        if code not in known:
            raise row.error("indicator", f"unknown indicator {code!r}")
        row.once("indicator", code, lines, f"duplicate rule for {code!r}")
        measure = row.choice("measure", MEASURES, "measure")
        kind, attribute = row.text("facility_kind"), row.text("attribute")
        sources, categories = row.names("sources"), row.names("categories")
        if measure == "facilities" and not kind:
            raise row.error("facility_kind", "required for measure 'facilities'")
        if measure != "facilities" and (kind or attribute):
            raise row.error("facility_kind" if kind else "attribute", f"only for measure 'facilities', not {measure!r}")
        if attribute and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=[^;]+", attribute):
            raise row.error("attribute", f"{attribute!r} must look like key=value")
        rules.append(Rule(code, measure, sources, categories, kind, attribute))
    return tuple(rules)


def load_demo_profile(
    directory: str | Path | None = None, catalog: Catalog | None = None
) -> dict[str, DemoProfile]:
    """Read ``demo_profile.csv`` and return its rows keyed by indicator code.

    Every indicator of the catalog (loaded from the same ``directory`` unless given) must
    have exactly one profile, and every profile must name a catalog indicator.
    """
    folder = Path(directory) if directory is not None else CATALOG_DIR
    catalog = catalog if catalog is not None else load_catalog(folder)
    profiles: dict[str, DemoProfile] = {}
    lines: dict[str, int] = {}
    for row in _read_rows(folder, DEMO_PROFILE_FILE, DEMO_PROFILE_COLUMNS):
        code = row.text("code")
        row.once("code", code, lines, f"duplicate code {code!r}")
        try:
            indicator = catalog.indicator(code)
        except KeyError:
            raise row.error("code", f"unknown indicator {code!r}") from None
        base = row.number("base")
        if indicator.unit == "%" and not 0 <= base <= 100:
            raise row.error("base", f"{base:g} is outside [0, 100] for a percentage")
        cv = row.number("cv")
        if not 0 <= cv <= 1:
            raise row.error("cv", f"{cv:g} is outside [0, 1]")
        trend = row.number("trend")
        if trend <= -1:
            raise row.error("trend", f"{trend:g} would make values negative (must be > -1)")
        season = row.number("season")
        if not -0.5 <= season <= 0.5:
            raise row.error("season", f"{season:g} is outside [-0.5, 0.5]")
        decimals = row.integer("decimals")
        profiles[code] = DemoProfile(code, base, cv, trend, season, decimals)
    computed = {r.indicator for r in catalog.rules}
    for indicator in catalog.indicators:
        if indicator.code not in profiles and indicator.code not in computed:
            raise CatalogError(
                DEMO_PROFILE_FILE, None, "code", f"no profile for indicator {indicator.code!r}"
            )
    return profiles


def _load_pages(folder: Path) -> tuple[Page, ...]:
    pages: list[Page] = []
    lines: dict[str, int] = {}
    for row in _read_rows(folder, PAGES_FILE, PAGE_COLUMNS):
        page_id = row.identifier("id")
        row.once("id", page_id, lines, f"duplicate id {page_id!r}")
        pages.append(Page(
            id=page_id,
            kind=row.choice("kind", PAGE_KINDS, "kind"),
            name_zh=row.text("name_zh"),
            name_en=row.text("name_en"),
            order=row.integer("order"),
            icon=row.text("icon"),
        ))
    return tuple(pages)


def _load_indicators(folder: Path, pages: tuple[Page, ...]) -> tuple[Indicator, ...]:
    themes = frozenset(p.id for p in pages if p.kind == "theme")
    topics = frozenset(p.id for p in pages if p.kind == "topic")
    indicators: list[Indicator] = []
    lines: dict[str, int] = {}
    for row in _read_rows(folder, INDICATORS_FILE, INDICATOR_COLUMNS):
        code = row.identifier("code")
        row.once("code", code, lines, f"duplicate code {code!r}")
        polarity = row.polarity("polarity")
        warn, alarm = row.thresholds(polarity)
        level = row.integer("level")
        headline = row.flag("headline")
        if headline and level < 1:
            raise row.error("headline", "a headline must exist below the city (level >= 1)")
        indicators.append(Indicator(
            code=code,
            name_zh=row.text("name_zh"),
            name_en=row.text("name_en"),
            theme=row.choice("theme", themes, "theme"),
            topics=row.topic_list("topics", topics),
            unit=row.text("unit"),
            unit_en=row.text("unit_en"),
            aggregation=row.choice("aggregation", AGGREGATIONS, "aggregation"),
            polarity=polarity,
            warn=warn,
            alarm=alarm,
            department=row.text("department"),
            frequency=row.choice("frequency", FREQUENCIES, "frequency"),
            level=level,
            headline=headline,
            description=row.text("description"),
        ))
    return tuple(indicators)


@dataclass(frozen=True)
class _Row:
    """One data row of a catalog file with typed accessors that raise CatalogError."""

    file: str
    line: int
    values: dict[str, str]

    def error(self, field: str | None, message: str) -> CatalogError:
        return CatalogError(self.file, self.line, field, message)

    def once(self, field: str, value: str, seen: dict[str, int], message: str) -> None:
        """Record that ``value`` (of ``field``) stands on this line; a repeat raises ``message`` with the
        line it first stood on."""
        if value in seen:
            raise self.error(field, f"{message} (first on line {seen[value]})")
        seen[value] = self.line

    def text(self, field: str) -> str:
        value = self.values[field]
        if not value and field not in _OPTIONAL[self.file]:
            raise self.error(field, "required value is empty")
        return value

    def identifier(self, field: str) -> str:
        value = self.text(field)
        if not _ID_PATTERN.fullmatch(value):
            raise self.error(field, f"{value!r} must be lowercase letters, digits and '_', "
                                    "starting with a letter")
        return value

    def choice(self, field: str, allowed: frozenset[str], what: str) -> str:
        value = self.text(field)
        if value not in allowed:
            expected = ", ".join(sorted(allowed))
            raise self.error(field, f"unknown {what} {value!r} (expected one of: {expected})")
        return value

    def number(self, field: str) -> float:
        value = self.text(field)
        try:
            number = float(value)
        except ValueError:
            raise self.error(field, f"{value!r} is not a number") from None
        if not math.isfinite(number):
            raise self.error(field, f"{value!r} is not a finite number")
        return number

    def integer(self, field: str) -> int:
        value = self.text(field)
        if not _INT_PATTERN.fullmatch(value) or int(value) < 0:
            raise self.error(field, f"{value!r} is not a non-negative integer")
        return int(value)

    def flag(self, field: str) -> bool:
        value = self.text(field)
        if value not in ("0", "1"):
            raise self.error(field, f"{value!r} must be 0 or 1")
        return value == "1"

    def polarity(self, field: str) -> int:
        value = self.text(field)
        if value not in ("1", "+1", "-1"):
            raise self.error(field, f"{value!r} must be 1 (higher is better) or -1 (lower is better)")
        return int(value)

    def names(self, field: str) -> tuple[str, ...]:
        """A ';'-separated list of identifiers (may be empty)."""
        value = self.text(field)
        if not value:
            return ()
        parts = tuple(p.strip() for p in value.split(";"))
        for part in parts:
            if not _ID_PATTERN.fullmatch(part):
                raise self.error(field, f"{part!r} in {value!r} must be lowercase letters, digits and '_'")
        return parts

    def steps(self, field: str) -> tuple[str, ...]:
        """A '|'-separated checklist of non-empty steps."""
        value = self.text(field)
        parts = tuple(p.strip() for p in value.split("|"))
        for k, part in enumerate(parts, start=1):
            if not part:
                raise self.error(field, f"step {k} of {value!r} is empty")
        return parts

    def words(self, field: str) -> tuple[str, ...]:
        """A space-separated list of identifiers (may be empty; each listed once)."""
        parts = tuple(self.text(field).split())
        for index, part in enumerate(parts):
            if not _ID_PATTERN.fullmatch(part):
                raise self.error(field, f"{part!r} must be lowercase letters, digits and '_', starting with a letter")
            if part in parts[:index]:
                raise self.error(field, f"{part!r} is listed twice")
        return parts

    def topic_list(self, field: str, known: frozenset[str]) -> tuple[str, ...]:
        value = self.text(field)
        if not value:
            return ()
        topics = tuple(part.strip() for part in value.split(";"))
        for index, topic in enumerate(topics):
            if not topic:
                raise self.error(field, f"empty topic in {value!r}")
            if topic not in known:
                expected = ", ".join(sorted(known))
                raise self.error(field, f"unknown topic {topic!r} (expected one of: {expected})")
            if topic in topics[:index]:
                raise self.error(field, f"topic {topic!r} is listed twice")
        return topics

    def thresholds(self, polarity: int) -> tuple[float | None, float | None]:
        if not self.values["warn"] and not self.values["alarm"]:
            return None, None
        for field, other in (("warn", "alarm"), ("alarm", "warn")):
            if not self.values[field]:
                raise self.error(field, f"empty while {other} is set (set both or neither)")
        warn, alarm = self.number("warn"), self.number("alarm")
        if polarity > 0 and alarm > warn:
            raise self.error("alarm", f"alarm {alarm:g} is above warn {warn:g}; "
                                      "with polarity 1 (higher is better) alarm must be <= warn")
        if polarity < 0 and alarm < warn:
            raise self.error("alarm", f"alarm {alarm:g} is below warn {warn:g}; "
                                      "with polarity -1 (lower is better) alarm must be >= warn")
        return warn, alarm


def _read_rows(folder: Path, name: str, columns: tuple[str, ...]) -> list[_Row]:
    """Read ``folder/name``, check its header against ``columns`` and return its data rows."""
    path = folder / name
    if not path.is_file():
        raise CatalogError(name, None, None, f"file not found: {path}")
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        header = [cell.strip() for cell in next(reader, [])]
        _check_header(name, header, columns)
        rows: list[_Row] = []
        next_line = reader.line_num + 1
        for cells in reader:
            line, next_line = next_line, reader.line_num + 1
            if not any(cell.strip() for cell in cells):
                continue
            if len(cells) != len(columns):
                raise CatalogError(name, line, None,
                                   f"{len(cells)} values, expected {len(columns)}")
            rows.append(_Row(name, line, {c: v.strip() for c, v in zip(columns, cells, strict=True)}))
    return rows


def _check_header(name: str, header: list[str], columns: tuple[str, ...]) -> None:
    expected = ", ".join(columns)
    for column in columns:
        if column not in header:
            raise CatalogError(name, 1, column, f"missing column (expected: {expected})")
    for column in header:
        if column not in columns:
            raise CatalogError(name, 1, column, f"unexpected column (expected: {expected})")
    for column in columns:
        if header.count(column) > 1:
            raise CatalogError(name, 1, column, "column appears more than once")
    for position, (found, wanted) in enumerate(zip(header, columns, strict=True), start=1):
        if found != wanted:
            raise CatalogError(name, 1, found,
                               f"column {position} should be '{wanted}' (expected: {expected})")
