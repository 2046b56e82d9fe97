"""Every component id of the app, in one place."""

URL = "url"
ROOT = "ioc-root"
TITLE = "header-title"
DEMO_BADGE = "demo-badge"
CLOCK = "header-clock"
CLOCK_TICK = "clock-tick"
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
    """Pattern-matching id of one part of a KPI card: card, value, change, yoy, spark, fresh."""
    return {"type": f"kpi-{part}", "code": code}


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
