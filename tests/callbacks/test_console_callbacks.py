"""The duty console's plain functions against hand-computed numbers: one community of a copy of the mini
demo is emptied and given six events with known severities and due times, so the count, the order by
urgency and every countdown text are known in advance. Then the detail (history, SOP, buttons) and the
steps run through the same functions the callbacks call."""

from __future__ import annotations

import json
from datetime import timedelta

import flask
import pytest
from sqlalchemy import text

from callbacks import console
from datasources import db
from datasources.access.roles import Principal
from datasources.catalog_loader import event_categories
from datasources.ingest import Writer
from layouts import console as console_layout
from layouts.console import due_text, duration_text
from tests.conftest import AS_OF, pg_copy, sqlite_copy

NOW = AS_OF  # 2026-11-20 18:00, the demo's as-of time
OPEN = console.filters("open", "all", "all", "all", [])


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def city(request, tmp_path_factory):  # noqa: ANN201
    """(app, services, community code, {name: event id}) on an own copy of the mini demo, SQLite and PostgreSQL."""
    if request.param == "sqlite":
        url = sqlite_copy(request.getfixturevalue("mini_pristine"), tmp_path_factory.mktemp("console") / "console.db")
        yield _console_city(url)
        return
    with pg_copy(request.getfixturevalue("mini_pg_template")) as url:
        city = _console_city(url)
        yield city
        city[1].base_repo.engine.dispose()


def _console_city(url: str):  # noqa: ANN202
    from app import create_app

    engine = db.make_engine(url)
    with engine.begin() as conn:
        leaf, lon, lat = conn.execute(text("SELECT code, centroid_lon, centroid_lat FROM regions WHERE level = 2 ORDER BY code LIMIT 1")).one()
        ids = [r for r, in conn.execute(text("SELECT id FROM events WHERE region_code = :l"), {"l": leaf})]
        if ids:
            conn.execute(text("DELETE FROM alerts WHERE event_id IN (SELECT id FROM events WHERE region_code = :l)"), {"l": leaf})
            conn.execute(text("DELETE FROM events WHERE region_code = :l"), {"l": leaf})
    t = lambda delta: NOW + delta  # noqa: E731
    base = {"source": "grid", "category": "sanitation", "theme": "environment", "region_code": leaf, "lon": lon, "lat": lat}
    rows = [
        base | {"title": "E1", "severity": 4, "status": "processing", "reported_at": t(-timedelta(days=3)),
                "dispatched_at": t(-timedelta(days=3) + timedelta(minutes=5)), "due_at": t(-timedelta(hours=1))},
        base | {"title": "E2", "severity": 2, "status": "reported", "reported_at": t(-timedelta(hours=2)), "due_at": t(timedelta(minutes=30))},
        base | {"title": "E3", "severity": 1, "status": "dispatched", "reported_at": t(-timedelta(hours=1)),
                "dispatched_at": t(-timedelta(minutes=40)), "due_at": t(timedelta(hours=5)), "department": "市城管局"},
        base | {"title": "E4", "severity": 2, "status": "reported", "reported_at": t(-timedelta(days=5)), "due_at": t(-timedelta(days=2, hours=3))},
        base | {"title": "E5", "severity": 3, "status": "closed", "reported_at": t(-timedelta(days=4)), "dispatched_at": t(-timedelta(days=4)),
                "resolved_at": t(-timedelta(days=3)), "closed_at": t(-timedelta(days=2)), "due_at": t(-timedelta(days=1))},
        base | {"title": "E6", "severity": 1, "status": "reported", "category": "not_in_catalog", "reported_at": t(-timedelta(minutes=10))},
    ]
    Writer(engine, clock=lambda: NOW).events(rows)
    with engine.connect() as conn:
        by_title = dict(conn.execute(text("SELECT title, id FROM events WHERE region_code = :l"), {"l": leaf}).all())
    engine.dispose()
    app = create_app({"database_url": url, "cache_type": "NullCache"})
    return app, app.server.config["IOC_SERVICES"], leaf, by_title


def titles(view: dict, city) -> list[str]:  # noqa: ANN001
    names = {v: k for k, v in city[3].items()}
    return [names[i] for i in view["ids"]]


def texts(component) -> list[str]:  # noqa: ANN001
    """Every string in a component tree, in order."""
    out: list[str] = []

    def walk(node):  # noqa: ANN001, ANN202
        if isinstance(node, str):
            out.append(node)
        elif isinstance(node, list | tuple):
            for n in node:
                walk(n)
        elif hasattr(node, "children"):
            walk(node.children)

    walk(component)
    return out


def test_count_and_order_by_urgency(city):
    view = console.console_list(city[1], f"?area={city[2]}", OPEN, at=NOW)
    assert view["counts"] == {"total": 5, "overdue": 2}  # E5 is closed; E4 and E1 are past due
    # severe (I–II) first: of those overdue first (E4), then severity (E3, E6: I), then time left (E6 has no
    # due time; E2 is II); then the rest (E1, severity IV, although overdue)
    assert titles(view, city) == ["E4", "E3", "E6", "E2", "E1"]
    assert view["count"] == "共 5 件 · 超时 2 件 · 显示 5 件"


def test_countdown_texts_on_screen(city):
    view = console.console_list(city[1], f"?area={city[2]}&lang=en", OPEN, at=NOW)
    dues = [next(s for s in texts(row) if s.startswith(("overdue", "no due")) or s.endswith("left")) for row in view["rows"]]
    assert dues == ["overdue by 2 d 3 h", "5 h 00 min left", "no due time", "30 min 00 s left", "overdue by 1 h 00 min"]
    classes = [row.className for row in view["rows"]]
    assert ["overdue" in c for c in classes] == [True, False, False, False, True]
    assert view["count"] == "5 events · 2 overdue · showing 5"


def test_duration_and_due_texts():
    assert duration_text(2 * 86400 + 3 * 3600 + 59, "zh") == "2天3小时"
    assert duration_text(3600 + 5 * 60 + 7, "zh") == "1小时05分"
    assert duration_text(61, "en") == "1 min 01 s"
    assert due_text(NOW - timedelta(seconds=1), NOW, "zh") == ("超时 0分01秒", True)
    assert due_text(NOW, NOW, "zh") == ("剩余 0分00秒", False)  # due now is not yet late
    assert due_text(NOW - timedelta(days=1), NOW, "zh", open_=False) == ("", False)  # done events never count down


def test_filters(city):
    area = f"?area={city[2]}"
    assert titles(console.console_list(city[1], area, console.filters("open", "all", "all", "all", ["1"]), at=NOW), city) == ["E4", "E1"]
    assert titles(console.console_list(city[1], area, console.filters("open", "1", "all", "all", []), at=NOW), city) == ["E3", "E6"]
    assert titles(console.console_list(city[1], area, console.filters("reported", "all", "all", "all", []), at=NOW), city) == ["E4", "E6", "E2"]
    closed = console.console_list(city[1], area, console.filters("closed", "all", "all", "all", []), at=NOW)
    assert titles(closed, city) == ["E5"] and closed["count"].endswith("（近 30 天上报）")
    assert titles(console.console_list(city[1], area, console.filters("open", "all", "sanitation", "hotline", []), at=NOW), city) == []
    # Anything a crafted post may send is ignored, never passed on to SQL.
    assert console.filters("drop table", "9", "x'--", 42, "1") == OPEN


def test_map_points_carry_event_ids_and_the_view_fits_the_area_once(city):
    view = console.console_list(city[1], f"?area={city[2]}", OPEN, at=NOW)
    patch = json.dumps(view["figure"].to_plotly_json())
    assert f'"{city[2]}"' in patch and "uirevision" in patch  # the community outline, fitted
    again = console.console_list(city[1], f"?area={city[2]}", OPEN, at=NOW, shown_area=city[2])
    assert "uirevision" not in json.dumps(again["figure"].to_plotly_json())  # a refresh keeps the user's view


def test_detail_shows_history_sop_and_buttons(city):
    e3 = city[3]["E3"]
    children, fig = console.console_detail(city[1], e3, "?lang=en", can_dispatch=True, at=NOW)
    words = texts(children)
    assert "E3" in words
    sop = next(c for c in _walk(children) if getattr(c, "id", None) == "console-sop")
    assert [o["label"] for o in sop.options] == list(event_categories()["sanitation"].sop_en)  # the category's SOP
    assert sop.options[0]["label"] == "Grid worker verifies on site"
    assert words.count("implied by the record's times") == 1  # the dispatch has a time but no step row
    buttons = [c for c in _walk(children) if isinstance(getattr(c, "id", None), dict) and c.id.get("type") == "console-step"]
    assert [(b.id["status"], b.disabled) for b in buttons] == [("processing", False)]
    moves = {tuple(op["location"]): op["params"]["value"] for op in fig.to_plotly_json()["operations"]}
    assert moves[("layout", "map", "zoom")] == 12.5 and moves[("data", console_layout.T_SELECTED, "lon")] == [moves[("layout", "map", "center")]["lon"]]
    _children, _ = console.console_detail(city[1], e3, "", can_dispatch=False, at=NOW)
    ro = [c for c in _walk(_children) if isinstance(getattr(c, "id", None), dict) and c.id.get("type", "").startswith("console-step")]
    assert [b.id["type"] for b in ro] == ["console-step-locked"]  # never triggers the step callback
    assert all(b.disabled for b in ro) and ro[0].title == "只读：当前账户没有调度权限"
    gone, _ = console.console_detail(city[1], 99_999_999, "", can_dispatch=True, at=NOW)
    assert texts(gone) == ["该事件不存在或不在本账户范围内"]


def _walk(node):  # noqa: ANN001, ANN202
    if isinstance(node, list | tuple):
        for n in node:
            yield from _walk(n)
    elif hasattr(node, "children") or hasattr(node, "id"):
        yield node
        yield from _walk(getattr(node, "children", None) or [])


def test_one_click_dispatch_then_the_later_steps_are_recorded_in_the_history(city):
    app, services, _leaf, by_title = city
    e2 = by_title["E2"]
    with app.server.test_request_context():
        flask.g.ioc_principal = Principal("duty", "duty")
        msg = console.do_step(services, {"type": "console-step", "status": "dispatched", "event": e2}, "请速处理", None, "")
        assert msg.startswith("已记录：派遣 · duty · ")
        for status in ("processing", "resolved", "processing"):
            console.do_step(services, {"type": "console-step", "status": status, "event": e2}, "", None, "")
        refused = console.do_step(services, {"type": "console-step", "status": "closed", "event": e2}, "", None, "?lang=en")
        assert refused == "Not done: cannot go from processing to closed"
    ev = services.repo.event_detail(e2)
    history = console.event_history(ev)
    assert [h["step"] for h in history] == ["reported", "dispatched", "processing", "resolved", "reopened"]
    assert history[1]["actor"] == "duty" and history[1]["note"] == "请速处理"
    assert history[1]["department"] == event_categories()["sanitation"].department
    assert not any(h["implied"] for h in history)


def test_alerts_are_acknowledged_then_cleared_from_the_console_with_who_and_when(city):
    app, services, leaf, _by_title = city
    area = services.repo.root_code()
    alerts = services.repo.open_alerts(area, 50)
    target = alerts[0]  # the most severe, newest: what the console lists first
    with app.server.test_request_context():
        flask.g.ioc_principal = Principal("duty", "duty")
        view = console.console_list(services, f"?area={area}", OPEN, at=NOW)
        first = view["alerts"][0]
        assert first.to_plotly_json()["props"]["data-alert"] == str(target["id"])
        button = first.children[-1]
        assert button.id == {"type": "console-alert-step", "step": "acknowledge", "alert": target["id"]} and not button.disabled
        ack = console.do_alert_step(services, button.id, "")
        assert ack.startswith("已记录：确认 · duty · ")
        again = console.do_alert_step(services, button.id, "?lang=en")
        assert again.startswith("Not done:") and "acknowledged" in again
        after = next(a for a in console.console_list(services, f"?area={area}", OPEN, at=NOW)["alerts"]
                     if a.to_plotly_json()["props"]["data-alert"] == str(target["id"]))
        assert "duty" in after.children[3].children and after.children[-1].id["step"] == "clear"
        cleared = console.do_alert_step(services, after.children[-1].id, "")
        assert cleared.startswith("已记录：解除 · duty · ")
    with services.base_repo.engine.connect() as conn:
        row = conn.execute(text("SELECT acknowledged_by, acknowledged_at, cleared_by, cleared_at FROM alerts WHERE id = :i"),
                           {"i": target["id"]}).one()
        audit = [r for r, in conn.execute(text("SELECT action FROM audit_log WHERE target = :t ORDER BY id"),
                                           {"t": f"alert {target['id']}"})]
    assert row.acknowledged_by == "duty" and row.cleared_by == "duty" and row.acknowledged_at and row.cleared_at
    assert audit == ["alert_ack", "alert_clear"]
    assert target["id"] not in {a["id"] for a in services.repo.open_alerts(area, 500)}


def test_callers_without_dispatch_see_locked_alert_buttons(city):
    app, services, _leaf, _ = city
    area = services.repo.root_code()
    with app.server.test_request_context():
        flask.g.ioc_principal = Principal("leader", "leader")
        view = console.console_list(services, f"?area={area}&lang=en", OPEN, at=NOW)
    button = view["alerts"][0].children[-1]
    assert button.disabled and button.id["type"] == "console-alert-step-locked"
    assert button.title == "Read only: this account may not dispatch"


def test_a_console_refresh_sends_only_what_changed(city):
    from dash import no_update

    _app, services, leaf, _ = city
    first = console.list_outputs(console.console_list(services, f"?area={leaf}", OPEN, at=NOW), None)
    assert all(v is not no_update for v in first[:5])
    again = console.list_outputs(console.console_list(services, f"?area={leaf}", OPEN, at=NOW), first[-1])
    count, rows, store, alerts, figure, _sent = again
    assert (count, rows, alerts, figure) == (no_update, no_update, no_update, no_update)
    assert store["points"]  # the countdowns' clock and the points always travel (small)
    # A minute later the countdown texts differ: the rows travel again, the map and the alerts do not.
    later = console.list_outputs(console.console_list(services, f"?area={leaf}", OPEN, at=NOW + timedelta(minutes=1)), first[-1])
    assert later[1] is not no_update and later[3] is no_update and later[4] is no_update
