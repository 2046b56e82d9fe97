"""The rules a user reads off the screen, checked against hand-computed numbers (datasources/rules.py)."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from datasources import rules
from datasources.rules import (
    can_transition,
    change_tone,
    is_on_time,
    is_open,
    is_satisfied,
    is_stale,
    month_floor,
    months_between,
    relative_change,
    share,
    threshold_status,
)

# ---------------------------------------------------------------------------------------------- thresholds


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (120.0, "ok"),  # well above warn 100
        (100.0, "ok"),  # exactly on warn: still acceptable
        (99.9, "warn"),  # just below warn
        (50.0, "warn"),  # exactly on alarm: a warning, not an alarm
        (49.9, "alarm"),  # below alarm
        (-5.0, "alarm"),
    ],
)
def test_threshold_status_of_higher_is_better_indicator_falls_as_value_falls(value, expected):
    assert threshold_status(value, 1, 100.0, 50.0) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (20.0, "ok"),  # PM2.5 below warn 35
        (35.0, "ok"),  # exactly on warn
        (35.1, "warn"),
        (75.0, "warn"),  # exactly on alarm
        (75.1, "alarm"),
        (300.0, "alarm"),
    ],
)
def test_threshold_status_of_lower_is_better_indicator_rises_as_value_rises(value, expected):
    assert threshold_status(value, -1, 35.0, 75.0) == expected


def test_threshold_status_is_none_without_value_or_thresholds():
    assert threshold_status(None, 1, 100.0, 50.0) == "none"
    assert threshold_status(float("nan"), 1, 100.0, 50.0) == "none"
    assert threshold_status(float("nan"), -1, 35.0, 75.0) == "none"
    assert threshold_status(10.0, 1, None, 50.0) == "none"
    assert threshold_status(10.0, 1, 100.0, None) == "none"
    assert threshold_status(10.0, -1, None, None) == "none"


def test_threshold_status_accepts_integers_and_numeric_strings_from_the_database():
    assert threshold_status(60, 1, 100, 50) == "warn"
    assert threshold_status("80", -1, 35, 75) == "alarm"  # float("80") > 75


# ---------------------------------------------------------------------------------------------- change


def test_relative_change_is_difference_over_absolute_base():
    assert relative_change(120.0, 100.0) == pytest.approx(0.2)  # (120 - 100) / 100
    assert relative_change(120.0, 150.0) == pytest.approx(-0.2)  # (120 - 150) / 150
    assert relative_change(55.0, 35.0) == pytest.approx(20 / 35)  # 0.5714…
    # A negative base: -5 against -10 is a rise of 5 on a base of |-10| = 10.
    assert relative_change(-5.0, -10.0) == pytest.approx(0.5)
    assert relative_change(-15.0, -10.0) == pytest.approx(-0.5)
    assert relative_change(0.0, 4.0) == pytest.approx(-1.0)


def test_relative_change_is_undefined_without_a_base():
    assert relative_change(5.0, 0) is None
    assert relative_change(5.0, 0.0) is None
    assert relative_change(None, 10.0) is None
    assert relative_change(10.0, None) is None


@pytest.mark.parametrize(
    ("change", "polarity", "tone"),
    [
        (0.2, 1, "good"),  # retail sales up
        (-0.2, 1, "bad"),  # retail sales down
        (0.57, -1, "bad"),  # PM2.5 up
        (-0.25, -1, "good"),  # PM2.5 down
        (1e-9, 1, "good"),
        (-1e-9, -1, "good"),
        (0.0, 1, "flat"),
        (0.0, -1, "flat"),
        (None, 1, "flat"),
        (None, -1, "flat"),
    ],
)
def test_change_tone_follows_polarity_not_sign(change, polarity, tone):
    assert change_tone(change, polarity) == tone


# ---------------------------------------------------------------------------------------------- staleness


def test_month_floor_and_months_between_count_calendar_months():
    assert month_floor(date(2026, 10, 31)) == date(2026, 10, 1)
    assert month_floor(datetime(2026, 2, 28, 23, 59)) == date(2026, 2, 1)
    assert months_between(date(2026, 10, 1), date(2026, 10, 31)) == 0
    assert months_between(date(2026, 9, 30), date(2026, 10, 1)) == 1  # one calendar month, one day apart
    assert months_between(date(2025, 1, 1), date(2026, 10, 1)) == 21  # 12 * 1 + 10 - 1
    assert months_between(date(2025, 12, 1), date(2026, 1, 1)) == 1  # across the year end
    assert months_between(date(2026, 10, 1), date(2025, 12, 1)) == -10  # later is earlier: negative


@pytest.mark.parametrize(
    ("latest", "period", "frequency", "stale"),
    [
        (date(2026, 10, 1), date(2026, 10, 1), "realtime", False),
        (date(2026, 9, 1), date(2026, 10, 1), "realtime", True),  # lag 1 > 0
        (date(2026, 10, 1), date(2026, 10, 1), "daily", False),
        (date(2026, 9, 1), date(2026, 10, 1), "daily", True),
        (date(2026, 9, 1), date(2026, 10, 1), "monthly", False),  # lag 1 = allowed 1
        (date(2026, 8, 1), date(2026, 10, 1), "monthly", True),  # lag 2 > 1
        (date(2026, 6, 1), date(2026, 10, 1), "quarterly", False),  # lag 4 = allowed 4
        (date(2026, 5, 1), date(2026, 10, 1), "quarterly", True),  # lag 5
        (date(2025, 8, 1), date(2026, 10, 1), "yearly", False),  # lag 14 = allowed 14
        (date(2025, 7, 1), date(2026, 10, 1), "yearly", True),  # lag 15
        (date(2026, 9, 1), date(2026, 10, 1), "fortnightly", False),  # unknown: monthly, lag 1
        (date(2026, 8, 1), date(2026, 10, 1), "fortnightly", True),  # unknown: monthly, lag 2
        (date(2026, 11, 1), date(2026, 10, 1), "realtime", False),  # a value newer than the period
        (None, date(2026, 10, 1), "monthly", True),  # no value at all
    ],
)
def test_staleness_allows_the_lag_of_the_indicators_frequency(latest, period, frequency, stale):
    assert is_stale(latest, period, frequency) is stale


def test_allowed_lags_by_frequency():
    assert rules.ALLOWED_LAG_MONTHS == {"realtime": 0, "daily": 0, "monthly": 1, "quarterly": 4, "yearly": 14}


# ---------------------------------------------------------------------------------------------- lifecycle


@pytest.mark.parametrize(
    ("current", "new", "allowed"),
    [
        ("reported", "dispatched", True),
        ("dispatched", "processing", True),
        ("processing", "resolved", True),
        ("resolved", "closed", True),
        ("resolved", "processing", True),  # reopened (退回重办)
        ("reported", "processing", False),  # no skipping
        ("reported", "closed", False),
        ("dispatched", "reported", False),  # no going back
        ("processing", "closed", False),
        ("closed", "processing", False),  # closed is final
        ("closed", "closed", False),
        ("unknown", "dispatched", False),
    ],
)
def test_lifecycle_moves_forward_one_step_or_reopens_a_resolved_case(current, new, allowed):
    assert can_transition(current, new) is allowed


def test_lifecycle_states_and_their_timestamps():
    assert rules.LIFECYCLE == ("reported", "dispatched", "processing", "resolved", "closed")
    assert rules.OPEN_STATUSES == ("reported", "dispatched", "processing")
    assert rules.DONE_STATUSES == ("resolved", "closed")
    assert rules.STATUS_TIME == {"dispatched": "dispatched_at", "resolved": "resolved_at", "closed": "closed_at"}
    assert rules.TRANSITIONS["closed"] == ()
    assert rules.SATISFIED_SCORE == 4 and rules.SEVERE == 2
    assert [s for s in rules.LIFECYCLE if is_open(s)] == ["reported", "dispatched", "processing"]
    assert not is_open("resolved") and not is_open("closed") and not is_open("")


def test_on_time_means_done_no_later_than_due():
    due = datetime(2026, 10, 4, 18, 0)
    assert is_on_time(datetime(2026, 10, 3, 9, 0), due)
    assert is_on_time(due, due)  # exactly at the due time
    assert not is_on_time(datetime(2026, 10, 4, 18, 0, 1), due)  # one second late
    assert is_on_time(datetime(2026, 10, 9), None)  # no SLA: on time once done
    assert not is_on_time(None, due)  # not done yet
    assert not is_on_time(None, None)


def test_satisfied_means_four_or_five_stars():
    assert [is_satisfied(s) for s in (1, 2, 3, 4, 5)] == [False, False, False, True, True]
    assert not is_satisfied(None)


def test_share_is_a_percentage_of_the_whole():
    assert share(6, 10) == pytest.approx(60.0)  # 100 * 6 / 10
    assert share(3, 4) == pytest.approx(75.0)
    assert share(1, 3) == pytest.approx(33.333333)
    assert share(0, 10) == 0.0  # none of a known whole is 0 %, not unknown
    assert share(5, 0) is None
    assert share(5, None) is None
    assert share(None, 10) is None
