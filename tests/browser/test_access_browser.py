"""Access control in a real browser (Debian chromium) on the county demo: the login page in both
languages, a wrong and a right password, the township account's scoped screen, the Content-Security-
Policy while the cockpit loads and drills down, sign-out, and screenshots of the login page and of the
township's cockpit. Expected numbers come from the repository."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from layouts.i18n import t
from layouts.kpi import format_value
from layouts.map_figure import T_CONTEXT, T_VALUES
from tests.browser.conftest import sign_in
from tests.browser.test_cockpit_browser import CLIPPED_JS, OVERFLOW_JS, grouped

pytestmark = [pytest.mark.browser, pytest.mark.slow]  # slow: the county demo is built first
SCREENSHOTS = Path(__file__).parent / "screenshots"  # gitignored
SIZES = [(1920, 1080), (1366, 768)]


def path_and_query(url: str) -> tuple[str, dict[str, str]]:
    parts = urlparse(url)
    return parts.path, {k: v[-1] for k, v in parse_qs(parts.query).items()}


@pytest.fixture(scope="module")
def scope(ioc_app, ioc_repo) -> str:
    """The township account's scope: the first township (the first child of the root region)."""
    account = ioc_app.server.config["IOC_SERVICES"].accounts.user("township")
    assert account and account["role"] == "township", account
    first = ioc_repo.children(ioc_repo.root_code())[0]["code"]
    assert account["scope_code"] == first, f"the township account is scoped to {account['scope_code']}, not to {first}"
    return first


@pytest.fixture(scope="module")
def other_township(ioc_repo, scope) -> dict:
    """A township outside the township account's scope."""
    return next(r for r in ioc_repo.children(ioc_repo.root_code()) if r["code"] != scope)


def locations(cp, trace: int) -> list[str]:
    """The ``locations`` of one trace of the map as plotly drew it."""
    return cp.page.evaluate(f"(n) => ((({cp.GD})._fullData[n] || {{}}).locations || []).map(String)", trace)


def expected_ticks(repo, area: str) -> list[str]:
    """What identifies each ticker entry of ``area`` (callbacks.ticker: the most severe open alerts, then the
    newest events): time and text."""
    from callbacks.ticker import ALERTS_SHOWN
    from layouts.alert_text import alert_area, alert_text

    alerts = [f"{a['started_at']:%m-%d %H:%M} {alert_area(a, 'zh')} · {alert_text(a, 'zh')}"
              for a in repo.open_alerts(area, ALERTS_SHOWN, scope=area)]
    events = [f"{e['reported_at']:%m-%d %H:%M} {e['title']}" for e in repo.recent_events(area, 12, scope=area)]
    return alerts + events


def assert_only_township_data(cp, repo, period, scope: str) -> list[str]:
    """Breadcrumb, map, KPI cards and ticker show the township ``scope`` and nothing outside it. Returns
    the ticker's entries (other than an error note)."""
    township = repo.region(scope)
    assert cp.breadcrumb() == [(scope, township["name"])], "the breadcrumb must start (and here end) at the township"

    children = sorted(r["code"] for r in repo.children(scope))
    assert sorted(locations(cp, T_VALUES)) == children, "the choropleth must show exactly the township's communities"
    assert locations(cp, T_CONTEXT) == [], "no sibling township may be drawn around the township"

    shown = cp.kpi_texts()
    expected = {k.code: format_value(k.value) for k in repo.kpi_values(scope, period)}
    city = {k.code: format_value(k.value) for k in repo.kpi_values(repo.root_code(), period)}
    assert shown and set(shown) == set(expected)
    code = "eco_gdp" if "eco_gdp" in shown else sorted(shown)[0]
    assert expected[code] != city[code], f"{code} is the same for the city and the township: the check would prove nothing"
    assert shown[code] == expected[code], f"{code}: the card shows {shown[code]}, the township's value is {expected[code]}"
    wrong = {c: (shown[c], expected[c]) for c in shown if shown[c] != expected[c]}
    assert not wrong, f"KPI cards (shown, township's value): {wrong}"

    cp.page.wait_for_selector("#ticker .tick", state="attached")
    ticks = cp.page.evaluate(
        "() => [...document.querySelectorAll('#ticker-pinned .tick, #ticker .tick:not(.tick-error)')].map(e => e.textContent)"
    )
    allowed = expected_ticks(repo, scope)
    foreign = [text for text in ticks if not any(a in text for a in allowed)]
    assert not foreign, f"ticker entries that are not the township's newest alerts and events: {foreign[:5]}"
    return ticks


# ---------------------------------------------------------------------------------------------- login page
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_login_page_renders_in_both_languages(cockpit, ioc_server, lang):
    cp = cockpit(1920, 1080, user=None)
    resp = cp.page.goto(ioc_server + ("/login" if lang == "zh" else "/login?lang=en"))
    assert resp.status == 200
    assert cp.page.get_attribute("html", "lang") == ("zh-CN" if lang == "zh" else "en")
    assert cp.page.title() == t("login.title", lang)
    assert cp.page.inner_text(".login-box h1") == t("login.title", lang)
    labels = cp.page.locator(".login-box label").all_inner_texts()
    assert [x.strip() for x in labels] == [t("login.username", lang), t("login.password", lang)]
    assert cp.page.inner_text(".login-box button[type=submit]") == t("login.submit", lang)
    assert cp.page.inner_text(".form-hint") == t("login.demo_hint", lang)
    assert cp.page.inner_text(".form-lang a") == t("lang_switch", lang)
    assert cp.page.locator(".form-error").count() == 0
    assert cp.page.input_value("input[name=lang]") == lang
    assert cp.page.input_value("input[name=csrf_token]")
    assert cp.page.get_attribute("input[name=username]", "autofocus") is not None

    headers = resp.headers
    assert "default-src 'self'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"
    assert not any(w in headers.get("server", "") for w in ("Werkzeug", "Python")), headers.get("server")


def test_wrong_password_stays_on_login_and_right_one_lands_on_the_cockpit(cockpit, ioc_server, ioc_repo, demo_password):
    cp = cockpit(1920, 1080, user=None).open("/")
    path, q = path_and_query(cp.page.url)
    assert (path, q.get("next")) == ("/login", "/"), cp.page.url

    cp.page.fill("input[name=username]", "leader")
    cp.page.fill("input[name=password]", demo_password + "-wrong")
    with cp.page.expect_navigation():
        cp.page.click("form[action='/login'] button[type=submit]")
    assert path_and_query(cp.page.url)[0] == "/login"
    assert cp.page.inner_text(".form-error") == t("login.bad", "zh")
    assert cp.page.input_value("input[name=username]") == "leader"  # kept; the password is not
    assert cp.page.input_value("input[name=password]") == ""
    assert cp.page.input_value("input[name=next]") == "/"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    cp.page.screenshot(path=str(SCREENSHOTS / "login-error-zh-1920x1080.png"))
    # The 401 of the refused form post is logged by Chromium as a failed resource load: that one is expected.
    expected_401 = [e for e in cp.console_errors if "status of 401" in e]
    assert len(expected_401) <= 1, cp.console_errors
    for e in expected_401:
        cp.console_errors.remove(e)

    cp.page.fill("input[name=password]", demo_password)
    with cp.page.expect_navigation():
        cp.page.click("form[action='/login'] button[type=submit]")
    assert cp.page.url == ioc_server + "/"
    root = ioc_repo.root_code()
    cp.wait_for_view(root)
    cp.wait_for_map_settled(root)
    assert cp.page.inner_text("#user-name").startswith("leader")


# ---------------------------------------------------------------------------------------------- township account
def test_township_account_sees_only_its_township(cockpit, ioc_repo, ioc_period, scope):
    cp = cockpit(1920, 1080, user="township").open("/")
    cp.wait_for_view(scope)
    assert ioc_repo.root_code() not in [code for code, _ in cp.breadcrumb()]
    ticks = assert_only_township_data(cp, ioc_repo, ioc_period, scope)
    assert len(ticks) == len(expected_ticks(ioc_repo, scope)), ticks
    assert cp.page.locator("#area-title .area-error").count() == 0
    assert cp.page.inner_text("#user-name").startswith("township")
    assert t("role.township", "zh") in cp.page.inner_text("#user-name")


def test_township_account_asking_for_another_township_gets_unknown_area(cockpit, ioc_repo, ioc_period, scope, other_township):
    cp = cockpit(1920, 1080, user="township").open(f"/?area={other_township['code']}")
    cp.wait_for_view(scope)
    cp.page.wait_for_selector("#area-title .area-error", state="visible")
    assert cp.page.inner_text("#area-title .area-error") == t("error", "zh", reason=t("unknown_area", "zh"))
    assert_only_township_data(cp, ioc_repo, ioc_period, scope)
    body = cp.page.inner_text("body")
    assert other_township["name"] not in body
    assert "Traceback" not in body


# ---------------------------------------------------------------------------------------------- CSP
# Every CSP violation the document sees, recorded before any of the page's own scripts run.
CSP_LISTENER = """window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => window.__cspViolations.push(
    `${e.effectiveDirective} blocked ${e.blockedURI || '(inline)'} in ${e.sourceFile || '?'}:${e.lineNumber}: ${e.sample || ''}`));"""


def csp_problems(cp) -> list[str]:
    said = [m for m in cp.console if "Content Security Policy" in m or "Refused to" in m]
    return said + [f"securitypolicyviolation: {v}" for v in cp.page.evaluate("() => window.__cspViolations")]


def test_no_csp_violation_while_the_cockpit_loads_draws_the_map_and_drills_down(cockpit, ioc_repo):
    cp = cockpit(1920, 1080)
    cp.page.add_init_script(CSP_LISTENER)
    workers: list[str] = []
    cp.page.on("worker", lambda w: workers.append(w.url))
    resp = cp.page.goto(cp.base + "/")
    policy = resp.headers["content-security-policy"]
    assert "script-src 'self' 'sha256-" in policy and "'unsafe-eval'" not in policy, policy
    root = ioc_repo.root_code()
    cp.wait_for_view(root)
    cp.wait_for_map_fitted(root)
    assert cp.page.evaluate("() => typeof window.__cspViolations") == "object"  # the listener ran in this document
    # MapLibre runs its tile worker from a blob: URL, which needs worker-src blob: (its console is seen too).
    assert any(w.startswith(f"blob:{cp.base}/") for w in workers), workers
    assert not csp_problems(cp), "\n".join(csp_problems(cp))

    towns = [r for r in ioc_repo.children(root) if ioc_repo.region(r["code"])["n_children"] > 0]
    town = max(towns, key=lambda r: r["area_km2"])
    cp.click_region(town)
    cp.wait_for_view(town["code"])
    cp.wait_for_map_fitted(town["code"])
    community = max(ioc_repo.children(town["code"]), key=lambda r: r["area_km2"])
    cp.click_region(community)
    cp.wait_for_view(community["code"])
    cp.wait_for_map_settled(community["code"])
    assert not csp_problems(cp), "\n".join(csp_problems(cp))


# ---------------------------------------------------------------------------------------------- sign-out
def test_sign_out_returns_to_login_and_the_cockpit_asks_for_it_again(cockpit, ioc_server, ioc_repo, demo_password):
    cp = cockpit(1366, 768, user=None)
    sign_in(cp.page, ioc_server, "duty", demo_password)  # its own session: the shared ones stay signed in
    assert cp.page.url == ioc_server + "/"
    cp.wait_for_view(ioc_repo.root_code())
    assert cp.page.inner_text("#user-name").startswith("duty")
    assert t("role.duty", "zh") in cp.page.inner_text("#user-name")

    logout = cp.page.locator(".logout-form button[type=submit]")
    assert logout.inner_text() == t("logout", "zh")
    assert logout.is_visible()
    with cp.page.expect_navigation():
        logout.click()
    assert path_and_query(cp.page.url)[0] == "/login"
    assert cp.page.inner_text(".login-box h1") == t("login.title", "zh")

    cp.page.goto(ioc_server + "/")
    path, q = path_and_query(cp.page.url)
    assert (path, q.get("next")) == ("/login", "/"), cp.page.url
    assert cp.page.locator("input[name=password]").is_visible()


# ---------------------------------------------------------------------------------------------- screenshots
# The header's three parts: none may overlap the title, and the right part must hold its items.
HEADER_JS = """() => {
    const out = [];
    const box = (e) => e.getBoundingClientRect();
    const overlap = (a, b) => a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom - 1 && b.top < a.bottom - 1;
    const title = document.querySelector('.ioc-header .ioc-title');
    const range = document.createRange();
    range.selectNodeContents(title);
    const text = range.getBoundingClientRect();  // the title's text, not its grid cell
    for (const el of document.querySelectorAll('.header-left > *, .header-right > *')) {
        if (!el.checkVisibility()) continue;
        if (overlap(box(el), text)) out.push(`${el.className || el.tagName} overlaps the title`);
    }
    for (const part of document.querySelectorAll('.header-left, .header-right')) {
        if (part.scrollWidth > part.clientWidth + 1) out.push(`${part.className} needs ${part.scrollWidth}px, has ${part.clientWidth}px`);
    }
    return out;
}"""


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize(("width", "height"), SIZES)
def test_login_page_screenshots(cockpit, ioc_server, lang, width, height):
    cp = cockpit(width, height, user=None)
    cp.page.goto(f"{ioc_server}/login?lang={lang}")
    cp.page.evaluate("() => document.fonts.ready.then(() => true)")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    cp.page.screenshot(path=str(SCREENSHOTS / f"login-{lang}-{width}x{height}.png"), full_page=True)
    problems = cp.page.evaluate(
        """() => {
            const out = [];
            const r = document.querySelector('.login-box').getBoundingClientRect();
            if (r.left < 0 || r.right > innerWidth || r.bottom > innerHeight) out.push(`login box at ${JSON.stringify(r)}`);
            for (const el of document.querySelectorAll('.login-box *')) {
                const b = el.getBoundingClientRect();
                if (b.width && (b.left < r.left - 1 || b.right > r.right + 1)) out.push(`${el.tagName} sticks out of the box`);
            }
            const doc = document.documentElement;
            if (doc.scrollWidth > innerWidth || doc.scrollHeight > innerHeight) out.push(`scrollbars: ${doc.scrollWidth}x${doc.scrollHeight}`);
            return out;
        }"""
    )
    assert not problems, f"at {width}x{height} ({lang}):\n" + "\n".join(problems)


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize(("width", "height"), SIZES)
def test_township_cockpit_screenshots(cockpit, ioc_repo, scope, lang, width, height):
    cp = cockpit(width, height, user="township").open("/" if lang == "zh" else "/?lang=en")
    cp.wait_for_view(scope)
    if lang == "en":
        cp.page.wait_for_function("() => document.getElementById('header-title').textContent.includes('City Operations Center')")
        cp.page.wait_for_function("(t) => document.querySelector('.logout-form button').textContent === t", arg=t("logout", "en"))
    if not cp.map_fitted_within(scope, 3_000):
        cp.wait_for_map_settled(scope)
    cp.page.evaluate("() => document.fonts.ready.then(() => true)")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    cp.page.screenshot(path=str(SCREENSHOTS / f"township-{lang}-{width}x{height}.png"), full_page=True)

    size = cp.page.evaluate(
        "() => ({sh: document.documentElement.scrollHeight, sw: document.documentElement.scrollWidth, h: innerHeight, w: innerWidth})"
    )
    problems = []
    if size["sh"] > size["h"] or size["sw"] > size["w"]:
        problems.append(f"scrollbars: {size}")
    problems += [f"outside the viewport: {e}" for e in cp.page.evaluate(OVERFLOW_JS)]
    # Long English indicator names are shortened by the indicator dropdown itself ("Registered market ···").
    clipped = [c for c in cp.page.evaluate(CLIPPED_JS) if "dash-dropdown-value" not in c[1]]
    problems += [f"cut off: {e}" for e in grouped(clipped)]
    problems += [f"header: {e}" for e in cp.page.evaluate(HEADER_JS)]
    assert not problems, f"at {width}x{height} ({lang}):\n" + "\n".join(problems)
