"""Browser fixtures: the app on the county demo in a background thread, Debian's chromium, and ``cockpit``,
which opens pages that fail the test on any console error or any request leaving the server's origin.
Pages are signed in (as ``leader`` unless a test asks for another demo account, or for nobody): each
account signs in once per session through the real login form, and its cookies are reused.

Fixture names avoid pytest-playwright's (``browser``, ``context``, ``page``, ``playwright`` belong to it).
Set IOC_TEST_COUNTY_URL to the URL of an already built county database to skip the ~1-2 minute build.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest
from playwright.sync_api import Browser, Error, Page, sync_playwright
from werkzeug.serving import make_server

from callbacks.security import QuietRequestHandler
from layouts.kpi import format_value
from tests.conftest import need

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--enable-unsafe-swiftshader",
    "--use-angle=swiftshader",
]

# The plotly graph div and its MapLibre map (null until plotly has built the map subplot).
GD = "document.querySelector('#map .js-plotly-plot')"
MAP = f"(() => {{ const gd = {GD}; const s = gd && gd._fullLayout && gd._fullLayout.map && gd._fullLayout.map._subplot; return s && s.map; }})()"


# ---------------------------------------------------------------------------------------------- server
@pytest.fixture(scope="session")
def ioc_app(request):
    """The Dash app on the county demo database."""
    from app import create_app

    url = os.environ.get("IOC_TEST_COUNTY_URL") or request.getfixturevalue("county_sqlite")[0]
    return create_app({"database_url": url})


@pytest.fixture(scope="session")
def ioc_repo(ioc_app):
    """The app's Repository: the expected values come from here."""
    return ioc_app.server.config["IOC_SERVICES"].repo


@pytest.fixture(scope="session")
def ioc_period(ioc_repo) -> date:
    """The period the cockpit shows when the URL names none: the newest month with data."""
    return ioc_repo.periods()[0]


@pytest.fixture(scope="session")
def ioc_server(ioc_app):
    """Base URL (``http://127.0.0.1:<port>``) of the app served by werkzeug in a background thread."""
    server = make_server("127.0.0.1", 0, ioc_app.server, threaded=True, request_handler=QuietRequestHandler)
    thread = threading.Thread(target=server.serve_forever, name="ioc-test-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()


# ---------------------------------------------------------------------------------------------- browser
@pytest.fixture(scope="session")
def chromium_browser():
    """Debian's chromium (never a downloaded one), headless, with software WebGL for MapLibre."""
    if not Path(CHROMIUM).exists():
        need("Debian chromium not installed (apt-get install chromium)")
    pw = sync_playwright().start()
    try:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    except Error:
        pw.stop()
        raise
    yield browser
    browser.close()
    pw.stop()


def sign_in(page: Page, base: str, username: str, password: str, next_path: str = "/") -> None:
    """Fill and submit the real login form (``/login?next=…``) and wait until the answer has loaded:
    the ``next`` page on success, the login page again with its error otherwise."""
    page.goto(f"{base}/login?{urlencode({'next': next_path})}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    with page.expect_navigation():
        page.click("form[action='/login'] button[type=submit]")


@pytest.fixture(scope="session")
def demo_password(ioc_app) -> str:
    """The password of the demo accounts (IOC_DEMO_PASSWORD, 'demo' by default)."""
    return ioc_app.server.config["IOC_SERVICES"].config.demo_password


@pytest.fixture(scope="session")
def signed_in_state(chromium_browser: Browser, ioc_server: str, demo_password: str):
    """``signed_in_state(username)``: the storage state (session cookie) of a browser context that signed in
    as that demo account through the login form, once per account and session."""
    states: dict[str, dict] = {}

    def state(username: str) -> dict:
        if username not in states:
            context = chromium_browser.new_context()
            try:
                page = context.new_page()
                sign_in(page, ioc_server, username, demo_password, next_path="/healthz")  # a cheap page behind it
                if urlsplit(page.url).path != "/healthz":
                    error = page.locator(".form-error")
                    pytest.fail(f"could not sign in as {username!r}: at {page.url}"
                                + (f", the page says {error.inner_text()!r}" if error.count() else ""))
                states[username] = context.storage_state()
            finally:
                context.close()
        return states[username]

    return state


@dataclass
class CockpitPage:
    """One open cockpit page with what it logged, and the waits and reads the tests share."""

    page: Page
    base: str
    repo: object
    period: date
    user: str | None = None  # the demo account the page is signed in as
    console_errors: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)  # every console message, of the page and its workers
    requests: list[str] = field(default_factory=list)
    GD = GD  # JS expression of the map's plotly graph div, for the tests' own waits

    def on_console(self, kind: str, text: str, location: dict) -> None:
        self.console.append(f"{kind}: {text} @ {location}")
        if kind == "error":
            self.console_errors.append(f"{text} @ {location}")

    # -- navigation and waits
    def open(self, path: str = "/") -> CockpitPage:
        self.page.goto(self.base + path)
        if self.user and not path.startswith("/login") and urlsplit(self.page.url).path == "/login":
            raise AssertionError(f"signed in as {self.user!r}, yet {path} went to the login page: {self.page.url}")
        return self

    def area_param(self) -> str | None:
        return self.page.evaluate("() => new URLSearchParams(location.search).get('area')")

    def wait_for_view(self, code: str, timeout: float = 60_000) -> None:
        """Wait until the screen shows ``code``: breadcrumb, the map's choropleth drawn with ``code``'s
        children (or ``code`` itself for a leaf), and KPI values equal to the repository's (when they
        never match, the assertion that follows in the test shows the difference)."""
        members = [r["code"] for r in self.repo.children(code)] or [code]
        self.page.wait_for_function(
            """([code, members]) => {
                const cur = document.querySelector('#breadcrumb .crumb.current');
                if (!cur || cur.dataset.code !== code) return false;
                const gd = GD;
                const locs = gd && gd._fullData && gd._fullData[1] && gd._fullData[1].locations;
                return !!(locs && locs.length && locs.every(c => members.includes(String(c))));
            }""".replace("GD", GD),
            arg=[code, members],
            timeout=timeout,
        )
        expected = self.expected_kpi_texts(code)
        self._try_wait(
            """(expected) => {
                const els = document.querySelectorAll(`[id*='"type":"kpi-value"']`);
                if (!els.length) return false;
                for (const el of els) {
                    const want = expected[JSON.parse(el.id).code];
                    if (want !== undefined && el.textContent !== want) return false;
                }
                return true;
            }""",
            expected,
            timeout=15_000,
        )

    def wait_for_map_settled(self, code: str, timeout: float = 20_000) -> None:
        """Wait until MapLibre stands still, has loaded, and is centred on ``code`` (fitted or not: the
        first render of a page keeps the server's guess), then let one or two frames render."""
        minx, miny, maxx, maxy = self.repo.bounds(code)
        self.page.wait_for_function(
            """(c) => {
                const m = MAP;
                return !!(m && !m.isMoving() && m.loaded() && m.getBounds().contains(c));
            }""".replace("MAP", MAP),
            arg=[(minx + maxx) / 2, (miny + maxy) / 2],
            timeout=timeout,
        )
        self.page.wait_for_timeout(150)  # short settle after the last move

    def wait_for_map_fitted(self, code: str, timeout: float = 20_000) -> None:
        """Wait until the map shows the whole of ``code`` filling the map at the page's real size (see
        ``FITTED_JS``) and stands still."""
        if not self.map_fitted_within(code, timeout):
            raise AssertionError(f"the map was not fitted to {code} within {timeout / 1000:.0f} s: {self.map_fit(code)}")
        self.page.wait_for_timeout(150)  # short settle after the last move

    def map_fitted_within(self, code: str, timeout: float) -> bool:
        """Whether the map gets fitted to ``code``'s bounds within ``timeout`` ms."""
        return self._try_wait(FITTED_JS, [list(self.repo.bounds(code)), MIN_FILL], timeout=timeout)

    def map_fit(self, code: str) -> dict:
        """Where ``code``'s bounds sit on the map canvas (pixels), the canvas size and the zoom."""
        return self.page.evaluate("(b) => { " + FIT_JS + " return fit(b); }", list(self.repo.bounds(code)))

    def _try_wait(self, js: str, arg, timeout: float) -> bool:
        try:
            self.page.wait_for_function(js, arg=arg, timeout=timeout)
            return True
        except Error:
            return False

    # -- reads
    def breadcrumb(self) -> list[tuple[str, str]]:
        """(data-code, text) of every breadcrumb item, top first."""
        return [tuple(x) for x in self.page.evaluate(
            "() => [...document.querySelectorAll('#breadcrumb [data-code]')].map(e => [e.dataset.code, e.textContent.trim()])"
        )]

    def kpi_texts(self) -> dict[str, str]:
        """Indicator code -> the text of its card's value, for every KPI card on the page."""
        return self.page.evaluate(
            """() => Object.fromEntries([...document.querySelectorAll(`[id*='"type":"kpi-value"']`)]
                .map(e => [JSON.parse(e.id).code, e.textContent]))"""
        )

    def expected_kpi_texts(self, code: str) -> dict[str, str]:
        """What the cards must show for ``code``: format_value of the repository's headline KPIs."""
        return {k.code: format_value(k.value) for k in self.repo.kpi_values(code, self.period)}

    # -- map clicks
    def click_region(self, region: dict) -> None:
        """Click ``region``'s polygon on the map: at its centroid, or else at the nearest point inside
        it where plotly hovers the polygon itself (markers of other layers drawn over the polygon win
        the hover within ~20 px). ``region`` is a row of ``repo.children``."""
        code = region["code"]
        for lon, lat in candidate_points(self.repo, region):
            x, y = self.screen_xy(lon, lat)
            self.page.mouse.move(x, y)
            if self._try_wait(HOVERS_JS, code, timeout=400):
                self.page.mouse.click(x, y)
                return
        # Markers cover every candidate (dense urban area): click the centroid anyway; the app resolves a
        # click on a marker to the area that contains it (navigation.next_search's locate).
        self.page.mouse.click(*self.screen_xy(region["centroid_lon"], region["centroid_lat"]))

    def screen_xy(self, lon: float, lat: float) -> tuple[float, float]:
        """Page pixel of a lon/lat on the map (MapLibre's project, relative to its canvas container)."""
        return tuple(self.page.evaluate(
            """([lon, lat]) => {
                const m = MAP;
                const p = m.project([lon, lat]);
                const r = m.getContainer().getBoundingClientRect();
                return [p.x + r.left, p.y + r.top];
            }""".replace("MAP", MAP),
            [lon, lat],
        ))

    def click_at(self, lon: float, lat: float) -> None:
        """A plain click on the map at a lon/lat (whatever is drawn there)."""
        self.page.mouse.click(*self.screen_xy(lon, lat))

    def hovered(self) -> str:
        """What plotly hovers now: 'trace <n> <location or text>' per point."""
        return self.page.evaluate(
            f"() => ((({GD})._hoverdata) || []).map(p => `trace ${{p.curveNumber}} ${{p.location || p.text || ''}}`).join('; ')"
        )


# Where lon/lat bounds sit on the map canvas: pixel box, canvas size, the share of the canvas they
# fill in their limiting dimension, whether they lie wholly inside, and whether the map stands still.
FIT_JS = """const fit = (b) => {
    const m = MAP;
    if (!m) return null;
    const p0 = m.project([b[0], b[3]]), p1 = m.project([b[2], b[1]]);
    const c = m.getContainer().getBoundingClientRect();
    return {
        box: [p0.x, p0.y, p1.x, p1.y].map(Math.round), canvas: [Math.round(c.width), Math.round(c.height)],
        fill: Math.max((p1.x - p0.x) / c.width, (p1.y - p0.y) / c.height),
        inside: p0.x >= -1 && p0.y >= -1 && p1.x <= c.width + 1 && p1.y <= c.height + 1,
        still: !m.isMoving() && m.loaded(), zoom: m.getZoom(),
    };
};""".replace("MAP", MAP)
# Fitted: the area lies wholly inside the map and fills at least MIN_FILL of it (a fit with some padding),
# whoever fits it (MapLibre's fitBounds in the browser, or the server from the measured map size).
MIN_FILL = 0.85
FITTED_JS = "([b, minFill]) => { " + FIT_JS + " const f = fit(b); return !!(f && f.still && f.inside && f.fill >= minFill); }"

# Plotly hovers the choropleth of the children (trace 1) on the polygon of ``code``.
HOVERS_JS = """(code) => {
    const h = (GD)._hoverdata;
    return !!(h && h.length && h[0].curveNumber === 1 && h[0].location === code);
}""".replace("GD", GD)


def candidate_points(repo, region: dict, grid: int = 12, limit: int = 40) -> list[tuple[float, float]]:
    """The centroid, then up to ``limit`` grid points inside the region's display polygon, nearest first."""
    import shapely

    features = json.loads(repo.display_geojson(region["level"]))["features"]
    geom = shapely.from_geojson(json.dumps(next(f["geometry"] for f in features if f["id"] == region["code"])))
    cx, cy = region["centroid_lon"], region["centroid_lat"]
    minx, miny, maxx, maxy = geom.bounds
    inner = geom.buffer(-0.08 * min(maxx - minx, maxy - miny))  # keep clear of the borders
    points = [
        (minx + (i + 0.5) * (maxx - minx) / grid, miny + (j + 0.5) * (maxy - miny) / grid)
        for i in range(grid) for j in range(grid)
    ]
    points = [p for p in points if inner.contains(shapely.Point(p))]
    points.sort(key=lambda p: (p[0] - cx) ** 2 + (p[1] - cy) ** 2)
    return [(cx, cy), *points[:limit]]


def _leaves_origin(url: str, origin: str) -> bool:
    """True when ``url`` goes anywhere but the server: its own origin, inline data, or its own blobs."""
    if url.startswith("data:"):
        return False
    if url.startswith("blob:"):
        url = url.removeprefix("blob:")
    return not (url == origin or url.startswith(origin + "/"))


class SignedInPages:
    """Pages in browser contexts of their own, signed in through the login form, each recording its console
    errors and requests; ``close_and_check`` fails on any console error or request off the origin."""

    def __init__(self, browser: Browser, base: str, password: str):
        self.browser, self.base, self.password = browser, base, password
        self.opened: list[tuple[object, dict]] = []

    def open(self, user: str, path: str = "/", width: int = 1920, height: int = 1080) -> Page:
        context = self.browser.new_context(viewport={"width": width, "height": height}, device_scale_factor=1,
                                           locale="zh-CN", timezone_id="Asia/Shanghai")
        page = context.new_page()
        page.set_default_timeout(30_000)
        log: dict[str, list[str]] = {"errors": [], "requests": []}
        context.on("console", lambda m: log["errors"].append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda exc: log["errors"].append(f"uncaught: {exc}"))
        context.on("request", lambda r: log["requests"].append(r.url))
        self.opened.append((context, log))
        sign_in(page, self.base, user, self.password, next_path=path)
        return page

    def close_and_check(self) -> None:
        problems = []
        for context, log in self.opened:
            context.close()
            problems += [f"console error: {e}" for e in log["errors"]]
            problems += [f"request left the origin: {u}" for u in log["requests"] if _leaves_origin(u, self.base)]
        assert not problems, "\n".join(problems)


@pytest.fixture
def cockpit(chromium_browser: Browser, ioc_server: str, ioc_repo, ioc_period, signed_in_state):
    """``cockpit(width, height, user="leader")`` opens a fresh page of that viewport (not yet navigated),
    signed in as the demo account ``user`` (``user=None``: not signed in). After the test: no console
    error and no request outside the server's origin, on every page it opened."""
    opened: list[tuple[object, CockpitPage]] = []

    def open_page(width: int = 1920, height: int = 1080, user: str | None = "leader") -> CockpitPage:
        context = chromium_browser.new_context(
            viewport={"width": width, "height": height}, device_scale_factor=1, locale="zh-CN",
            timezone_id="Asia/Shanghai", storage_state=signed_in_state(user) if user else None,
        )
        page = context.new_page()
        page.set_default_timeout(30_000)
        cp = CockpitPage(page, ioc_server, ioc_repo, ioc_period, user)
        # On the context, so console messages of workers (MapLibre's) are seen too.
        context.on("console", lambda msg: cp.on_console(msg.type, msg.text, msg.location))
        # An uncaught exception is not a console message in Playwright, but it is the same failure.
        page.on("pageerror", lambda exc: cp.console_errors.append(f"uncaught: {exc}"))
        # On the context, so requests of workers (MapLibre's) are seen too.
        context.on("request", lambda req: cp.requests.append(req.url))
        opened.append((context, cp))
        return cp

    yield open_page

    problems = []
    for context, cp in opened:
        context.close()
        problems += [f"console error: {e}" for e in cp.console_errors]
        problems += [f"request left the origin: {u}" for u in cp.requests if _leaves_origin(u, ioc_server)]
    assert not problems, "\n".join(problems)
