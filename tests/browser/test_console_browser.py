"""The duty console in a real browser (Debian chromium), signed in as ``duty``, on its own copy of the
county demo (a dispatch writes, and other tests read the shared database): filter, select an event (the
map moves to it, the detail shows its history and SOP), dispatch it in one click, and the database holds
the step with actor 'duty' and a time. Screenshots at 1920x1080 and 1366x768 (both languages)."""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path
from urllib.parse import urlencode

import pytest
from playwright.sync_api import Browser
from sqlalchemy import text
from werkzeug.serving import make_server

from callbacks.security import QuietRequestHandler
from datasources.catalog_loader import event_categories
from tests.browser.conftest import SignedInPages
from tests.conftest import need

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SCREENSHOTS = Path(__file__).parent / "screenshots"
CONSOLE_MAP = "(() => { const gd = document.querySelector('#console-geo .js-plotly-plot'); " \
              "const s = gd && gd._fullLayout && gd._fullLayout.map && gd._fullLayout.map._subplot; return s && s.map; })()"


@pytest.fixture(scope="module")
def console_server(request, tmp_path_factory):
    """(base URL, engine) of an app on a private copy of the county demo, served in a thread."""
    from app import create_app

    url = os.environ.get("IOC_TEST_COUNTY_URL") or request.getfixturevalue("county_sqlite")[0]
    if not url.startswith("sqlite:///"):
        need("the console browser test copies a SQLite county database")
    copy = tmp_path_factory.mktemp("console-county") / "county.db"
    shutil.copy(url.removeprefix("sqlite:///"), copy)
    app = create_app({"database_url": f"sqlite:///{copy}"})
    server = make_server("127.0.0.1", 0, app.server, threaded=True, request_handler=QuietRequestHandler)
    thread = threading.Thread(target=server.serve_forever, name="ioc-console-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", app.server.config["IOC_SERVICES"].base_repo.engine
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()


@pytest.fixture
def console_page(chromium_browser: Browser, console_server, demo_password):
    """``console_page(width, height, user, path)``: a signed-in page on ``path``; after the test, no console
    error and no request off the server's origin."""
    pages = SignedInPages(chromium_browser, console_server[0], demo_password)

    def open_page(width: int, height: int, user: str = "duty", path: str = "/console"):  # noqa: ANN202
        page = pages.open(user, path, width, height)
        page.wait_for_selector(".console-item")
        return page

    yield open_page
    pages.close_and_check()


def pick(page, dropdown: str, option: str) -> None:  # noqa: ANN001
    page.click(f"#{dropdown}")
    page.get_by_role("option", name=option, exact=True).click()


def smallest_text_px(page) -> float:  # noqa: ANN001
    """The smallest computed font size of any visible text in the console's main area."""
    return page.evaluate("""() => {
        let min = 1e9;
        for (const el of document.querySelectorAll('.console-main *')) {
            const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
            const r = el.getBoundingClientRect();
            if (own && r.width && r.height) min = Math.min(min, parseFloat(getComputedStyle(el).fontSize));
        }
        return min;
    }""")


def test_filter_select_and_dispatch_in_one_click(console_page, console_server):
    base, engine = console_server
    SCREENSHOTS.mkdir(exist_ok=True)
    page = console_page(1920, 1080)
    with engine.connect() as conn:
        n_reported = conn.execute(text("SELECT COUNT(*) FROM events WHERE status = 'reported'")).scalar_one()
    assert n_reported > 0, "the county demo has no reported event to dispatch"
    pick(page, "console-status", "待派遣")
    page.wait_for_function("(n) => document.querySelector('#console-count').textContent.startsWith(`共 ${n.toLocaleString('en-US')} 件`)",
                           arg=n_reported)
    rows = page.locator(".console-item")
    assert rows.count() == min(n_reported, 200)
    assert all("待派遣" in s for s in rows.locator(".item-status").all_inner_texts())

    first = rows.first
    event_id = int(first.get_attribute("data-event"))
    with engine.connect() as conn:
        ev = conn.execute(text("SELECT category, lon, lat FROM events WHERE id = :i"), {"i": event_id}).mappings().one()
    first.click()
    page.wait_for_function("(id) => document.querySelector('#console-detail-title')?.dataset.event === String(id)", arg=event_id)
    # The map moved to the event and rings it.
    page.wait_for_function(
        """([lon, lat]) => { const m = MAP; if (!m || m.isMoving()) return false;
            const c = m.getCenter(); return Math.abs(c.lng - lon) < 1e-3 && Math.abs(c.lat - lat) < 1e-3 && m.getZoom() > 12; }"""
        .replace("MAP", CONSOLE_MAP), arg=[ev["lon"], ev["lat"]])
    ring = page.evaluate("() => { const gd = document.querySelector('#console-geo .js-plotly-plot'); const r = gd.data.find(t => t.name === 'selected'); return [r.lon, r.lat]; }")
    assert ring == [[ev["lon"]], [ev["lat"]]]
    assert "selected" in first.get_attribute("class")
    # History (the report) and the category's standard operating steps.
    assert page.locator(".history-step").first.get_attribute("data-step") == "reported"
    sop = page.locator("#console-sop label").all_inner_texts()
    assert [s.strip() for s in sop] == list(event_categories()[ev["category"]].sop_zh)
    page.screenshot(path=str(SCREENSHOTS / "console-1920x1080.png"))

    # One click: dispatch to the suggested department.
    page.click("[id*='\"type\":\"console-step\"'][id*='\"status\":\"dispatched\"']")
    page.wait_for_function("() => document.querySelector('#console-feedback').textContent.startsWith('已记录：派遣 · duty')")
    with engine.connect() as conn:
        step = conn.execute(text("SELECT actor, at, to_status, department FROM event_steps WHERE event_id = :i"), {"i": event_id}).mappings().all()
    assert len(step) == 1 and step[0]["actor"] == "duty" and step[0]["to_status"] == "dispatched" and step[0]["at"] > 0
    assert step[0]["department"] == event_categories()[ev["category"]].department
    # The detail follows: dispatched, with the next step offered and the dispatch in the history.
    page.wait_for_selector(".history-step[data-step='dispatched'] .history-who")
    assert "duty" in page.locator(".history-step[data-step='dispatched'] .history-who").inner_text()
    page.wait_for_selector("[id*='\"status\":\"processing\"']")


def test_countdown_ticks_in_the_browser_and_overdue_rows_are_red(console_page):
    page = console_page(1920, 1080)
    row = page.locator(".console-item.overdue").first
    assert row.count() and "超时" in row.locator(".due").inner_text()
    assert page.evaluate("(el) => getComputedStyle(el).color", row.locator(".due").element_handle()) == "rgb(255, 107, 107)"
    # Give the first row a due time 65 s ahead (the browser's view of the server clock): the client-side
    # countdown rewrites it every second without a server round trip.
    page.evaluate("""() => { const el = document.querySelector('.console-item .due[data-due]');
        el.dataset.due = String(Date.now() + window.__iocSkew + 65000); }""")
    page.wait_for_function("() => /^剩余 1分0[0-5]秒$/.test(document.querySelector('.console-item .due[data-due]').textContent)")
    first = page.locator(".console-item .due[data-due]").first.inner_text()
    page.wait_for_function("(t) => document.querySelector('.console-item .due[data-due]').textContent !== t", arg=first)


@pytest.mark.parametrize(("width", "height", "lang"), [(1366, 768, "zh"), (1366, 768, "en"), (1920, 1080, "en")])
def test_layout_sizes_and_languages(console_page, width, height, lang):
    path = "/console" + ("?" + urlencode({"lang": "en"}) if lang == "en" else "")
    page = console_page(width, height, path=path)
    page.locator(".console-item").first.click()
    page.wait_for_selector("#console-detail-title")
    page.wait_for_selector(".history-step")
    if lang == "en":
        page.wait_for_function("() => document.querySelector('#console-count').textContent.includes('events')")
    assert smallest_text_px(page) >= 12
    # Nothing spills out of the window.
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth && document.documentElement.scrollHeight <= window.innerHeight")
    page.screenshot(path=str(SCREENSHOTS / f"console-{width}x{height}-{lang}.png"))


def test_read_only_for_a_leader(console_page):
    page = console_page(1366, 768, user="leader")
    pick(page, "console-status", "待派遣")
    page.wait_for_function("() => document.querySelector('.console-item .item-status')?.textContent === '待派遣'")
    page.locator(".console-item").first.click()
    button = page.locator("[id*='\"status\":\"dispatched\"']")
    button.wait_for()
    assert button.is_disabled() and button.get_attribute("title") == "只读：当前账户没有调度权限"
    assert page.locator(".console-readonly").inner_text() == "只读：当前账户没有调度权限"
