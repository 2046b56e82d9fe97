"""The video wall (``?kiosk=1``) in a real browser, on one server of its own that the tests stop and start
again on the same port: the wall shows no controls, its playlist advances (across pages, in place), it says
it is reconnecting while the server is gone and comes back by itself -- still signed in -- when the server
is up again; a new grade I alert makes it jump to the alert's area, hold there, then resume."""

from __future__ import annotations

import contextlib
import shutil
import socket
import threading
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page
from werkzeug.serving import make_server

from callbacks.security import QuietRequestHandler
from datasources.ingest import Writer
from tests.browser.conftest import _leaves_origin, sign_in
from tests.conftest import AS_OF

pytestmark = pytest.mark.browser

SHOTS = Path(__file__).resolve().parent / "screenshots"
PLAYLIST = """order,path,area,indicator,dwell_s
1,/,,,2
2,/theme/economy,,,2
3,/,@attention:2,,2
"""
HOLD_SECONDS = 20  # long enough to see it on a busy 2-core machine
STATUS = "() => (document.querySelector('#kiosk-status') || {}).textContent || ''"
#: What a browser logs while the server it talks to is gone (and nothing else may be logged then).
OUTAGE_ERRORS = ("Failed to load resource", "net::ERR_CONNECTION_REFUSED", "Callback failed", "the server did not respond",
                 "Failed to fetch", "Server returned an error")


class RestartableServer:
    """The app served by werkzeug in a thread; ``stop`` ends it like a process exit (the listening socket
    and every kept-alive connection closed), ``start`` builds a new app on the same database and port."""

    def __init__(self, config: dict):
        self.config, self.port, self.app = config, 0, None
        self._server = self._thread = None
        self._conns: list[socket.socket] = []

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        from app import create_app

        self.app = create_app(self.config)
        self._server = make_server("127.0.0.1", self.port, self.app.server, threaded=True, request_handler=QuietRequestHandler)
        accept = self._server.get_request

        def get_request():  # noqa: ANN202
            conn, addr = accept()
            self._conns.append(conn)
            return conn, addr

        self._server.get_request = get_request
        self.port = self._server.server_port
        self._thread = threading.Thread(target=self._server.serve_forever, name="kiosk-test-server", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=10)
        self._server.server_close()
        for conn in self._conns:
            with contextlib.suppress(OSError):  # already closed by its handler
                conn.shutdown(socket.SHUT_RDWR)
        self._conns.clear()
        self.app.server.config["IOC_SERVICES"].base_repo.engine.dispose()


@pytest.fixture(scope="module")
def wall_server(mini_pristine, tmp_path_factory):
    """A restartable server on a private copy of the mini demo (a test writes an alert into it)."""
    folder = tmp_path_factory.mktemp("kiosk")
    shutil.copy(mini_pristine.removeprefix("sqlite:///"), folder / "wall.db")
    (folder / "playlist.csv").write_text(PLAYLIST, encoding="utf-8")
    server = RestartableServer({"database_url": f"sqlite:///{folder / 'wall.db'}", "kiosk_playlist": str(folder / "playlist.csv"),
                                "kiosk_health_seconds": 1, "kiosk_hold_seconds": HOLD_SECONDS})
    server.start()
    yield server
    server.stop()


class Wall:
    """One signed-in wall page and what it logged; ``outage`` marks the time the server is away."""

    def __init__(self, browser: Browser, base: str, width: int, height: int):
        self.base = base
        self.context = browser.new_context(viewport={"width": width, "height": height}, device_scale_factor=1,
                                           locale="zh-CN", timezone_id="Asia/Shanghai")
        self.page: Page = self.context.new_page()
        self.page.set_default_timeout(30_000)
        self.errors: list[str] = []
        self.outage_errors: list[str] = []
        self.requests: list[str] = []
        self.outage = False
        self.context.on("console", lambda m: self._error(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda exc: self._error(f"uncaught: {exc}"))
        self.context.on("request", lambda r: self.requests.append(r.url))

    def _error(self, text: str) -> None:
        (self.outage_errors if self.outage else self.errors).append(text)

    def open(self, path: str) -> None:
        sign_in(self.page, self.base, "leader", "demo", next_path=path)
        self.page.wait_for_selector("#kiosk-wall", state="attached")

    def wait_for_path(self, predicate_js: str, timeout: float = 60_000) -> None:
        self.page.wait_for_function(f"() => {{ const p = location.pathname, q = location.search; return {predicate_js}; }}", timeout=timeout)

    def close_and_check(self) -> None:
        self.context.close()
        assert not self.errors, "console errors:\n" + "\n".join(self.errors)
        unexpected = [e for e in self.outage_errors if not any(k in e for k in OUTAGE_ERRORS)]
        assert not unexpected, "console errors while the server was away:\n" + "\n".join(unexpected)
        off = [u for u in self.requests if _leaves_origin(u, self.base)]
        assert not off, f"requests off the origin: {off}"


def _wait_for_area_drawn(page: Page) -> None:
    """Until the cockpit shows the area its URL names (the breadcrumb's current area; the city without one)
    and its map has drawn."""
    page.wait_for_function("""() => {
        const cur = document.querySelector('#breadcrumb .crumb.current');
        const area = new URLSearchParams(location.search).get('area');
        const root = document.querySelector('#breadcrumb [data-code]');
        return !!(cur && root && cur.dataset.code === (area || root.dataset.code))
            && !document.querySelector('.dash-graph--pending');
    }""", timeout=60_000)


def test_the_wall_rotates_without_controls_and_comes_back_by_itself_after_a_restart(chromium_browser, wall_server):
    wall = Wall(chromium_browser, wall_server.base, 1920, 1080)
    page = wall.page
    try:
        wall.open("/?kiosk=1")
        page.wait_for_function(f"() => ({STATUS})().startsWith('轮播 1 /')")
        for selector in ("#page-nav", "#page-menu", "#lang-toggle", ".mode-select", ".layer-box", ".map-controls", ".logout-form"):
            assert not page.locator(selector).first.is_visible(), f"{selector} shows on the wall"
        _wait_for_area_drawn(page)
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "kiosk-cockpit-zh-1920x1080.png"))
        page.evaluate("() => { window.__sameDocument = true; }")

        # The playlist advances in place: another page, then the townships that need attention most.
        wall.wait_for_path("p === '/theme/economy' && q.includes('kiosk=1')")
        wall.wait_for_path("p === '/' && q.includes('area=') && q.includes('kiosk=1')")
        assert page.evaluate("() => window.__sameDocument === true"), "a step reloaded the page"
        assert page.locator("#kiosk-wall").count() == 1
        # Dash's undo history (an entry per interval tick, 2-3 a second) stays short on the wall.
        assert page.evaluate("() => Math.max(...window.dash_stores.map(s => s.getState().history.past.length))") <= 30

        wall.outage = True
        wall_server.stop()
        page.wait_for_function("() => !document.querySelector('#kiosk-badge').hidden", timeout=30_000)
        assert "连接中断" in page.inner_text("#kiosk-badge")
        away_at = page.evaluate("() => location.pathname + location.search")
        page.screenshot(path=str(SHOTS / "kiosk-reconnecting-zh-1920x1080.png"))

        # Past the end of the step's dwell (the wall's own record of it, in sessionStorage) plus two ticks:
        # the rotation keeps still while the server is away, so the last data stays on the wall.
        page.wait_for_function("""() => {
            const s = JSON.parse(sessionStorage.getItem('kiosk-state') || 'null');
            return !!s && Date.now() > s.at + 2000 + 2000;
        }""", timeout=30_000)
        assert page.evaluate("() => location.pathname + location.search") == away_at
        wall_server.start()  # a new app on the same port: a restarted server
        page.wait_for_function("() => window.__sameDocument === undefined && !!document.querySelector('#kiosk-wall')",
                               timeout=60_000)
        wall.outage = False
        assert "/login" not in page.url, "the wall lost its session in the restart"
        assert "kiosk=1" in page.url
        page.wait_for_function("() => document.querySelector('#kiosk-badge').hidden")
        # ... and the playlist goes on from where it was (its place is kept in sessionStorage).
        before = page.evaluate("() => location.pathname + location.search")
        page.wait_for_function("(b) => location.pathname + location.search !== b", arg=before, timeout=60_000)
        assert "kiosk=1" in page.url
    finally:
        wall.close_and_check()


def test_a_new_grade_one_alert_takes_the_wall_to_its_area_then_the_playlist_resumes(chromium_browser, wall_server):
    wall = Wall(chromium_browser, wall_server.base, 1366, 768)
    page = wall.page
    try:
        wall.open("/?kiosk=1&lang=en")
        page.wait_for_function(f"() => ({STATUS})().startsWith('Rotation')")
        services = wall_server.app.server.config["IOC_SERVICES"]
        repo = services.base_repo
        township = repo.children(repo.root_code())[-1]
        Writer(repo.engine, clock=lambda: AS_OF).events([{
            "source": "emergency", "category": "hazmat", "theme": "emergency", "severity": 1, "title": "危化品泄漏测试",
            "lon": township["centroid_lon"], "lat": township["centroid_lat"], "reported_at": AS_OF,  # as new as the newest alert of the demo: the newer id decides
            "status": "reported",
        }])
        alert = repo.newest_severe_alert(repo.root_code())
        assert alert["severity"] == 1
        page.wait_for_function("() => !document.querySelector('#kiosk-alert').hidden", timeout=30_000)
        # The alert shows at once; the wall goes to its area as soon as the page on screen has finished drawing.
        page.wait_for_function("(code) => new URLSearchParams(location.search).get('area') === code", arg=alert["region_code"])
        assert page.inner_text("#kiosk-alert").startswith("Grade Ⅰ alert · ")
        assert page.evaluate(STATUS) == "Alert"
        assert "lang=en" in page.url and "kiosk=1" in page.url
        _wait_for_area_drawn(page)
        assert page.evaluate("() => document.querySelector('#breadcrumb .crumb.current').dataset.code") == alert["region_code"]
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "kiosk-alert-en-1366x768.png"))
        # It stays for the hold time, then the playlist takes over again.
        page.wait_for_function("() => document.querySelector('#kiosk-alert').hidden", timeout=(HOLD_SECONDS + 30) * 1000)
        page.wait_for_function(f"() => ({STATUS})().startsWith('Rotation')")
    finally:
        wall.close_and_check()
