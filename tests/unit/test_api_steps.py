"""The step endpoints of /api/v1 on SQLite and PostgreSQL (each test on its own copy of the mini demo):
one step, the batch form by event id or by the sender's event id, replays, 422 problems per item,
permission and scope."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from app import create_app
from datasources.access.accounts import Accounts
from datasources.catalog_loader import event_categories
from tests.unit.test_event_steps import engine, mini_template, own_pg, reported_event, steps_of  # noqa: F401


@pytest.fixture
def api(engine):  # noqa: F811
    """(Flask test client, engine, token headers by role) of an app on the test's own database."""
    app = create_app({"database_url": engine.url.render_as_string(hide_password=False), "cache_type": "NullCache"})
    acc = Accounts(engine)
    with engine.connect() as conn:
        town = conn.execute(text("SELECT code FROM regions WHERE level = 1 ORDER BY code")).scalars().first()
    headers = {}
    for role, scope in (("duty", None), ("analyst", None), ("township", town), ("feed", None)):
        secret, _ = acc.create_token(f"t-{role}", role, scope, actor="test")
        headers[role] = {"Authorization": f"Bearer {secret}"}
    return app.server.test_client(), engine, headers, town


def test_one_step_dispatches_to_the_suggested_department(api):
    client, engine, h, _town = api  # noqa: F811
    ev = reported_event(engine)
    resp = client.post(f"/api/v1/events/{ev['id']}/steps", json={"status": "dispatched", "note": "feed", "id": "s-1"}, headers=h["duty"])
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["replayed"] is False and body["state"]["status"] == "dispatched"
    assert body["state"]["department"] == event_categories()[ev["category"]].department
    assert body["last_step"]["actor"] == "token:t-duty" and body["last_step"]["external_id"] == "s-1"
    again = client.post(f"/api/v1/events/{ev['id']}/steps", json={"status": "dispatched", "id": "s-1"}, headers=h["duty"])
    assert again.status_code == 200 and again.get_json()["replayed"] is True
    assert len(steps_of(engine, ev["id"])) == 1


def test_batch_by_id_and_by_source_and_external_id(api):
    client, engine, h, _town = api  # noqa: F811
    a, b = reported_event(engine, 0), reported_event(engine, 1)
    with engine.begin() as conn:
        conn.execute(text("UPDATE events SET external_id = 'CASE-7' WHERE id = :i"), {"i": b["id"]})
        source = conn.execute(text("SELECT source FROM events WHERE id = :i"), {"i": b["id"]}).scalar()
    items = [{"event": a["id"], "status": "dispatched", "department": "市应急局", "at": "2026-11-20T18:05:00"},
             {"source": source, "external_id": "CASE-7", "status": "dispatched", "id": "b-1"}]
    resp = client.post("/api/v1/events/steps", json={"items": items}, headers=h["duty"])
    assert resp.status_code == 200, resp.get_json()
    steps = resp.get_json()["steps"]
    assert [s["event"] for s in steps] == [a["id"], b["id"]]
    assert steps[0]["state"]["department"] == "市应急局" and steps[0]["state"]["dispatched_at"] == "2026-11-20T18:05:00"
    assert [s["to_status"] for s in steps_of(engine, b["id"])] == ["dispatched"]


def test_bad_items_answer_422_with_every_problem_and_nothing_is_written(api):
    client, engine, h, _town = api  # noqa: F811
    a, b = reported_event(engine, 0), reported_event(engine, 1)
    items = [{"event": a["id"], "status": "dispatched"}, {"event": b["id"], "status": "closed"},
             {"event": 99_999_999, "status": "dispatched"}, {"event": a["id"], "status": "flying", "colour": "red"}]
    resp = client.post("/api/v1/events/steps", json={"items": items}, headers=h["duty"])
    assert resp.status_code == 422
    problems = resp.get_json()["problems"]
    assert {(p["index"], p["field"]) for p in problems} == {(3, "colour"), (3, "status")}  # shape first
    resp = client.post("/api/v1/events/steps", json={"items": items[:3]}, headers=h["duty"])
    assert resp.get_json()["problems"] == [
        {"index": 2, "field": "event", "value": 99_999_999, "reason": "unknown event (or outside the caller's area)"}]
    resp = client.post("/api/v1/events/steps", json={"items": items[:2]}, headers=h["duty"])
    assert resp.get_json()["problems"] == [
        {"index": 1, "field": "status", "value": "closed", "reason": "cannot go from reported to closed"}]
    assert steps_of(engine, a["id"]) == []


def test_permission_and_scope(api):
    client, engine, h, town = api  # noqa: F811
    ev = reported_event(engine)
    for role in ("analyst", "feed"):
        assert client.post(f"/api/v1/events/{ev['id']}/steps", json={"status": "dispatched"}, headers=h[role]).status_code == 403
    assert client.post(f"/api/v1/events/{ev['id']}/steps", json={"status": "dispatched"}).status_code == 401
    with engine.connect() as conn:
        outside = conn.execute(text(
            "SELECT id FROM events WHERE status = 'reported' AND region_code NOT IN "
            "(SELECT descendant_code FROM region_closure WHERE ancestor_code = :t) ORDER BY id LIMIT 1"), {"t": town}).scalar_one()
    resp = client.post(f"/api/v1/events/{outside}/steps", json={"status": "dispatched"}, headers=h["township"])
    assert resp.status_code == 404
    assert steps_of(engine, outside) == []


def test_openapi_lists_the_step_routes(api):
    client = api[0]
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert "post" in paths["/api/v1/events/{event_id}/steps"] and "post" in paths["/api/v1/events/steps"]
