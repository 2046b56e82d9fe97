"""Live operations end to end in a real browser, on a private copy of the mini demo (these tests write):
an event posted to the ingest API shows on the cockpit's ticker and map without a reload; the duty officer
dispatches it from the console; the database holds each step with who and when; a mode switch on one
screen reaches a second browser context."""

from __future__ import annotations

import json
import shutil
import threading
import time
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser
from sqlalchemy import text
from werkzeug.serving import make_server

from callbacks.security import QuietRequestHandler
from datasources.access.accounts import Accounts
from layouts.map_figure import T_ALERT_CORE, T_OPEN
from tests.browser.conftest import GD, SignedInPages

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SCREENSHOTS = Path(__file__).parent / "screenshots"


@pytest.fixture(scope="module")
def live(mini_pristine, tmp_path_factory):
    """(base URL, engine, feed token, app config) of an app on a private copy of the mini demo."""
    from app import create_app

    copy = tmp_path_factory.mktemp("live") / "live.db"
    shutil.copy(mini_pristine.removeprefix("sqlite:///"), copy)
    app = create_app({"database_url": f"sqlite:///{copy}"})
    services = app.server.config["IOC_SERVICES"]
    engine = services.base_repo.engine
    token, _ = Accounts(engine).create_token("live-test-feed", "feed", None, actor="test")
    server = make_server("127.0.0.1", 0, app.server, threaded=True, request_handler=QuietRequestHandler)
    thread = threading.Thread(target=server.serve_forever, name="ioc-live-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", engine, token, services
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()


@pytest.fixture
def screen(chromium_browser: Browser, live):
    """``screen(user, path, width, height)``: a signed-in page in its own browser context; after the test,
    no console error and no request off the server's origin."""
    pages = SignedInPages(chromium_browser, live[0], live[3].config.demo_password)
    yield pages.open
    pages.close_and_check()


def post(base: str, token: str, path: str, body) -> tuple[int, dict]:  # noqa: ANN001
    req = urllib.request.Request(f"{base}{path}", data=json.dumps(body).encode(), method="POST", headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return resp.status, json.loads(resp.read())


def wait_cockpit_drawn(page) -> None:  # noqa: ANN001
    page.wait_for_function(f"() => {{ const gd = {GD}; return !!(gd && gd._fullData && gd._fullData[1].locations.length); }}")


def test_an_api_event_reaches_the_wall_and_is_dispatched_from_the_console(screen, live):
    base, engine, token, services = live
    SCREENSHOTS.mkdir(exist_ok=True)
    wall = screen("leader")
    wait_cockpit_drawn(wall)
    repo = services.base_repo
    town = repo.children(repo.root_code())[0]
    community = repo.children(town["code"])[0]
    title = f"实时测试火情 {int(time.time())}"
    sent_at = time.monotonic()
    status, answer = post(base, token, "/api/v1/events", [{
        "id": f"live-{int(time.time() * 1000)}", "source": "emergency", "category": "fire", "theme": "emergency",
        "severity": 1, "title": title, "lon": community["centroid_lon"], "lat": community["centroid_lat"],
        "reported_at": (datetime.now() - timedelta(minutes=1)).replace(microsecond=0).isoformat(), "status": "reported",
    }])
    assert status == 201 and answer["created"] == 1
    event_id = answer["items"][0]["event_id"]

    # Ticker: the new severe event's alert takes the pinned first place; map: the open event and the alert.
    wall.wait_for_function("(t) => (document.querySelector('#ticker-pinned')?.textContent || '').includes(t)", arg=title,
                           timeout=20_000)
    seen_after = time.monotonic() - sent_at
    wall.wait_for_function(
        """([t, openIdx, alertIdx, lon, lat]) => { const gd = GD; if (!gd || !gd._fullData) return false;
            const open = gd._fullData[openIdx], alert = gd._fullData[alertIdx];
            const near = (tr) => tr && (tr.lon || []).some((x, k) => Math.abs(x - lon) < 1e-3 && Math.abs(tr.lat[k] - lat) < 1e-3);
            return (open.text || []).some(s => s.includes(t)) && near(open) && near(alert); }""".replace("GD", GD),
        arg=[title, T_OPEN, T_ALERT_CORE, community["centroid_lon"], community["centroid_lat"]], timeout=20_000)
    assert {"tick-pinned", "sev-1"} <= set(wall.locator("#ticker-pinned .tick").get_attribute("class").split())
    wall.screenshot(path=str(SCREENSHOTS / "live-wall-new-alert.png"))
    print(f"\npost-to-visible on the wall (ticker, headless chromium): {seen_after:.1f} s")

    # The duty officer finds it in the console (reached through the header's link: no reload) and dispatches it.
    desk = screen("duty")
    wait_cockpit_drawn(desk)
    desk.click("#nav-console")
    desk.wait_for_selector(f".console-item[data-event='{event_id}']")
    assert desk.evaluate("() => location.pathname") == "/console"
    desk.click(f".console-item[data-event='{event_id}']")
    desk.wait_for_function("(id) => document.querySelector('#console-detail-title')?.dataset.event === String(id)",
                           arg=event_id)
    desk.click("[id*='\"type\":\"console-step\"'][id*='\"status\":\"dispatched\"']")
    desk.wait_for_selector(".history-step[data-step='dispatched'] .history-who")
    desk.click("[id*='\"type\":\"console-step\"'][id*='\"status\":\"processing\"']")
    desk.wait_for_selector(".history-step[data-step='processing'] .history-who")
    with engine.connect() as conn:
        steps = conn.execute(text("SELECT from_status, to_status, actor, at FROM event_steps WHERE event_id = :i ORDER BY id"),
                             {"i": event_id}).mappings().all()
        audit = conn.execute(text("SELECT action, username FROM audit_log WHERE target LIKE :t ORDER BY id"),
                             {"t": f"%{event_id}%"}).all()
        ev = conn.execute(text("SELECT status, department, dispatched_at FROM events WHERE id = :i"), {"i": event_id}).one()
    assert [(s["from_status"], s["to_status"], s["actor"]) for s in steps] == [
        ("reported", "dispatched", "duty"), ("dispatched", "processing", "duty")]
    assert all(s["at"] for s in steps) and ev.status == "processing" and ev.department and ev.dispatched_at
    assert [a.username for a in audit] == ["duty", "duty"]
    # Its alert (a severe event's) leads the console's alert list; the duty officer acknowledges it.
    with engine.connect() as conn:
        alert_id = conn.execute(text("SELECT id FROM alerts WHERE event_id = :i AND cleared_at IS NULL"), {"i": event_id}).scalar_one()
    desk.wait_for_function("(id) => document.querySelector('.console-alert')?.dataset.alert === String(id)", arg=alert_id)
    desk.click(f".console-alert[data-alert='{alert_id}'] .alert-acknowledge")
    desk.wait_for_function("(id) => (document.querySelector(`.console-alert[data-alert='${id}'] .alert-ack`)?.textContent || '').includes('duty')",
                           arg=alert_id)
    with engine.connect() as conn:
        acked = conn.execute(text("SELECT acknowledged_by, acknowledged_at FROM alerts WHERE id = :i"), {"i": alert_id}).one()
    assert acked.acknowledged_by == "duty" and acked.acknowledged_at
    desk.screenshot(path=str(SCREENSHOTS / "live-console-dispatched.png"))

    # The wall follows without a reload: the event is no longer 'reported' on the map's hover text.
    wall.wait_for_function(
        "([t, openIdx]) => ((GD)._fullData[openIdx].text || []).some(s => s.includes(t) && s.includes('处置中'))"
        .replace("GD", GD), arg=[title, T_OPEN], timeout=20_000)


def test_a_mode_switch_on_one_screen_reaches_another(screen, live):
    _base, engine, _token, _services = live
    desk = screen("duty")
    wall = screen("leader", width=1366, height=768)
    for page in (desk, wall):
        wait_cockpit_drawn(page)
    assert "日常" in wall.locator("#mode-select").inner_text()
    desk.click("#mode-select")
    desk.get_by_role("option", name="汛期", exact=True).click()
    # The other browser context learns it at its next poll: the mode, its layers and its poll interval.
    wall.wait_for_function("() => document.querySelector('#mode-select').textContent.includes('汛期')", timeout=20_000)
    wall.wait_for_function("() => document.querySelector('#ioc-header').className.includes('mode-flood')")
    for page in (wall, desk):  # the screen that switched turns its layers on too
        page.wait_for_function(
            "() => [...document.querySelectorAll('.layer-list input:checked')].map(e => e.value).includes('rain_gauge')")
    with engine.connect() as conn:
        row = conn.execute(text("SELECT username, ts, target, detail FROM audit_log WHERE action = 'mode_switch' "
                                "ORDER BY id DESC")).first()
    assert row.username == "duty" and row.target == "flood" and row.ts
    wall.screenshot(path=str(SCREENSHOTS / "live-wall-flood-1366x768.png"))
    # Back to daily from the wall (a leader may switch too): the desk follows.
    wall.click("#mode-select")
    wall.get_by_role("option", name="日常", exact=True).click()
    desk.wait_for_function("() => document.querySelector('#mode-select').textContent.includes('日常')", timeout=20_000)
    # The console follows too (it has no layers or panels to reorder: nothing may fail there), and a switch
    # made on the console reaches the wall.
    desk.click("#nav-console")
    desk.wait_for_selector(".console-item")
    wall.click("#mode-select")
    wall.get_by_role("option", name="应急", exact=True).click()
    desk.wait_for_function("() => document.querySelector('#ioc-header').className.includes('mode-emergency')", timeout=20_000)
    desk.click("#mode-select")
    desk.get_by_role("option", name="日常", exact=True).click()
    wall.wait_for_function("() => document.querySelector('#mode-select').textContent.includes('日常')", timeout=20_000)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_header_with_the_mode_selector_fits_a_laptop(screen, lang):
    from tests.browser.test_access_browser import HEADER_JS

    page = screen("duty", "/" if lang == "zh" else "/?lang=en", width=1366, height=768)
    wait_cockpit_drawn(page)
    if lang == "en":
        page.wait_for_function("() => document.getElementById('header-title').textContent.includes('City Operations Center')")
    page.evaluate("() => document.fonts.ready.then(() => true)")
    assert page.locator("#mode-select").is_visible()
    problems = page.evaluate(HEADER_JS)
    page.screenshot(path=str(SCREENSHOTS / f"live-header-duty-{lang}-1366x768.png"))
    assert not problems, problems
