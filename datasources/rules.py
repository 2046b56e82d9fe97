"""The rules a user reads off the screen, each in one place: small pure functions used by the repository,
the write layer, the screens, exports and the API alike.

- threshold status of a value, oriented by polarity;
- relative change and whether it is good news (by polarity, not by sign);
- staleness of a value by the indicator's frequency;
- the event lifecycle: open and done states, allowed transitions, on-time and satisfaction;
- composite scores: an indicator's 0–100 points against its thresholds, theme and overall scores, and how
  many points each indicator costs a score (docs/SCORES.md).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Literal

Status = Literal["ok", "warn", "alarm", "none"]
Tone = Literal["good", "bad", "flat"]

# ---------------------------------------------------------------------------------------------- thresholds


def threshold_status(value: float | None, polarity: int, warn: float | None, alarm: float | None) -> Status:
    """Status of ``value`` against its thresholds: 'ok', 'warn', 'alarm' or 'none'.

    With polarity +1 (higher is better) a value below ``warn`` is a warning and below ``alarm`` an alarm;
    with polarity -1 the same holds above them. A value exactly on a threshold is still acceptable.
    'none' when there is no value (None or NaN) or the indicator has no thresholds.
    """
    if value is None or warn is None or alarm is None:
        return "none"
    value = float(value)
    if math.isnan(value):
        return "none"
    if polarity > 0:
        return "alarm" if value < alarm else "warn" if value < warn else "ok"
    return "alarm" if value > alarm else "warn" if value > warn else "ok"


# ---------------------------------------------------------------------------------------------- change


def relative_change(value: float | None, other: float | None) -> float | None:
    """``(value - other) / |other|``; None when either is missing or ``other`` is 0."""
    if value is None or other is None or other == 0:
        return None
    return (value - other) / abs(other)


def change_tone(change: float | None, polarity: int) -> Tone:
    """Whether a change is good news: a rise of a higher-is-better indicator, or a fall of a
    lower-is-better one. No change, or an unknown one, is 'flat'."""
    if change is None or change == 0:
        return "flat"
    return "good" if change * polarity > 0 else "bad"


#: Units of category indicators: their value is a grade (warning level 0-4, fire danger 1-5), so a
#: percentage change means nothing; the screens show the change in grades instead.
CATEGORY_UNITS = frozenset({"级", "level", "grade"})


def is_category(unit: str | None) -> bool:
    """Whether an indicator with this unit is a category (a grade), not a quantity."""
    return (unit or "").strip() in CATEGORY_UNITS


# ---------------------------------------------------------------------------------------------- staleness

# How many months a value may lag the selected period before it counts as stale (a quarterly figure is
# published a month after its quarter, a yearly one up to 14 months after its year).
ALLOWED_LAG_MONTHS = {"realtime": 0, "daily": 0, "monthly": 1, "quarterly": 4, "yearly": 14}


def month_floor(d: date | datetime) -> date:
    """First day of the month of ``d``."""
    return date(d.year, d.month, 1)


def months_between(earlier: date, later: date) -> int:
    """Whole calendar months from ``earlier`` to ``later`` (negative when ``later`` is earlier)."""
    return (later.year - earlier.year) * 12 + later.month - earlier.month


def is_stale(latest: date | None, period: date, frequency: str) -> bool:
    """True when the newest value (of period ``latest``) lags ``period`` by more than the frequency allows,
    or when there is no value at all. Unknown frequencies are treated as monthly."""
    if latest is None:
        return True
    return months_between(latest, period) > ALLOWED_LAG_MONTHS.get(frequency, 1)


# ---------------------------------------------------------------------------------------------- lifecycle

LIFECYCLE = ("reported", "dispatched", "processing", "resolved", "closed")
OPEN_STATUSES = ("reported", "dispatched", "processing")
DONE_STATUSES = ("resolved", "closed")
# The timestamp column each state sets when an event enters it.
STATUS_TIME = {"dispatched": "dispatched_at", "resolved": "resolved_at", "closed": "closed_at"}
# Allowed steps: forward one state at a time, plus reopening a resolved case (退回重办).
TRANSITIONS = {
    "reported": ("dispatched",),
    "dispatched": ("processing",),
    "processing": ("resolved",),
    "resolved": ("closed", "processing"),
    "closed": (),
}
SATISFIED_SCORE = 4  # satisfaction scores are 1–5; 4 and 5 count as satisfied
SEVERE = 2  # severity I and II (1, 2) are severe: they raise an alert while open


def sql_list(values: tuple[str, ...]) -> str:
    """A constant tuple of identifiers (statuses…) as an SQL list literal: ('a', 'b')."""
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


def can_transition(current: str, new: str) -> bool:
    """True when an event may go from status ``current`` to ``new``."""
    return new in TRANSITIONS.get(current, ())


def is_open(status: str) -> bool:
    """True for events not yet resolved."""
    return status in OPEN_STATUSES


def is_on_time(done_at: datetime | None, due_at: datetime | None) -> bool:
    """A case is on time when it was done (resolved, or closed without a resolution time) no later than
    its due time. Cases without a due time are on time once done."""
    if done_at is None:
        return False
    return due_at is None or done_at <= due_at


def is_satisfied(score: int | None) -> bool:
    """True for a rating of SATISFIED_SCORE or better."""
    return score is not None and score >= SATISFIED_SCORE


def share(part: int | float | None, whole: int | float | None) -> float | None:
    """``part / whole`` as a percentage (0–100), None when ``whole`` is 0 or missing."""
    if not whole or part is None:
        return None
    return 100.0 * part / whole


# ---------------------------------------------------------------------------------------------- surges

#: Largest chance that an area's ordinary (Poisson) variation reaches the surge count: with ~300 areas
#: checked every few minutes all year, anything larger would fire on normal days.
SURGE_FALSE_ALARM = 1e-6
#: Days back of the year-ago windows: 52 weeks, so they fall on the same weekday and time of day.
YEAR_AGO_DAYS = 364


def surge_offsets(baseline_weeks: int) -> list[tuple[int, int]]:
    """The windows a surge is measured in, as (group, days back): group 0 is the current window, group 1
    the same window 1..``baseline_weeks`` weeks earlier, group 2 the same weeks a year earlier (52 weeks
    back, ``baseline_weeks`` weeks either side, so a season's rise a year ago is in the baseline)."""
    out = [(0, 0)]
    out += [(1, 7 * k) for k in range(1, baseline_weeks + 1)]
    out += [(2, YEAR_AGO_DAYS + 7 * j) for j in range(-baseline_weeks, baseline_weeks + 1)]
    return out


def surge_baseline(n_recent: int | float, n_year: int | float, baseline_weeks: int) -> float:
    """The events an area usually has in the window: the larger of the mean over the previous
    ``baseline_weeks`` weeks' windows and the mean over the year-ago windows (``2 × weeks + 1`` of them).
    The larger, so that a seasonal peak that came last year is expected this year too. At least one event
    spread over all the baseline windows: an area without history is not certain to stay at zero."""
    windows = 3 * baseline_weeks + 1
    return max(n_recent / baseline_weeks, n_year / (2 * baseline_weeks + 1), 1 / windows)


def poisson_surge_count(mean: float, p: float = SURGE_FALSE_ALARM) -> int:
    """The smallest count k with P(X >= k) <= ``p`` for X ~ Poisson(``mean``): rarer than that is not
    ordinary variation. Summed in log space (no overflow for large means)."""
    if mean <= 0:
        return 1
    cdf, k = 0.0, 0
    while True:
        cdf += math.exp(k * math.log(mean) - mean - math.lgamma(k + 1))
        k += 1
        if 1.0 - cdf <= p:
            return k


def surge_threshold(baseline: float, factor: float, min_count: int) -> float:
    """The count at or above which a window is a surge: at least ``min_count``, ``factor`` times the
    baseline, and a count the baseline reaches by chance at most ``SURGE_FALSE_ALARM`` of the time."""
    return float(max(min_count, factor * baseline, poisson_surge_count(baseline)))


def is_surge(count: int, baseline: float, factor: float, min_count: int) -> bool:
    """True when ``count`` events in the window are a surge against ``baseline`` (see ``surge_threshold``)."""
    return count >= surge_threshold(baseline, factor, min_count)


def reading_severity(status: Status, severity: int) -> int | None:
    """Severity of a reading alert: the rule's own beyond alarm, one grade lower (at most IV) beyond warn,
    None when the reading is within limits (or missing)."""
    if status == "alarm":
        return severity
    if status == "warn":
        return min(4, severity + 1)
    return None


# ---------------------------------------------------------------------------------------------- composite scores

#: The points curve of an indicator (docs/SCORES.md): (distance from the warn threshold in bands, points),
#: piecewise linear between the knots and flat outside them. A band is ``|warn - alarm|``; the distance is
#: positive on the good side. So a value on the warn threshold gets 80, one on the alarm threshold 50, one a
#: band better than warn full marks and one a band beyond alarm nothing: points >= 80 is 'ok', 50 <= points
#: < 80 'warn' and points < 50 'alarm', exactly as ``threshold_status`` says.
SCORE_KNOTS: tuple[tuple[float, float], ...] = ((-2.0, 0.0), (-1.0, 50.0), (0.0, 80.0), (1.0, 100.0))
SCORE_MAX = 100.0


def threshold_distance(value: float | None, polarity: int, warn: float | None, alarm: float | None) -> float | None:
    """How many bands (``|warn - alarm|``) ``value`` lies on the good side of ``warn``: 0 on the warn threshold,
    -1 on the alarm threshold, positive when better than warn. None without a value, without thresholds or
    when the two thresholds are equal (no band to measure in)."""
    if value is None or warn is None or alarm is None or warn == alarm:
        return None
    value = float(value)
    if math.isnan(value):
        return None
    sign = -1 if polarity < 0 else 1
    return (value - warn) * sign / abs(warn - alarm)


def points_at(distance: float) -> float:
    """Points at a distance from warn (in bands) on the ``SCORE_KNOTS`` curve."""
    (d0, p0), (dn, pn) = SCORE_KNOTS[0], SCORE_KNOTS[-1]
    if distance <= d0:
        return p0
    if distance >= dn:
        return pn
    for (da, pa), (db, pb) in zip(SCORE_KNOTS, SCORE_KNOTS[1:], strict=False):
        if distance <= db:
            return pa + (pb - pa) * (distance - da) / (db - da)
    return pn  # pragma: no cover - the loop always returns


def indicator_points(value: float | None, polarity: int, warn: float | None, alarm: float | None) -> float | None:
    """An indicator's 0–100 points for ``value`` against its thresholds (see ``SCORE_KNOTS``). Equal
    thresholds have no band: full marks when the value is not worse than them, none when it is. None when
    there is no value or no thresholds: the indicator does not count (neither as 0 nor as 100)."""
    if value is None or warn is None or alarm is None or math.isnan(float(value)):
        return None
    if warn == alarm:
        return SCORE_MAX if (float(value) - warn) * (-1 if polarity < 0 else 1) >= 0 else 0.0
    return points_at(threshold_distance(value, polarity, warn, alarm))


def mean_score(points: Iterable[float | None]) -> float | None:
    """The plain mean of the points that exist (missing ones do not count); None when none exists."""
    have = [p for p in points if p is not None]
    return sum(have) / len(have) if have else None


def composite_scores(points_by_theme: Mapping[str, Iterable[float | None]]) -> dict[str, float | None]:
    """Theme scores (the mean of each theme's indicator points) and ``'overall'`` (the mean of the theme
    scores that exist: every theme weighs the same, however many indicators it has)."""
    themes = {theme: mean_score(points) for theme, points in points_by_theme.items()}
    return themes | {"overall": mean_score(themes.values())}


def points_lost(points: float, n_in_theme: int, n_themes: int = 1) -> float:
    """The points one indicator takes off a score: its shortfall from 100 shared by the ``n_in_theme``
    indicators with data in its theme (and, for the overall score, by the ``n_themes`` themes with a score).
    The losses of all indicators add up to ``100 - score``."""
    return (SCORE_MAX - points) / n_in_theme / n_themes


#: The score at which a value's status turns from 'ok' to 'warn' (points on the warn threshold) and from
#: 'warn' to 'alarm' (points on the alarm threshold): the same bands for a composite score.
SCORE_OK = points_at(0.0)
SCORE_ALARM = points_at(-1.0)


def score_status(score: float | None) -> Status:
    """Status of a 0–100 score in the bands of its indicators' points: 'ok' from ``SCORE_OK``, 'warn' from
    ``SCORE_ALARM``, 'alarm' below, 'none' without a score."""
    if score is None:
        return "none"
    return "ok" if score >= SCORE_OK else "warn" if score >= SCORE_ALARM else "alarm"
# --- kiosk (video wall): how much an open alert of each grade counts when ranking areas for attention.
#: Grade I (1, 特别重大) counts twice grade II, and so on: one grade-I alert outweighs three grade-III ones.
ALERT_WEIGHTS = {1: 8, 2: 4, 3: 2, 4: 1}
