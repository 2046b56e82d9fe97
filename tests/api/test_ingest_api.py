"""The ingest API (POST /api/v1/events, /readings, /values) on SQLite and PostgreSQL: valid batches are
written, placed and rolled up; every kind of bad item is refused with its index, field, value and reason and
nothing of the batch is written; replays never duplicate; tokens, permission, scope, size and rate limits;
one audit row per call; the OpenAPI description covers every route."""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime, timedelta

import pytest
from sqlalchemy import text

from callbacks.api import API_PREFIX, openapi_spec
from tests.api.conftest import City, event, make_city

EVENTS, READINGS, VALUES = f"{API_PREFIX}/events", f"{API_PREFIX}/readings", f"{API_PREFIX}/values"


@pytest.fixture(scope="module")
def city(module_db) -> City:
    return make_city(module_db)


def _post(city: City, path: str, body, token: str | None = None, raw: bytes | None = None):  # noqa: ANN001, ANN202
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    data = raw if raw is not None else json.dumps(body)
    resp = city.app.server.test_client().post(path, data=data, headers=headers, content_type="application/json")
    return resp.status_code, resp.get_json()


def _uid() -> str:
    return uuid.uuid4().hex[:10]


def _month_count(city: City, region: str, month: str) -> int:
    return int(city.scalar("SELECT COALESCE(SUM(n), 0) FROM event_monthly WHERE region_code = :r AND month = :m "
                           "AND source = 'hotline' AND category = 'road'", r=region, m=month) or 0)


def _leaf_of(city: City, town: str) -> str:
    return next(code for code in city.leaves if code.startswith(town))


# ---------------------------------------------------------------------------------------------- valid


def test_a_valid_batch_is_written_placed_by_point_and_seen_by_rollups_and_ticker(city):
    token = city.token()
    by_code, by_point = _leaf_of(city, city.towns[0]), _leaf_of(city, city.towns[1])
    u = _uid()
    batch = [event(f"{u}-a", region=by_code), event(f"{u}-b", point=city.leaves[by_point]),
             event(int(uuid.uuid4().int % 10**9), region=by_code, point=city.leaves[by_code], severity=1)]
    month = datetime.fromisoformat(batch[0]["reported_at"]).strftime("%Y-%m-01")
    before = {r: _month_count(city, r, month) for r in (city.root, city.towns[0], city.towns[1], by_point)}
    version = int(city.state()["data_version"])

    status, body = _post(city, EVENTS, batch, token)

    assert status == 201, body
    assert (body["kind"], body["received"], body["created"], body["duplicate"]) == ("events", 3, 3, 0)
    assert body["data_version"] == version + 1
    assert [i["id"] for i in body["items"]] == [f"{u}-a", f"{u}-b", str(batch[2]["id"])]
    assert [i["result"] for i in body["items"]] == ["created"] * 3
    with city.engine.connect() as conn:
        rows = {r.external_id: r for r in conn.execute(text(
            "SELECT id, external_id, region_code, source, severity FROM events WHERE external_id IN (:a, :b, :c)"),
            {"a": f"{u}-a", "b": f"{u}-b", "c": str(batch[2]["id"])})}
    assert {i["id"]: i["event_id"] for i in body["items"]} == {k: r.id for k, r in rows.items()}
    assert rows[f"{u}-b"].region_code == by_point  # point-in-polygon
    assert rows[f"{u}-a"].region_code == by_code
    # Roll-ups: the new events are counted at their community, township and the city.
    assert _month_count(city, city.root, month) == before[city.root] + 3
    assert _month_count(city, city.towns[0], month) == before[city.towns[0]] + 2
    assert _month_count(city, by_point, month) == before[by_point] + 1
    # The ticker's read and /healthz see the write.
    repo = city.app.server.config["IOC_SERVICES"].base_repo
    assert {f"API test event {u}-a", f"API test event {u}-b"} <= {e["title"] for e in repo.recent_events(city.root, 12)}
    assert city.app.server.test_client().get("/healthz").get_json()["data_version"] == body["data_version"]
    # A severe (I) event raises its alert in the same transaction.
    assert city.scalar("SELECT COUNT(*) FROM alerts WHERE event_id = :e AND cleared_at IS NULL",
                       e=rows[str(batch[2]["id"])].id) == 1


def test_a_replayed_batch_is_never_duplicated(city):
    token = city.token()
    u = _uid()
    batch = [event(f"{u}-{k}", region=_leaf_of(city, city.towns[0])) for k in range(3)]
    status, first = _post(city, EVENTS, batch, token)
    assert status == 201 and first["created"] == 3
    n = city.state()["events"]

    status, again = _post(city, EVENTS, {"items": batch}, token)  # the object form too

    assert status == 200, again
    assert (again["created"], again["duplicate"]) == (0, 3)
    assert [i["result"] for i in again["items"]] == ["duplicate"] * 3
    assert [i["event_id"] for i in again["items"]] == [i["event_id"] for i in first["items"]]
    assert city.state()["events"] == n
    assert again["data_version"] == first["data_version"]  # nothing changed: the screens do not redraw
    # Known and new in one batch: only the new one is written.
    status, mixed = _post(city, EVENTS, [batch[1], event(f"{u}-new", region=_leaf_of(city, city.towns[0]))], token)
    assert status == 201 and (mixed["created"], mixed["duplicate"]) == (1, 1)
    assert city.state()["events"] == n + 1
    # The same client id from another source is another case.
    status, other = _post(city, EVENTS, [event(f"{u}-0", region=_leaf_of(city, city.towns[0]), source="grid")], token)
    assert status == 201 and other["created"] == 1


def test_readings_and_values_are_upserted_and_replays_update(city):
    token = city.token()
    fid = city.live_facilities[0][0]
    now = datetime.now().replace(microsecond=0)
    readings = [{"facility_id": fid, "metric": "pm25", "ts": (now - timedelta(minutes=m)).isoformat(), "value": 30 + m}
                for m in range(1, 4)]
    n = city.state()["readings"]
    status, body = _post(city, READINGS, readings, token)
    assert status == 201 and (body["created"], body["updated"]) == (3, 0), body
    status, body = _post(city, READINGS, readings, token)
    assert status == 200 and (body["created"], body["updated"]) == (3 - 3, 3)
    assert city.state()["readings"] == n + 3

    period = (now.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    values = [{"indicator": "env_aqi", "region": town, "period": period, "value": 42.5} for town in city.towns[:2]]
    status, body = _post(city, VALUES, values, token)
    assert status in (200, 201) and body["created"] + body["updated"] == 2, body
    status, body = _post(city, VALUES, values, token)
    assert status == 200 and (body["created"], body["updated"]) == (0, 2)
    assert city.scalar("SELECT value FROM indicator_values WHERE indicator_code = 'env_aqi' AND region_code = :r "
                       "AND period = :p", r=city.towns[0], p=datetime.strptime(period, "%Y-%m").date()) == 42.5
    # Rolled up to the city by the indicator's aggregation in the same write.
    assert city.scalar("SELECT COUNT(*) FROM indicator_values WHERE indicator_code = 'env_aqi' AND region_code = :r "
                       "AND period = :p", r=city.root, p=datetime.strptime(period, "%Y-%m").date()) == 1


# ---------------------------------------------------------------------------------------------- invalid


def _future(item: dict) -> None:
    item["reported_at"] = (datetime.now() + timedelta(days=1)).replace(microsecond=0).isoformat()


INVALID = {
    # name: (how the middle item is spoiled, field named, words of the reason, value named)
    "unknown field": (lambda i: i.update(colour="red"), "colour", "unknown field", "red"),
    "missing required field": (lambda i: i.pop("title"), "title", "required field is missing", None),
    "null required value": (lambda i: i.update(title=None), "title", "required value is missing", None),
    "bad type": (lambda i: i.update(severity="high"), "severity", "must be a number", "high"),
    "severity out of range": (lambda i: i.update(severity=7), "severity", "at most 4", 7),
    "severity not whole": (lambda i: i.update(severity=2.5), "severity", "whole number", 2.5),
    "unknown theme": (lambda i: i.update(theme="weather"), "theme", "must be one of", "weather"),
    "unknown region": (lambda i: i.update(region_code="999999999999"), "region_code", "unknown region", "999999999999"),
    "point outside the city": (lambda i: (i.pop("region_code"), i.update(lon=0.5, lat=0.5)), "lon", "no region contains", 0.5),
    "neither region nor point": (lambda i: i.pop("region_code"), "region_code", "required when lon/lat", None),
    "time in the future": (_future, "reported_at", "in the future", None),
    "not a time": (lambda i: i.update(reported_at="yesterday"), "reported_at", "must be a date-time", "yesterday"),
    "time with an offset": (lambda i: i.update(reported_at="2026-11-20T10:00:00+08:00"), "reported_at", "without a UTC offset",
                            "2026-11-20T10:00:00+08:00"),
    "lifecycle: closed without closing time": (lambda i: i.update(status="closed", dispatched_at=i["reported_at"],
                                                                  resolved_at=i["reported_at"]),
                                               "closed_at", "required for a closed event", None),
    "lifecycle: steps out of order": (lambda i: i.update(status="dispatched", dispatched_at="2020-01-01T00:00:00"),
                                      "dispatched_at", "earlier than reported_at", "2020-01-01T00:00:00"),
    "lone surrogate in text": (lambda i: i.update(title="bad \ud800 text"), "title", "valid Unicode", None),
    "item not an object": (lambda i: i.clear(), None, None, None),  # replaced below by a list
}


@pytest.mark.parametrize("case", list(INVALID))
def test_each_kind_of_invalid_item_is_refused_with_index_field_value_and_nothing_is_written(city, case):
    spoil, field, reason, value = INVALID[case]
    token = city.token()
    u = _uid()
    leaf = _leaf_of(city, city.towns[0])
    batch = [event(f"{u}-0", region=leaf), event(f"{u}-1", region=leaf), event(f"{u}-2", region=leaf)]
    spoil(batch[1])
    if case == "item not an object":
        batch[1], reason = ["not", "an object"], "must be an object"
    before = city.state()

    status, body = _post(city, EVENTS, batch, token)

    assert status == 422, body
    assert body["kind"] == "events" and "nothing written" in body["error"]
    hits = [p for p in body["problems"] if p["index"] == 1 and p["field"] == field and reason in p["reason"]]
    assert hits, body["problems"]
    if value is not None:
        assert hits[0]["value"] == value
    assert all(p["index"] == 1 for p in body["problems"]), body["problems"]  # the good items are not blamed
    assert city.state() == before


def test_a_client_id_twice_in_one_batch_is_an_error_and_nothing_is_written(city):
    token, u, leaf = city.token(), _uid(), _leaf_of(city, city.towns[0])
    before = city.state()
    status, body = _post(city, EVENTS, [event(f"{u}-x", region=leaf), event(f"{u}-y", region=leaf),
                                        event(f"{u}-x", region=leaf)], token)
    assert status == 422
    assert [(p["index"], p["field"], p["value"]) for p in body["problems"]] == [(2, "id", f"{u}-x")]
    assert "duplicate" in body["problems"][0]["reason"] and "record 0" in body["problems"][0]["reason"]
    assert city.state() == before


def test_items_outside_the_tokens_scope_are_refused_per_item(city):
    own, other = city.towns[0], city.towns[1]
    token = city.token(scope=own)
    u = _uid()
    inside, outside = _leaf_of(city, own), _leaf_of(city, other)
    before = city.state()
    status, body = _post(city, EVENTS, [event(f"{u}-0", region=inside), event(f"{u}-1", region=outside),
                                        event(f"{u}-2", point=city.leaves[outside])], token)
    assert status == 422, body
    assert [(p["index"], p["field"], p["value"]) for p in body["problems"]] == [(1, "region_code", outside), (2, "region_code", outside)]
    assert all("outside the token's scope" in p["reason"] for p in body["problems"])
    assert city.state() == before
    # Readings of a facility elsewhere, values of another township: refused too.
    fid = next(f for f, region in city.live_facilities if not region.startswith(own))
    status, body = _post(city, READINGS, [{"facility_id": fid, "metric": "pm25", "ts": "2026-11-20T10:00:00", "value": 1}], token)
    assert status == 422 and body["problems"][0]["field"] == "facility_id" and "scope" in body["problems"][0]["reason"]
    status, body = _post(city, VALUES, [{"indicator": "env_aqi", "region": other, "period": "2026-10", "value": 1}], token)
    assert status == 422 and body["problems"][0]["field"] == "region" and "scope" in body["problems"][0]["reason"]
    assert city.state() == before
    # Inside the scope it is written.
    status, body = _post(city, EVENTS, [event(f"{u}-0", region=inside), event(f"{u}-2", point=city.leaves[inside])], token)
    assert status == 201 and body["created"] == 2


def test_invalid_readings_and_values_name_index_and_field(city):
    token = city.token()
    fid = city.live_facilities[0][0]
    before = city.state()
    status, body = _post(city, READINGS, [
        {"facility_id": fid, "metric": "pm25", "ts": "2026-11-20T10:00:00", "value": 1},
        {"facility_id": 999999, "metric": "pm25", "ts": "2026-11-20T10:00:00", "value": 1},
        {"facility_id": fid, "metric": "pm25", "ts": "2026-11-20T11:00:00", "value": "high"},
    ], token)
    assert status == 422
    assert [(p["index"], p["field"]) for p in body["problems"]] == [(2, "value")]  # shape first
    status, body = _post(city, READINGS, [
        {"facility_id": fid, "metric": "pm25", "ts": "2026-11-20T10:00:00", "value": 1},
        {"facility_id": 999999, "metric": "pm25", "ts": "2026-11-20T10:00:00", "value": 1},
    ], token)
    assert status == 422 and [(p["index"], p["field"], p["value"]) for p in body["problems"]] == [(1, "facility_id", 999999)]
    status, body = _post(city, VALUES, [
        {"indicator": "env_aqi", "region": city.towns[0], "period": "2026-10", "value": 1},
        {"indicator": "no_such_indicator", "region": city.towns[0], "period": "2026-13", "value": 1},
    ], token)
    assert status == 422
    assert {(p["index"], p["field"]) for p in body["problems"]} == {(1, "indicator"), (1, "period")}
    assert city.state() == before


# ---------------------------------------------------------------------------------------------- refusals


def test_tokens_and_permission(city):
    batch = [event(_uid(), region=_leaf_of(city, city.towns[0]))]
    before = city.state()
    status, body = _post(city, EVENTS, batch)
    assert status == 401 and "bearer token" in body["error"]
    assert _post(city, EVENTS, batch, "ioc_not_a_real_token")[0] == 401
    status, body = _post(city, EVENTS, batch, city.token(role="analyst"))  # may view, not ingest
    assert status == 403 and "ingest" in body["error"]
    assert city.state() == before
    assert _post(city, EVENTS, batch, city.token(role="admin"))[0] == 201


@pytest.mark.parametrize("raw, words", [
    (b"{not json", "malformed JSON"),
    (b"\xff\xfe", "not UTF-8"),
    (b'"a string"', "must be a JSON array"),
    (b'{"events": []}', "{\"items\": [...]}"),
    (b"[]", "empty"),
    (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
])
def test_malformed_bodies_get_400_naming_the_problem(city, raw, words):
    before = city.state()
    status, body = _post(city, EVENTS, None, city.token(), raw=raw)
    assert status == 400 and words in body["error"], body
    assert city.state() == before


def test_size_limits_answer_413_naming_the_limit(city):
    # Larger than the screens' 256 KB body limit but within the API's: accepted.
    leaf, u = _leaf_of(city, city.towns[0]), _uid()
    big = [event(f"{u}-{k}", region=leaf, description="x" * 300) for k in range(800)]
    assert len(json.dumps(big)) > city.app.server.config["MAX_CONTENT_LENGTH"]
    status, body = _post(city, EVENTS, big, city.token())
    assert status == 201 and body["created"] == 800

    before = city.state()
    small_body = make_city(city.url, api_max_body_kb=1)
    status, body = _post(small_body, EVENTS, [event(f"{u}-a", region=leaf, description="y" * 2000)], small_body.token())
    assert status == 413 and "1 KB" in body["error"] and body["limit_kb"] == 1
    few_items = make_city(city.url, api_max_items=2)
    status, body = _post(few_items, EVENTS, [event(f"{u}-b{k}", region=leaf) for k in range(3)], few_items.token())
    assert status == 413 and "limit of 2" in body["error"] and body["limit_items"] == 2
    assert city.state() == before


def test_rate_limit_answers_429_with_retry_after_per_token(city):
    limited = make_city(city.url, api_rate_per_minute=6, api_rate_burst=2)
    token, other = limited.token(), limited.token()
    leaf, u = _leaf_of(city, city.towns[0]), _uid()
    batch = [event(f"{u}-0", region=leaf)]
    assert _post(limited, EVENTS, batch, token)[0] == 201
    assert _post(limited, EVENTS, batch, token)[0] == 200
    resp = limited.app.server.test_client().post(EVENTS, json=batch, headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 429
    assert 1 <= int(resp.headers["Retry-After"]) <= 10
    assert "at most 6 requests a minute" in resp.get_json()["error"]
    assert _post(limited, EVENTS, batch, other)[0] == 200  # another token has its own bucket


def test_every_call_leaves_one_audit_row_with_token_kind_and_counts(city):
    token = city.token()
    name = city.scalar("SELECT name FROM api_tokens ORDER BY id DESC LIMIT 1")
    leaf, u = _leaf_of(city, city.towns[0]), _uid()
    _post(city, EVENTS, [event(f"{u}-{k}", region=leaf) for k in range(4)], token)
    _post(city, EVENTS, [event(f"{u}-{k}", region=leaf) for k in range(5)], token)
    _post(city, EVENTS, [event(f"{u}-9", region=leaf, severity=9)], token)
    with city.engine.connect() as conn:
        rows = conn.execute(text("SELECT action, outcome, target, detail FROM audit_log WHERE username = :u ORDER BY id"),
                            {"u": f"token:{name}"}).all()
    assert [(r.action, r.outcome, r.target) for r in rows] == [("import", "ok", EVENTS)] * 2 + [("import", "failed", EVENTS)]
    assert rows[0].detail == "events: received=4 created=4 duplicate=0"
    assert rows[1].detail == "events: received=5 created=1 duplicate=4"
    assert "HTTP 422" in rows[2].detail and "1 problem" in rows[2].detail


# ---------------------------------------------------------------------------------------------- OpenAPI


def test_openapi_describes_every_route_of_the_blueprint(city):
    spec = city.app.server.test_client().get(f"{API_PREFIX}/openapi.json").get_json()
    assert spec == json.loads(json.dumps(openapi_spec()))
    routes = [(re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule), method.lower())
              for rule in city.app.server.url_map.iter_rules() if rule.endpoint.startswith("api_v1.")
              for method in rule.methods - {"HEAD", "OPTIONS"}]
    assert len(routes) >= 9
    for path, method in routes:
        if path.endswith("/openapi.json"):
            continue
        assert method in spec["paths"].get(path, {}), (method, path)
    schemas = spec["components"]["schemas"]
    for kind in ("events", "readings", "values"):
        post = spec["paths"][f"{API_PREFIX}/{kind}"]["post"]
        assert {"201", "200", "400", "401", "403", "413", "422", "429"} <= set(post["responses"])
        ref = post["requestBody"]["content"]["application/json"]["schema"]["oneOf"][0]["items"]["$ref"]
        item = schemas[ref.rsplit("/", 1)[1]]
        assert set(item["required"]) <= set(item["properties"])
    event_item = schemas["EventItem"]
    assert {"id", "source", "category", "theme", "severity", "title", "reported_at", "status"} == set(event_item["required"])
    assert event_item["properties"]["severity"]["minimum"] == 1 and event_item["properties"]["severity"]["maximum"] == 4
    assert spec["paths"][EVENTS]["get"]  # the read endpoint is still described


def test_events_after_a_gap_in_the_id_sequence_are_all_rolled_up(city):
    """PostgreSQL's sequence skips the ids of rolled-back inserts: the new-id range must be read back."""
    if city.engine.dialect.name != "postgresql":
        pytest.skip("SQLite numbers new rows MAX(rowid) + 1: its ids have no gaps")
    with city.engine.begin() as conn:  # what a rolled-back batch leaves behind: used-up sequence values
        conn.execute(text("SELECT nextval(pg_get_serial_sequence('events', 'id')) FROM generate_series(1, 7)"))
    leaf, u = _leaf_of(city, city.towns[0]), _uid()
    batch = [event(f"{u}-{k}", region=leaf, category="gap") for k in range(5)]
    status, body = _post(city, EVENTS, batch, city.token())
    assert status == 201 and body["created"] == 5
    month = datetime.fromisoformat(batch[0]["reported_at"]).strftime("%Y-%m-01")
    assert city.scalar("SELECT SUM(n) FROM event_monthly WHERE region_code = :r AND month = :m AND category = 'gap'",
                       r=city.root, m=month) == 5
