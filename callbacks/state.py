"""The view state that lives in the URL (``?area=…&indicator=…&period=…&mode=…&lang=…``)."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date
from urllib.parse import parse_qs, urlencode

MODES = ("daily", "flood", "holiday", "epidemic", "emergency")


@dataclass(frozen=True)
class ViewState:
    """One bookmarkable view. Empty strings mean 'the default'."""

    area: str = ""
    indicator: str = ""
    period: str = ""  # YYYY-MM
    mode: str = "daily"
    lang: str = "zh"

    def with_(self, **changes: str) -> ViewState:
        """A copy with some fields replaced."""
        return replace(self, **changes)

    def period_date(self) -> date | None:
        """The period as the first day of its month, or None when unset or malformed."""
        try:
            y, m = self.period.split("-")[:2]
            return date(int(y), int(m), 1)
        except ValueError:
            return None


def parse_search(search: str | None) -> ViewState:
    """Read a view state from a URL query string; unknown or malformed parameters fall back to defaults."""
    q = {k: v[-1] for k, v in parse_qs((search or "").lstrip("?")).items()}
    mode = q.get("mode", "daily")
    lang = q.get("lang", "zh")
    period = q.get("period", "")
    return ViewState(
        area=q.get("area", ""),
        indicator=q.get("indicator", ""),
        period=period if re.fullmatch(r"\d{4}-\d{2}", period) else "",
        mode=mode if mode in MODES else "daily",
        lang=lang if lang in ("zh", "en") else "zh",
    )


def to_search(state: ViewState) -> str:
    """The query string of a view state (defaults left out, stable order)."""
    parts = {"area": state.area, "indicator": state.indicator, "period": state.period}
    if state.mode != "daily":
        parts["mode"] = state.mode
    if state.lang != "zh":
        parts["lang"] = state.lang
    return "?" + urlencode({k: v for k, v in parts.items() if v})
