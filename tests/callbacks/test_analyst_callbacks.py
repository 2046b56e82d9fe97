"""The analyst page's callbacks called as plain functions on the mini demo: a view restored from its URL,
controls written to the URL with dependent values dropped, bad URL parameters named on screen, a click
drilling into paged records, and the page served to the roles that may export."""

from __future__ import annotations

import flask
import pytest
from dash import no_update

from callbacks import analyst
from datasources.access.roles import Principal
from layouts import ids

TOWN = "510182002"
N = len(analyst.CONTROLS)


@pytest.fixture(scope="module")
def app(mini_sqlite):
    from app import create_app

    return create_app({"database_url": mini_sqlite, "cache_type": "NullCache"})


@pytest.fixture(scope="module")
def services(app):
    return app.server.config["IOC_SERVICES"]


def _controls(out: tuple) -> dict:
    return {param: value for (_cid, param), value in zip(analyst.CONTROLS, out[1:1 + N], strict=True)}


def test_a_view_is_restored_from_its_url(services):
    search = (f"?areas={TOWN}&from=2026-01&to=2026-09&gran=quarter&theme=environment&ind=env_aqi,env_pm25&src=grid"
              "&cat=sanitation&status=closed&sev=1,2&cmp=mom&lang=en")
    out = analyst.sync_view(services, ids.URL, search, [None] * N)
    assert out[0] is no_update  # the URL stays as it is
    assert _controls(out) == {"areas": [TOWN], "from": "2026-01", "to": "2026-09", "gran": "quarter", "theme": "environment",
                              "ind": ["env_aqi", "env_pm25"], "src": ["grid"], "cat": ["sanitation"], "status": ["closed"],
                              "sev": [1, 2], "cmp": "mom", "cmp_from": None, "cmp_to": None}
    indicator_values = [o["value"] for o in out[1 + N] if not o.get("disabled")]
    assert "env_aqi" in indicator_values and not any(v.startswith("eco_") for v in indicator_values)
    assert {o["value"] for o in out[2 + N]} >= {"sanitation"} and "consult" not in {o["value"] for o in out[2 + N]}


def test_controls_write_the_url_and_drop_what_no_longer_fits(services):
    controls = [[TOWN], "2026-02", "2026-05", "month", "environment", ["eco_4g_coverage", "env_aqi"], ["hotline"],
                ["consult", "sanitation"], [], [3], "yoy", None, None]
    out = analyst.sync_view(services, ids.ANALYST_THEME, "?lang=en", controls)
    assert out[0] == f"?areas={TOWN}&from=2026-02&to=2026-05&theme=environment&ind=env_aqi&src=hotline&cat=consult&sev=3&lang=en"
    values = _controls(out)
    assert values["ind"] == ["env_aqi"] and values["cat"] == ["consult"]


def test_a_box_selection_on_the_map_sets_the_areas(services):
    selected = {"points": [{"customdata": "510182001"}, {"customdata": TOWN}, {"customdata": "<bad>"}]}
    out = analyst.sync_view(services, ids.ANALYST_MAP, "", [[], None, None, "month", None, [], [], [], [], [], "yoy", None, None],
                            selected)
    assert out[0] == f"?areas=510182001%2C{TOWN}"
    assert _controls(out)["areas"] == ["510182001", TOWN]


@pytest.mark.parametrize(("search", "param"), [
    ("?from=2026-13", "from"), ("?gran=week", "gran"), ("?ind=nope", "ind"), ("?sev=9", "sev"), ("?areas=a'b", "areas"),
])
def test_a_bad_url_parameter_is_named_on_screen(services, search, param):
    out = analyst.render(services, search)
    assert f"'{param}'" in out[-1]
    assert "Traceback" not in out[-1]
    columns, rows, pages, total = analyst.records_view(services, search, None, "events", 0, 25, [], "")
    assert rows == [] and f"'{param}'" in total


def test_an_area_outside_the_scope_is_refused_by_name(app, services):
    with app.server.test_request_context():
        flask.g.ioc_principal = Principal("township", "township", scope=TOWN)
        out = analyst.render(services, "?areas=510182001")
        assert "510182001" in out[-1]
        figures = analyst.render(services, "")
        assert figures[-1] == "" and set(figures[5].data[0].locations) <= {f"{TOWN}{i:03d}" for i in range(1000)}


def test_a_click_on_a_ranking_bar_opens_that_areas_records_page_by_page(services):
    drill = analyst.drill_of(ids.analyst_graph("ranking"), {"points": [{"customdata": TOWN, "x": "水合镇"}]})
    assert drill == {"records": "events", "area": TOWN}
    _cols, first, pages, total = analyst.records_view(services, "", drill, "events", 0, 25, [], "")
    _cols, second, _pages, _total = analyst.records_view(services, "", drill, "events", 1, 25, [], "")
    assert pages > 2 and len(first) == len(second) == 25
    assert {r["region_code"][:9] for r in first + second} == {TOWN}
    assert not {r["id"] for r in first} & {r["id"] for r in second}
    _cols, sev, _p, _t = analyst.records_view(services, "", drill, "events", 0, 25, [{"column_id": "severity", "direction": "asc"}],
                                              "{status} = closed")
    assert [r["severity"] for r in sev] == sorted(r["severity"] for r in sev) and {r["status"] for r in sev} == {"closed"}


def test_a_click_on_a_trend_point_opens_that_months_values(services):
    drill = analyst.drill_of(ids.analyst_graph("trend"), {"points": [{"customdata": [TOWN, "2026-03-01"]}]})
    assert drill == {"records": "values", "area": TOWN, "month": "2026-03"}
    _cols, rows, _pages, _total = analyst.records_view(services, "?ind=env_aqi", drill, "values", 0, 100, [], "")
    assert rows and {r["period"] for r in rows} == {"2026-03-01"} and {r["indicator_code"] for r in rows} == {"env_aqi"}


@pytest.mark.parametrize("role", ["analyst", "leader", "township"])
def test_the_page_is_served_to_roles_that_may_export(app, services, role):
    from callbacks import router

    pages = {"analyst": router.PageSpec("analyst", "/analyst", lambda ctx, lang: analyst.page(services, ctx, lang), "export")}
    with app.server.test_request_context():
        flask.g.ioc_principal = Principal(role, role, scope=TOWN if role == "township" else None)
        key, body = router.page_body(services, pages, "/analyst", "zh")
        assert key == "analyst" and ids.ANALYST_RECORDS in str(body)
        flask.g.ioc_principal = Principal("feed", "feed")
        assert ids.ANALYST_RECORDS not in str(router.page_body(services, pages, "/analyst", "zh")[1])
