"""What the browser fetches besides callback answers. Boundaries by parent: ``/geo/children/<code>.json`` holds the children of one area (what the map draws for
it), compressed, kept by the browser for as long as the geometry version in the URL, and refused (404, as for
an unknown area) outside the caller's scope. plotly.js is the custom bundle from assets/ (the traces drawn), never also Dash's
full one."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

from plotly.offline import get_plotlyjs_version
from sqlalchemy import text

from callbacks.geo import children_url


def _children(city, code: str) -> list[str]:  # noqa: ANN001
    with city.engine.connect() as conn:
        return list(conn.execute(text("SELECT code FROM regions WHERE parent_code = :c ORDER BY code"), {"c": code}).scalars())


def _features(resp) -> list[str]:  # noqa: ANN001
    body = gzip.decompress(resp.data) if resp.headers.get("Content-Encoding") == "gzip" else resp.data
    return [f["id"] for f in json.loads(body)["features"]]


def test_children_boundaries_hold_only_the_areas_children_gzipped_and_kept_by_the_browser(city_sqlite):
    client = city_sqlite.client("leader")
    resp = client.get(children_url(city_sqlite.root, 1), headers={"Accept-Encoding": "gzip"})
    assert resp.status_code == 200 and resp.mimetype == "application/geo+json"
    assert resp.headers["Content-Encoding"] == "gzip"
    assert _features(resp) == _children(city_sqlite, city_sqlite.root)
    assert resp.headers["Cache-Control"] == "private, max-age=31536000, immutable"
    town = client.get(children_url(city_sqlite.own, 1), headers={"Accept-Encoding": "gzip"})
    assert _features(town) == _children(city_sqlite, city_sqlite.own) == city_sqlite.own_children
    level = client.get("/geo/level-2.json?v=1&s=all", headers={"Accept-Encoding": "identity"})
    assert len(town.data) < len(gzip.compress(level.data)) / 2  # one township's communities, not the whole level


def test_whole_level_boundaries_are_gzipped_too(city_sqlite):
    resp = city_sqlite.client("leader").get("/geo/level-2.json?v=1&s=all", headers={"Accept-Encoding": "gzip"})
    assert resp.status_code == 200 and resp.headers["Content-Encoding"] == "gzip"
    assert len(_features(resp)) > len(city_sqlite.own_children)


def test_a_township_officer_gets_children_only_within_the_township(city_sqlite):
    client = city_sqlite.client("township")
    assert _features(client.get(f"/geo/children/{city_sqlite.own}.json")) == city_sqlite.own_children
    for code in (city_sqlite.root, city_sqlite.other, city_sqlite.other_children[0], "no-such-area", "a%00b", "<x>"):
        resp = client.get(f"/geo/children/{code}.json")
        assert resp.status_code == 404, code
        assert resp.get_json() == {"error": "unknown area"}, code
        assert "immutable" not in resp.headers.get("Cache-Control", ""), code  # a refusal is never kept


def test_children_boundaries_need_a_signed_in_caller(city_sqlite):
    resp = city_sqlite.app.server.test_client().get(f"/geo/children/{city_sqlite.root}.json")
    assert resp.status_code in (302, 401)
    assert b"FeatureCollection" not in resp.data


def test_the_page_carries_its_icon_inline(city_sqlite):
    page = city_sqlite.client("leader").get("/").get_data(as_text=True)
    assert '<link rel="icon" type="image/x-icon" href="data:image/x-icon;base64,' in page
    assert "_favicon.ico" not in page  # chromium would fetch it again on every drill


def test_the_favicon_is_kept_by_the_browser(city_sqlite):
    resp = city_sqlite.client("leader").get("/_favicon.ico?v=1")
    assert resp.status_code == 200
    assert resp.headers["Cache-Control"] == "public, max-age=31536000, immutable"


def test_the_page_loads_the_custom_plotly_bundle_and_not_the_full_one(city_sqlite):
    page = city_sqlite.client("leader").get("/").get_data(as_text=True)
    assert "/assets/plotly-ioc.min.js" in page
    assert "plotly.min.js" not in page.replace("plotly-ioc.min.js", "")  # Dash's 4.8 MB bundle stays out
    bundle = (Path(__file__).parents[2] / "assets" / "plotly-ioc.min.js").read_text()[:200]
    assert f"minified) v{get_plotlyjs_version()}" in bundle  # the version plotly.py expects
    assert "MIT license" in bundle


def test_the_plotly_bundle_holds_every_trace_type_the_pages_draw():
    root = Path(__file__).parents[2]
    header = (root / "assets" / "plotly-ioc.min.js").read_text()[:300]
    bundled = set(re.search(r"ioc custom: ([a-z ]+) - minified", header).group(1).split()) | {"scatter"}
    drawn = {
        name.lower()
        for folder in ("callbacks", "layouts", "datasources")
        for path in (root / folder).rglob("*.py")
        for name in re.findall(r"\bgo\.([A-Z][a-z]+)\(", path.read_text())
    } - {"figure"}
    assert drawn, "no trace found: the pattern no longer matches how the pages build figures"
    assert drawn <= bundled, f"add {sorted(drawn - bundled)} to TRACES in scripts/plotly-bundle.sh and rebuild"
