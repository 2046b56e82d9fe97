"""``GET /api/v1/scores``: the composite scores of an area and its children and what pulls the chosen score
down, for the hand-made city (figures worked out in tests/unit/test_scores.py), limited to the token's scope."""

from __future__ import annotations

import pytest

from app import create_app
from datasources import db
from datasources.access.accounts import Accounts
from tests.conftest import sqlite_copy
from tests.numbers_fixture import A3, CITY, TA, TB


@pytest.fixture(scope="module")
def api(numbers_sqlite, tmp_path_factory):
    """A test client of the app on a copy of the numbers city, and (all, township A) bearer headers."""
    url = sqlite_copy(numbers_sqlite, tmp_path_factory.mktemp("scores-api") / "numbers.db")
    app = create_app({"database_url": url, "cache_type": "NullCache"})
    accounts = Accounts(db.make_engine(url))
    everything, _ = accounts.create_token("scores-reader", "analyst", None, actor="test")
    town, _ = accounts.create_token("scores-town", "analyst", TA, actor="test")
    return app.server.test_client(), {"Authorization": f"Bearer {everything}"}, {"Authorization": f"Bearer {town}"}


def test_the_city_overall_score_its_townships_and_what_pulls_it_down(api):
    client, everything, _ = api
    body = client.get("/api/v1/scores?period=2026-10", headers=everything).get_json()
    assert (body["area"], body["period"], body["score"]) == (CITY, "2026-10", "overall")
    assert body["scores"]["overall"] == pytest.approx(51.5)
    assert body["counts"]["overall"] == [4, 4]
    assert [(c["code"], c["scores"]["overall"]) for c in body["children"]] == [
        (TA, pytest.approx(74.375)), (TB, pytest.approx(24.6875))]
    expl = body["explanation"]
    assert [(r["code"], r["lost"], r["period"]) for r in expl["indicators"]] == [
        ("gov_last", pytest.approx(25.0), "2026-07"), ("svc_wmean", pytest.approx(11.75), "2026-10"),
        ("env_pm25", pytest.approx(8.75), "2026-10")]
    assert [c["code"] for c in expl["children"]] == [TB]


def test_a_theme_score_of_a_township(api):
    client, everything, town = api
    for headers in (everything, town):
        body = client.get(f"/api/v1/scores?area={TA}&period=2026-10&score=environment", headers=headers).get_json()
        assert body["scores"]["environment"] == pytest.approx(82.5)
        assert [c["code"] for c in body["explanation"]["children"]] == [A3]


def test_bad_parameters_and_areas_outside_the_scope(api):
    client, everything, town = api
    resp = client.get("/api/v1/scores?score=happiness", headers=everything)
    assert resp.status_code == 400 and resp.get_json()["parameter"] == "score"
    resp = client.get("/api/v1/scores?period=2026-13", headers=everything)
    assert resp.status_code == 400 and resp.get_json()["parameter"] == "period"
    for area in (TB, CITY):
        resp = client.get(f"/api/v1/scores?area={area}", headers=town)
        assert resp.status_code == 404 and resp.get_json() == {"error": "unknown area", "parameter": "area"}
    assert client.get("/api/v1/scores").status_code == 401
