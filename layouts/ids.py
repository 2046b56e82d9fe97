"""Every component id of the app, in one place."""

URL = "url"
ROOT = "ioc-root"
TITLE = "header-title"
DEMO_BADGE = "demo-badge"
CLOCK = "header-clock"
KPI_DATA = "kpi-data"  # the cockpit's KPI texts in one compact answer, spread over the cards in the browser
CLOCK_TICK = "clock-tick"  # the duty console's second timer (its countdowns); the header clock is assets/clock.js
MODE = "header-mode"
MODE_SELECT = "mode-select"
HEADER = "ioc-header"
AS_OF = "header-as-of"
ALERT_COUNT = "header-alert-count"
LANG_TOGGLE = "lang-toggle"
USER_NAME = "user-name"
EXPORT_KPIS = "export-kpis"
BREADCRUMB = "breadcrumb"
AREA_TITLE = "area-title"
MAP = "map"
MAP_SIZE = "map-size"
VIEW_SENT = "view-sent"  # hashes of the parts of the view the browser holds
INDICATOR_SELECT = "indicator-select"
PERIOD_SELECT = "period-select"
LAYERS = "layer-toggle"
EVENT_STATS = "event-stats"
TICKER = "ticker"
TICKER_PINNED = "ticker-pinned"
TICKER_SENT = "ticker-sent"
REFRESH = "refresh-interval"
DATA_VERSION = "data-version"
PAGE = "page-content"
PAGE_KEY = "page-key"
NAV = "page-nav"
VIEW_LANG = "view-lang"  # the language of the labels on screen: they are sent only when it changes
NAV_PICK = "nav-pick"  # a selector's value picked by the user (not the one the cockpit wrote): navigates


def kpi(part: str, code: str) -> dict:
    """Pattern-matching id of one part of a KPI card: card, value, change, yoy, spark, fresh.

    The part is also a key of its own: Dash's renderer keeps the paths of pattern-matching ids in one list
    per set of keys and finds an id by a linear deep-equality search, so 28 cards x 10 parts under one key
    set made every lookup (several hundred per drill) scan up to 280 entries; now each part's list has 28."""
    return {"type": f"kpi-{part}", "code": code, part: 0}


def nav(page: str) -> str:
    """Id of the header link to a page."""
    return f"nav-{page}"


def theme_panel(theme: str) -> dict:
    """Pattern-matching id of a theme's KPI panel on the cockpit (the mode orders them)."""
    return {"type": "theme-panel", "theme": theme}


def label(key: str) -> dict:
    """Pattern-matching id of a static text that follows the language switch."""
    return {"type": "label", "key": key}


# Duty console (/console)
CONSOLE_STATUS = "console-status"
CONSOLE_SEVERITY = "console-severity"
CONSOLE_CATEGORY = "console-category"
CONSOLE_SOURCE = "console-source"
CONSOLE_OVERDUE = "console-overdue"
CONSOLE_COUNT = "console-count"
CONSOLE_LIST = "console-list"
CONSOLE_ALERTS = "console-alerts"
CONSOLE_SENT = "console-sent"  # hashes of the list parts the browser holds
CONSOLE_MAP = "console-geo"  # not "…map": tests find the cockpit map callback by "map.figure"
CONSOLE_ITEMS = "console-items"  # {now: server time in ms, points: {id: [lon, lat]}}
CONSOLE_SELECTED = "console-selected"  # the selected event id
CONSOLE_DETAIL = "console-detail"
CONSOLE_DEPARTMENT = "console-department"
CONSOLE_NOTE = "console-note"
CONSOLE_FEEDBACK = "console-feedback"
CONSOLE_TICK = "console-tick"  # output of the client-side countdown (nothing reads it)
CONSOLE_FLY = "console-fly"  # output of the client-side fly-to (nothing reads it)


def console_item(event_id: int) -> dict:
    """Pattern-matching id of one event row of the duty console's list."""
    return {"type": "console-item", "id": event_id}


def console_alert_step(step: str, alert_id: int, locked: bool = False) -> dict:
    """Pattern-matching id of an alert's acknowledge / clear button on the duty console (``locked`` for
    callers who may not act: another type, so the permission-checked callback never fires for them)."""
    return {"type": "console-alert-step-locked" if locked else "console-alert-step", "step": step, "alert": alert_id}


def console_step(status: str, event_id: int, locked: bool = False) -> dict:
    """Pattern-matching id of a lifecycle button (dispatched, processing, …) for one event. A caller who may
    not dispatch gets ``locked`` buttons: another type, so the step callback (which needs the permission)
    is never triggered by them."""
    return {"type": "console-step-locked" if locked else "console-step", "status": status, "event": event_id}

# Degradation (callbacks/degrade.py): the data status the server sets and the banner that shows it.
DATA_STATUS = "data-status"  # {"ok": bool, "since": epoch ms of the last good update or None}
DEGRADED_BANNER = "degraded-banner"
DEGRADED_ROOT = "degraded-root"  # the shell served while the database is down (no id any page callback writes)
DEGRADED_RETRY = "degraded-retry"  # its timer: asks the server whether the data can be read again


# Analyst workbench (/analyst)
ANALYST_ERROR = "analyst-error"
# The analyst page writes its URL through a Location of its own: a callback writing the shell's URL with
# analyst inputs would run on every page (its output exists everywhere) and fail for the missing inputs.
# Locations follow each other's history pushes, so the shell's URL (and every reader of it) follows.
ANALYST_URL = "analyst-url"
ANALYST_AREAS = "analyst-areas"
ANALYST_FROM = "analyst-from"
ANALYST_TO = "analyst-to"
ANALYST_GRAN = "analyst-gran"
ANALYST_THEME = "analyst-theme"
ANALYST_INDICATORS = "analyst-indicators"
ANALYST_SOURCES = "analyst-sources"
ANALYST_CATEGORIES = "analyst-categories"
ANALYST_STATUSES = "analyst-statuses"
ANALYST_SEVERITIES = "analyst-severities"
ANALYST_COMPARE = "analyst-compare"
ANALYST_CMP_FROM = "analyst-cmp-from"
ANALYST_CMP_TO = "analyst-cmp-to"
ANALYST_MAP = "analyst-geo"  # not "…map": tests find the cockpit map callback by "map.figure"
ANALYST_WINDOW = "analyst-window"  # the resolved period, printed under the filters
ANALYST_RANKING_TABLE = "analyst-ranking-table"
ANALYST_DRILL = "analyst-drill"  # store: what a click drilled into ({panel, area, category, month…})
ANALYST_DRILL_TEXT = "analyst-drill-text"
ANALYST_DRILL_CLEAR = "analyst-drill-clear"
ANALYST_RECORDS_KIND = "analyst-records-kind"
ANALYST_RECORDS = "analyst-records"
ANALYST_RECORDS_TOTAL = "analyst-records-total"
#: Where the export buttons of a panel go (``layouts/export_controls.py`` fills it).
EXPORT_SLOT = "export-slot"


def analyst_graph(panel: str) -> str:
    """Id of an analyst panel's chart."""
    return f"analyst-graph-{panel}"


def export_slot(panel: str) -> dict:
    """Pattern-matching id of the place for a panel's export buttons."""
    return {"type": EXPORT_SLOT, "panel": panel}


# Export controls of an analyst panel (pattern-matching ids: {"type": …, "panel": <panel id>, …}).
EXPORT_LINK = "export-link"  # + "fmt": png | svg (plain download links)
EXPORT_START = "export-start"  # + "kind": csv | xlsx | zip (buttons that start an export job)
EXPORT_JOB = "export-job"  # Store: the running job's id
EXPORT_POLL = "export-poll"  # Interval polling the job's progress
EXPORT_PROGRESS = "export-progress"  # <progress> bar
EXPORT_STATUS = "export-status"  # progress / ready / failed text
EXPORT_FILE = "export-file"  # link to the finished file (clicked for the user when it appears)
EXPORT_CLICKED = "export-clicked"  # Store: the file link last clicked for the user


# Leader's view (issue 11 item 6): legend, alert panel, sub-area breaches on the KPI cards, layers in the URL
MAP_LEGEND = "map-legend"
# Pattern-matching ids: the panel's callback also feeds the KPI cards' badges on pages without the panel.
ALERT_PANEL = {"type": "alert-panel", "n": 0}
ALERT_PANEL_SENT = {"type": "alert-panel-sent", "n": 0}  # hashes of the alert panel and badges the browser holds
LAYERS_DEFAULT = "layers-default"  # the layers shown when the URL names none (the mode's)
LAYERS_SYNC = "layers-sync"  # output of the picker -> URL write (nothing reads it)


def legend_item(layer: str) -> dict:
    """Pattern-matching id of one layer's entry in the cockpit's map legend."""
    return {"type": "legend-item", "layer": layer}
# Theme and topic pages (pages): the header's page menu, the pages' panels
PAGE_MENU = "page-menu"
PAGE_MENU_NAMES = "page-menu-names"
PAGE_MAP = "page-map"  # the map of a theme or topic page (one per page; not MAP: the cockpit's callback writes that)
PAGE_MAP_SIZE = "page-map-size"
PAGE_PERIOD = "page-period"
PAGE_CRUMB = "page-breadcrumb"
PAGE_AREA = "page-area-title"
PAGE_TITLE = "page-title"


def menu_link(kind: str, page: str) -> dict:
    """Pattern-matching id of a link in the header's page menu."""
    return {"type": "menu-link", "kind": kind, "page": page}


def menu_text(page: str) -> dict:
    """Pattern-matching id of the name of a page in the header's menu (follows the language switch)."""
    return {"type": "menu-text", "page": page}


def panel(part: str, idx: int) -> dict:
    """Pattern-matching id of a part of the ``idx``-th panel of a theme or topic page: body, pick."""
    return {"type": f"panel-{part}", "idx": idx}
# Kiosk mode (?kiosk=1, callbacks/kiosk.py): the wall's own parts, present only on a kiosk page.
KIOSK_WALL = "kiosk-wall"  # the wrapper around the shell (its class hides the controls)
KIOSK_URL = "kiosk-url"  # a Location of its own (refresh="callback-nav"): the shell's URL follows its pushes
KIOSK_TICK = "kiosk-tick"  # the rotation's clock (client side)
KIOSK_POLL = "kiosk-poll"  # asks the server for the playlist and the newest severe alert
KIOSK_FEED = "kiosk-feed"  # {version, steps, severe, hold_ms}
KIOSK_STATE = "kiosk-state"  # {i, at, hold, seen} in sessionStorage: the rotation survives a reload
KIOSK_HEALTH_TICK = "kiosk-health-tick"
KIOSK_LINK = "kiosk-link"  # {lost, since}: is the server there
KIOSK_BADGE = "kiosk-badge"  # "reconnecting"
KIOSK_STATUS = "kiosk-status"  # where the rotation is (3 / 9)
KIOSK_ALERT = "kiosk-alert"  # the severe alert the wall holds on
