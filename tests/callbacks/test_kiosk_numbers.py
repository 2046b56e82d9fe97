"""The wall on the hand-made city (tests/numbers_fixture.py): which townships need attention most, the
severe alert it jumps to, the playlist as each caller's wall plays it, and the kiosk wrapper.

Open alerts of the fixture (alert 3 is cleared and never counts); weights I=8, II=4, III=2, IV=1::

    alert 1  grade II   on 乙镇 (TB) itself        started 2026-10-31 08:00
    alert 2  grade I    in 甲三社区 (A3, in TA)     started 2026-10-12 20:05
    alert 4  grade III  in 乙一社区 (B1, in TB)     started 2026-10-31 08:00

    TA: 8 (one alert)          TB: 4 + 2 = 6 (two alerts, lighter)   -> TA first, though TB has more alerts
"""

from __future__ import annotations

import re
from datetime import datetime

import flask
import pytest
from dash import no_update

from app import create_app
from callbacks import kiosk, router
from callbacks.auth import StartupError
from datasources.access.roles import Principal
from datasources.kiosk_playlist import PlaylistEntry
from datasources.models import to_epoch
from layouts import ids
from tests.conftest import login
from tests.numbers_fixture import A3, B1, CITY, DATA_VERSION, TA, TB


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def app(request):
    url = request.getfixturevalue("numbers_sqlite" if request.param == "sqlite" else "numbers_pg")
    return create_app({"database_url": url, "cache_type": "NullCache"})


@pytest.fixture
def services(app):
    return app.server.config["IOC_SERVICES"]


def _as(app, principal: Principal):  # noqa: ANN202
    """A request context in which ``principal`` is the caller."""
    ctx = app.server.test_request_context("/_dash-update-component", method="POST")
    ctx.push()
    flask.g.ioc_principal = principal
    return ctx


LEADER = Principal("leader", "leader")
TOWNSHIP_B = Principal("township", "township", scope=TB)


def test_townships_rank_by_open_alerts_weighted_by_grade(services):
    ranking = services.base_repo.attention_ranking(CITY, 5)
    assert [(r["code"], r["weight"], r["open_alerts"]) for r in ranking] == [(TA, 8, 1), (TB, 6, 2)]
    assert [r["code"] for r in services.base_repo.attention_ranking(CITY, 1)] == [TA]


def test_an_alert_on_the_area_itself_belongs_to_no_child(services):
    # Below TB only B1 has an open alert (grade III); TB's own grade II alert is no child's; B2 has none.
    assert [(r["code"], r["weight"]) for r in services.base_repo.attention_ranking(TB, 5)] == [(B1, 2)]


def test_the_newest_severe_alert_is_by_start_time_not_by_grade(services):
    assert services.base_repo.newest_severe_alert(CITY)["id"] == 1  # grade II of 10-31 is newer than grade I of 10-12
    assert services.base_repo.scoped(TA).newest_severe_alert(TA)["id"] == 2
    assert services.base_repo.newest_severe_alert(A3)["region_code"] == A3


ENTRIES = (
    PlaylistEntry(1, "/", "", "", 30),
    PlaylistEntry(2, "/theme/economy", TA, "eco_sum", 20),
    PlaylistEntry(3, "/", "", "", 10, attention=5),
)


def test_the_leaders_wall_plays_the_city_then_the_townships_that_need_attention(app, services):
    ctx = _as(app, LEADER)
    try:
        steps = kiosk.playlist_steps(services, ENTRIES, "zh")
    finally:
        ctx.pop()
    assert steps == [
        {"path": "/", "search": "?kiosk=1", "dwell": 30_000},
        {"path": "/theme/economy", "search": f"?area={TA}&indicator=eco_sum&kiosk=1", "dwell": 20_000},
        {"path": "/", "search": f"?area={TA}&kiosk=1", "dwell": 10_000},
        {"path": "/", "search": f"?area={TB}&kiosk=1", "dwell": 10_000},
    ]


def test_a_worst_entry_plays_the_townships_with_the_lowest_overall_score_first(app, services):
    # Overall scores in October 2026 (hand-computed in tests/unit/test_scores.py): Town A 74.375, Town B 24.6875.
    worst = (PlaylistEntry(1, "/", "", "", 10, attention=1, ranking="worst"),
             PlaylistEntry(2, "/", "", "", 5, attention=5, ranking="worst"))
    ctx = _as(app, LEADER)
    try:
        steps = kiosk.playlist_steps(services, worst, "zh")
    finally:
        ctx.pop()
    assert [(s["search"], s["dwell"]) for s in steps] == [
        (f"?area={TB}&kiosk=1", 10_000), (f"?area={TB}&kiosk=1", 5_000), (f"?area={TA}&kiosk=1", 5_000)]


def test_a_township_wall_stays_in_its_township(app, services):
    ctx = _as(app, TOWNSHIP_B)
    try:
        steps = kiosk.playlist_steps(services, ENTRIES, "en")
        severe = kiosk.severe_alert(services, "en")
    finally:
        ctx.pop()
    # TA is outside the scope: its step is left out; the attention entry ranks TB's communities.
    assert [s["search"] for s in steps] == ["?lang=en&kiosk=1", f"?area={B1}&lang=en&kiosk=1"]
    assert severe["key"] == [to_epoch(datetime(2026, 10, 31, 8, 0)), 1]
    assert severe["text"] == "Grade Ⅱ alert · Town B · PM2.5 超过报警值"


def test_the_severe_alert_says_grade_area_and_message_and_leads_to_its_area(app, services):
    ctx = _as(app, LEADER)
    try:
        severe = kiosk.severe_alert(services, "zh")
    finally:
        ctx.pop()
    assert severe == {"key": [to_epoch(datetime(2026, 10, 31, 8, 0)), 1], "path": "/",
                      "search": f"?area={TB}&kiosk=1", "text": "Ⅱ级预警 · 乙镇 · PM2.5 超过报警值"}


def test_the_feed_is_sent_again_only_when_the_data_or_the_language_changed(app, services):
    ctx = _as(app, LEADER)
    try:
        feed = kiosk.feed_update(services, ENTRIES, None, "?kiosk=1")
        assert feed["version"] == DATA_VERSION and feed["hold_ms"] == 120_000 and len(feed["steps"]) == 4
        assert kiosk.feed_update(services, ENTRIES, feed, "?kiosk=1&area=x") is no_update
        assert kiosk.feed_update(services, ENTRIES, feed, "?kiosk=1&lang=en")["labels"]["rotation"] == "Rotation"
        assert kiosk.feed_update(services, ENTRIES, feed | {"version": DATA_VERSION - 1}, "?kiosk=1") != no_update
    finally:
        ctx.pop()


@pytest.mark.parametrize(("search", "wall"), [
    ("?kiosk=1", True), ("?area=510182&kiosk=1", True), ("?kiosk=true", True), ("?kiosk=0", False),
    ("", False), (None, False), ("?kiosk=1&kiosk=0", False), ("?kiosk=%00", False),
])
def test_kiosk_mode_is_asked_for_by_the_query(search, wall):
    assert kiosk.kiosk_requested(search) is wall


def test_a_kiosk_page_is_the_same_page_wrapped_with_the_walls_parts(app, services):
    pages = {"cockpit": router.PageSpec("cockpit", "/", lambda ctx, lang: ["cockpit body"])}
    for referer, wrapped in (("http://x/?kiosk=1&lang=en", True), ("http://x/?lang=en", False)):
        with app.server.test_request_context("/_dash-layout", headers={"Referer": referer}):
            flask.g.ioc_principal = LEADER
            layout = router.initial_layout(services, pages)
        assert (layout.id == ids.KIOSK_WALL) is wrapped
        root = layout.children[0] if wrapped else layout
        assert root.id == ids.ROOT and root.lang == "en"
    assert layout.className == "ioc-root page-cockpit"


def _playlist(tmp_path, body: str) -> str:
    path = tmp_path / "wall.csv"
    path.write_text("order,path,area,indicator,dwell_s\n" + body, encoding="utf-8")
    return str(path)


def test_a_bad_configured_playlist_stops_the_start_naming_file_line_and_field(numbers_sqlite, tmp_path):
    with pytest.raises(StartupError, match=re.escape("kiosk playlist rejected: wall.csv line 3, field 'path': no theme page 'nowhere'")):
        create_app({"database_url": numbers_sqlite, "kiosk_playlist": _playlist(tmp_path, "1,/,,,10\n2,/theme/nowhere,,,10\n")})
    with pytest.raises(StartupError, match=re.escape("wall.csv line 2, field 'area': unknown region '510199'")):
        create_app({"database_url": numbers_sqlite, "kiosk_playlist": _playlist(tmp_path, "1,/,510199,,10\n")})


def test_a_signed_in_wall_stays_signed_in_across_a_server_restart(numbers_sqlite):
    first = create_app({"database_url": numbers_sqlite, "cache_type": "NullCache"})
    client = login(first.server.test_client())
    cookie = client.get_cookie("ioc_session").value
    restarted = create_app({"database_url": numbers_sqlite, "cache_type": "NullCache"})  # a new process's app
    other = restarted.server.test_client()
    other.set_cookie("ioc_session", cookie)
    resp = other.get("/?kiosk=1")
    assert resp.status_code == 200, resp.headers.get("Location")
