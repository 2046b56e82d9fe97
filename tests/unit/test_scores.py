"""Composite scores (docs/SCORES.md): the points rule, the scores SQL and the explanation, against numbers
worked out by hand from the hand-made city (tests/numbers_fixture.py), on SQLite and on PostgreSQL.

The rule: an indicator with thresholds gets points from its distance d to the warn threshold, in bands of
|warn - alarm| (d > 0 on the good side): 0 at d <= -2, 50 at d = -1, 80 at d = 0, 100 at d >= 1, linear in
between. A theme's score is the mean of its indicators' points, the overall score the mean of the themes.

Hand computation, period 2026-10 (values and roll-ups as in tests/unit/test_repository_numbers.py):

    indicator  theme           pol warn alarm band | d = (v - warn) * pol / band
    eco_sum    economy         +1  100  50    50
    env_pm25   environment     -1  35   75    40
    gov_last   governance      +1  60   40    20   (quarterly: the 2026-07 value still counts in 2026-10)
    svc_wmean  public_service  +1  90   80    10
    (emergency has no indicator with thresholds: no emergency score)

    area  eco_sum        env_pm25          gov_last      svc_wmean      overall = mean of the four
    TA    90  d-0.2  74  30  d+0.125 82.5  62 d+0.1  82  83 d-0.7  59   (74+82.5+82+59)/4    = 74.375
    TB    30  d-1.4  30  80  d-1.125 43.75 20 d-2    0   75 d-1.5  25   (30+43.75+0+25)/4    = 24.6875
    city  120 d+0.4  88  55  d-0.5   65    20 d-2    0   81 d-0.9  53   (88+65+0+53)/4       = 51.5
    A1    25  d-1.5  25  20  d+0.375 87.5  62 d+0.1  82  90 d 0    80   (25+87.5+82+80)/4    = 68.625
    A2    30  d-1.4  30  30  d+0.125 82.5  58 d-0.1  77  84 d-0.6  62   (30+82.5+77+62)/4    = 62.875
    A3    35  d-1.3  35  40  d-0.125 76.25 66 d+0.3  86  80 d-1    50   (35+76.25+86+50)/4   = 61.8125

Points lost to the overall score: (100 - points) / 1 indicator in its theme / 4 themes, e.g. the city's
gov_last (100 - 0) / 4 = 25, svc_wmean 47 / 4 = 11.75, env_pm25 35 / 4 = 8.75, eco_sum 12 / 4 = 3; they add
up to 48.5 = 100 - 51.5.
"""

from __future__ import annotations

from datetime import date

import pytest

from datasources import db
from datasources.repository import Repository, ScopeError
from datasources.rules import (
    SCORE_ALARM,
    SCORE_OK,
    composite_scores,
    indicator_points,
    mean_score,
    points_lost,
    score_status,
    threshold_distance,
    threshold_status,
)
from tests.numbers_fixture import A1, A2, A3, B1, B2, CITY, TA, TB

OCT, SEP, NOV, DEC = date(2026, 10, 1), date(2026, 9, 1), date(2026, 11, 1), date(2026, 12, 1)
THEMES = ("economy", "environment", "governance", "public_service")
_ENGINES: dict[str, object] = {}


@pytest.fixture
def repo(numbers_url) -> Repository:
    if numbers_url not in _ENGINES:
        _ENGINES[numbers_url] = db.make_engine(numbers_url)
    return Repository(_ENGINES[numbers_url])


# ---------------------------------------------------------------------------------------------- the rule


@pytest.mark.parametrize(("value", "polarity", "warn", "alarm", "points"), [
    (100, 1, 100, 50, 80.0),  # on warn: 80
    (50, 1, 100, 50, 50.0),  # on alarm: 50
    (150, 1, 100, 50, 100.0),  # a band better than warn: full marks
    (400, 1, 100, 50, 100.0),  # and no more
    (0, 1, 100, 50, 0.0),  # a band beyond alarm: nothing
    (-70, 1, 100, 50, 0.0),  # and no less
    (90, 1, 100, 50, 74.0),  # d -0.2: 80 - 30 * 0.2
    (30, 1, 100, 50, 30.0),  # d -1.4: 50 - 50 * 0.4
    (120, 1, 100, 50, 88.0),  # d +0.4: 80 + 20 * 0.4
    (30, -1, 35, 75, 82.5),  # lower is better: d = (35 - 30) / 40 = +0.125
    (80, -1, 35, 75, 43.75),  # d = (35 - 80) / 40 = -1.125
    (75, -1, 35, 75, 50.0),
    (0, -1, 35, 75, 97.5),  # d = 35 / 40 = +0.875: 80 + 20 * 0.875
    (-5, -1, 35, 75, 100.0),  # d = +1
    # the examples of docs/SCORES.md
    *[(v, 1, 95, 90, p) for v, p in ((100, 100), (97, 88), (95, 80), (93, 68), (90, 50), (87, 20), (85, 0), (80, 0))],
    *[(v, -1, 75, 115, p) for v, p in ((35, 100), (55, 90), (75, 80), (95, 65), (115, 50), (155, 0), (200, 0))],
])
def test_points_follow_the_distance_to_the_thresholds(value, polarity, warn, alarm, points):
    assert indicator_points(value, polarity, warn, alarm) == pytest.approx(points)


def test_points_without_a_value_or_thresholds_do_not_exist():
    assert indicator_points(None, 1, 100, 50) is None
    assert indicator_points(float("nan"), 1, 100, 50) is None
    assert indicator_points(3, 1, None, 50) is None
    assert indicator_points(3, 1, 100, None) is None
    assert threshold_distance(3, 1, 5, 5) is None  # no band to measure in


def test_equal_thresholds_give_all_or_nothing():
    assert indicator_points(5, 1, 5, 5) == 100.0 and indicator_points(4.99, 1, 5, 5) == 0.0
    assert indicator_points(5, -1, 5, 5) == 100.0 and indicator_points(5.01, -1, 5, 5) == 0.0


def test_points_bands_are_the_threshold_statuses():
    """ok <=> points >= 80, warn <=> 50 <= points < 80, alarm <=> points < 50, for both polarities."""
    assert (SCORE_OK, SCORE_ALARM) == (80.0, 50.0)
    for polarity, warn, alarm in ((1, 95, 90), (-1, 4, 8), (1, 1.0, 0.3)):
        lo, hi = min(warn, alarm) - 3 * abs(warn - alarm), max(warn, alarm) + 3 * abs(warn - alarm)
        for k in range(241):
            v = lo + (hi - lo) * k / 240
            assert score_status(indicator_points(v, polarity, warn, alarm)) == threshold_status(v, polarity, warn, alarm), v


def test_composite_scores_weigh_themes_equally_and_skip_what_is_missing():
    got = composite_scores({"economy": [100, 50, None], "governance": [40], "emergency": [None]})
    assert got == {"economy": 75.0, "governance": 40.0, "emergency": None, "overall": 57.5}  # (75 + 40) / 2
    assert composite_scores({}) == {"overall": None}
    assert mean_score([]) is None


def test_points_lost_add_up_to_the_shortfall():
    # economy [100, 50] -> 75, governance [40] -> 40; overall 57.5: losses 0, 50/2/2 = 12.5, 60/1/2 = 30
    assert points_lost(100, 2, 2) == 0 and points_lost(50, 2, 2) == 12.5 and points_lost(40, 1, 2) == 30
    assert 12.5 + 30 == 100 - 57.5
    assert points_lost(50, 2) == 25  # in the economy score alone: 100 - 75 = 25


def test_score_status_bands():
    assert [score_status(s) for s in (None, 100, 80, 79.99, 50, 49.99, 0)] == ["none", "ok", "ok", "warn", "warn", "alarm", "alarm"]


# ---------------------------------------------------------------------------------------------- the SQL


def _scores(rows: list[dict]) -> dict[str, dict[str, float | None]]:
    return {r["code"]: r["scores"] for r in rows}


def test_scores_of_the_townships_in_one_query(repo):
    got = _scores(repo.child_scores(CITY, OCT))
    assert list(got) == [TA, TB]
    assert got[TA] == pytest.approx({"economy": 74.0, "environment": 82.5, "governance": 82.0, "public_service": 59.0,
                                     "overall": 74.375})
    assert got[TB] == pytest.approx({"economy": 30.0, "environment": 43.75, "governance": 0.0, "public_service": 25.0,
                                     "overall": 24.6875})
    assert "emergency" not in got[TA]  # no emergency indicator has thresholds


def test_scores_of_the_communities(repo):
    got = _scores(repo.child_scores(TA, OCT))
    assert list(got) == [A1, A2, A3]
    assert [got[c]["overall"] for c in (A1, A2, A3)] == pytest.approx([68.625, 62.875, 61.8125])
    assert [got[c]["environment"] for c in (A1, A2, A3)] == pytest.approx([87.5, 82.5, 76.25])
    # September: svc_wmean of B2 is 100 (d = +1, full marks), of B1 80 (on alarm: 50)
    sep = _scores(repo.child_scores(TB, SEP))
    assert (sep[B1]["public_service"], sep[B2]["public_service"]) == pytest.approx((50.0, 100.0))


def test_the_city_scores_its_own_rolled_up_values(repo):
    own = repo.area_scores(CITY, OCT)
    assert own["scores"] == pytest.approx({"economy": 88.0, "environment": 65.0, "governance": 0.0, "public_service": 53.0,
                                           "overall": 51.5})
    assert own["counts"]["overall"] == [4, 4] and own["counts"]["economy"] == [1, 1]
    # a leaf's 'children' are itself
    assert _scores(repo.child_scores(A1, OCT)) == {A1: pytest.approx(_scores(repo.child_scores(TA, OCT))[A1])}


def test_values_older_than_their_frequency_allows_do_not_count(repo):
    """November: October's monthly values still count (1 month's lag) and so does July's quarterly one
    (4 months); December: none does, and an area without any current value has no score at all."""
    nov = repo.area_scores(TA, NOV)
    assert nov["scores"]["overall"] == pytest.approx(74.375) and nov["counts"]["overall"] == [4, 4]
    dec = repo.area_scores(TA, DEC)
    assert dec["scores"] == {"economy": None, "environment": None, "governance": None, "public_service": None, "overall": None}
    assert dec["counts"]["economy"] == [0, 1] and dec["counts"]["overall"] == [0, 4]
    # a period given mid-month is its month
    assert repo.area_scores(TA, date(2026, 10, 17))["scores"]["overall"] == pytest.approx(74.375)


def test_indicator_points_of_one_area(repo):
    rows = repo.score_points(TB, OCT)
    assert [(r["code"], r["value"], r["points"]) for r in rows] == [
        ("eco_sum", 30.0, pytest.approx(30.0)), ("env_pm25", 80.0, pytest.approx(43.75)),
        ("gov_last", 20.0, pytest.approx(0.0)), ("svc_wmean", 75.0, pytest.approx(25.0)),
    ]
    assert rows[2]["period"] == date(2026, 7, 1)
    assert [r["points"] for r in repo.score_points(TB, DEC)] == [None] * 4


def test_scores_are_bound_to_the_scope(repo):
    scoped = repo.scoped(TA)
    assert [r["code"] for r in scoped.child_scores(TA, OCT)] == [A1, A2, A3]
    for call in (lambda: scoped.child_scores(CITY, OCT), lambda: scoped.area_scores(TB, OCT),
                 lambda: scoped.score_points(B1, OCT), lambda: scoped.score_explanation(TB, OCT)):
        with pytest.raises(ScopeError):
            call()


# ---------------------------------------------------------------------------------------------- the explanation


def test_explanation_lists_the_biggest_losses_first_and_the_sub_areas_below(repo):
    expl = repo.score_explanation(CITY, OCT, "overall")
    assert expl["score"] == pytest.approx(51.5)
    assert (expl["n_scored"], expl["n_applicable"], expl["missing"]) == (4, 4, [])
    assert [(r["code"], r["status"]) for r in expl["indicators"]] == [
        ("gov_last", "alarm"), ("svc_wmean", "warn"), ("env_pm25", "warn"),  # eco_sum (3 points) is fourth
    ]
    assert [r["lost"] for r in expl["indicators"]] == pytest.approx([25.0, 11.75, 8.75])
    assert [c["code"] for c in expl["children"]] == [TB]  # TA scores 74.375, above the city's 51.5
    assert expl["children"][0]["score"] == pytest.approx(24.6875)
    everything = repo.score_explanation(CITY, OCT, "overall", limit=10)
    assert sum(r["lost"] for r in everything["indicators"]) == pytest.approx(100 - 51.5)


def test_explanation_of_a_township_and_of_one_theme(repo):
    expl = repo.score_explanation(TA, OCT, "overall")
    # losses: svc_wmean 41/4 = 10.25, eco_sum 26/4 = 6.5, gov_last 18/4 = 4.5, env_pm25 17.5/4 = 4.375
    assert [(r["code"], r["lost"]) for r in expl["indicators"]] == [
        ("svc_wmean", pytest.approx(10.25)), ("eco_sum", pytest.approx(6.5)), ("gov_last", pytest.approx(4.5))]
    assert [c["code"] for c in expl["children"]] == [A3, A2, A1]  # 61.8125, 62.875, 68.625: all below 74.375
    env = repo.score_explanation(TA, OCT, "environment")
    assert env["score"] == pytest.approx(82.5)
    assert [(r["code"], r["lost"]) for r in env["indicators"]] == [("env_pm25", pytest.approx(17.5))]
    assert [c["code"] for c in env["children"]] == [A3]  # A2 equals 82.5: not below


def test_explanation_without_data_or_indicators(repo):
    dec = repo.score_explanation(TA, DEC, "overall")
    assert (dec["score"], dec["indicators"], dec["n_scored"], dec["n_applicable"]) == (None, [], 0, 4)
    assert dec["missing"] == ["eco_sum", "env_pm25", "gov_last", "svc_wmean"]
    emergency = repo.score_explanation(TA, OCT, "emergency")
    assert (emergency["score"], emergency["n_applicable"], emergency["children"]) == (None, 0, [])
    leaf = repo.score_explanation(A1, OCT, "overall")
    assert leaf["children"] == [] and leaf["score"] == pytest.approx(68.625)


def test_the_explanations_score_is_the_sql_score(repo):
    for area in (CITY, TA, TB, A1, A2, A3, B1, B2):
        sql = repo.area_scores(area, OCT)["scores"]
        for key in (*THEMES, "overall"):
            assert repo.score_explanation(area, OCT, key)["score"] == pytest.approx(sql[key]), (area, key)


# ---------------------------------------------------------------------------------------------- SQL = rule on a whole demo


def test_the_sql_points_are_the_rule_on_every_area_of_the_mini_demo(mini_sqlite):
    """Every township and community of the 'mini' demo, latest period: the points SQL gives equal
    ``rules.indicator_points`` of the same value, and the scores SQL equals ``composite_scores`` of them."""
    repo = Repository(db.make_engine(mini_sqlite))
    period = repo.latest_period()
    root = repo.root_code()
    areas = [root] + [t["code"] for t in repo.children(root)]
    areas += [c["code"] for t in areas[1:] for c in repo.children(t)]
    seen_bands = set()
    for area in areas:
        points = repo.score_points(area, period)
        by_theme: dict[str, list] = {}
        for r in points:
            want = indicator_points(r["value"], r["polarity"], r["warn"], r["alarm"])
            assert r["points"] == pytest.approx(want), (area, r["code"], r["value"])
            by_theme.setdefault(r["theme"], []).append(r["points"])
            seen_bands.add(score_status(r["points"]))
        assert repo.area_scores(area, period)["scores"] == pytest.approx(composite_scores(by_theme)), area
    assert {"ok", "warn", "alarm", "none"} <= seen_bands  # the comparison covered every band
