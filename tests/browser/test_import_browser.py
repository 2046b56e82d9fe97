"""A city brought by its own files drills through in the cockpit without code changes: a synthetic city of
another shape (two levels below the top, and four) is imported with the import functions into a fresh
database after ``init``, values are imported at its leaf level, and a signed-in browser clicks down the map
to the deepest level; the breadcrumb names every level's area and the title names the imported top area."""

from __future__ import annotations

import threading

import pytest
from playwright.sync_api import Browser
from werkzeug.serving import make_server

from app import create_app, init_database
from callbacks.security import QuietRequestHandler
from config import Config
from datasources import db
from datasources.access.accounts import Accounts
from datasources.importers.boundaries import import_boundaries
from datasources.importers.values import import_values
from tests.browser.conftest import CockpitPage, SignedInPages
from tests.importers.city import TOP, write_city

pytestmark = [pytest.mark.browser, pytest.mark.slow]
PASSWORD = "import-test-password-1"
INDICATOR = "eco_market_entities"  # catalog level 2 (communities): the leaves of any imported tree


@pytest.fixture(params=[2, 4], ids=["2-levels-below-top", "4-levels-below-top"])
def imported_city(request, tmp_path):
    """(base URL, repository) of an app serving a freshly imported city ``depth`` levels deep."""
    depth = request.param
    url = f"sqlite:///{tmp_path / 'own.db'}"
    init_database(Config(database_url=url))
    engine = db.make_engine(url)
    (tmp_path / "city").mkdir()
    for level, path in enumerate(write_city(tmp_path / "city", depth)):
        import_boundaries(engine, path, level)
    leaves = [f"{TOP[0]}{''.join(bits)}" for bits in _bit_strings(depth)]
    values = tmp_path / "values.csv"
    values.write_text("indicator,region,period,value\n" + "".join(f"{INDICATOR},{c},2026-10,{k + 1}\n" for k, c in enumerate(leaves)),
                      encoding="utf-8")
    import_values(engine, values)
    Accounts(engine).create_user("chief", PASSWORD, "leader", None, actor="test")
    engine.dispose()
    app = create_app({"database_url": url, "secret_key": "s" * 32})
    repo = app.server.config["IOC_SERVICES"].base_repo
    server = make_server("127.0.0.1", 0, app.server, threaded=True, request_handler=QuietRequestHandler)
    thread = threading.Thread(target=server.serve_forever, name="ioc-import-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", repo
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()


def _bit_strings(depth: int) -> list[str]:
    return [format(k, f"0{depth}b").replace("1", "2").replace("0", "1") for k in range(2 ** depth)]


def test_the_cockpit_drills_through_an_imported_city_to_its_deepest_level(chromium_browser: Browser, imported_city):
    base, repo = imported_city
    pages = SignedInPages(chromium_browser, base, PASSWORD)
    page = pages.open("chief", f"/?indicator={INDICATOR}")
    cp = CockpitPage(page, base, repo, repo.periods()[0], "chief")
    root = repo.region(repo.root_code())
    assert root["name"] == TOP[1]
    page.wait_for_function("(t) => { const h = document.getElementById('header-title'); return !!(h && h.textContent.includes(t)); }", arg=TOP[1])
    assert not page.locator("#demo-badge").is_visible()  # not the demo: no demo mark
    path = [root]
    while children := repo.children(path[-1]["code"]):
        _wait_for_area(cp, path[-1]["code"])
        cp.wait_for_map_settled(path[-1]["code"])
        cp.click_region(children[-1])
        path.append(children[-1])
    _wait_for_area(cp, path[-1]["code"])
    assert len(path) == len(repo.level_names())
    crumbs = cp.breadcrumb()
    assert [c[0] for c in crumbs] == [r["code"] for r in path]
    assert [c[1] for c in crumbs] == [r["name"] for r in path]
    assert "彭州" not in page.locator("body").inner_text()
    pages.close_and_check()


def _wait_for_area(cp: CockpitPage, code: str) -> None:
    cp.page.wait_for_function(
        "(code) => { const c = document.querySelector('#breadcrumb .crumb.current'); return !!(c && c.dataset.code === code); }",
        arg=code)
