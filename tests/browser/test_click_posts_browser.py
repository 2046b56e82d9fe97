"""What one click costs in callback posts, in a real browser on the county demo: the first load renders the
cockpit once and never echoes the URL back; a drill posts once per server feature (URL, view, header, ticker)
and sends no labels; only the language switch sends the labels; a selector the user changes still navigates."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlparse

import pytest

from layouts import ids

pytestmark = [pytest.mark.browser, pytest.mark.slow]  # slow: the county demo is built first

POLL = "data-version.data"  # the data-version timer: not caused by a click


@pytest.fixture(scope="module")
def township(ioc_repo) -> dict:
    rows = [r for r in ioc_repo.children(ioc_repo.root_code()) if ioc_repo.region(r["code"])["n_children"] > 0]
    return max(rows, key=lambda r: r["area_km2"])


def _record(cp) -> list[str]:  # noqa: ANN001
    """The output key of every callback post the page makes from now on (the timer's poll left out)."""
    posts: list[str] = []

    def on_request(req) -> None:  # noqa: ANN001
        if "_dash-update-component" in req.url:
            output = json.loads(req.post_data or "{}").get("output", "")
            if POLL not in output:  # the poll also writes the data status: its key holds more than one output
                posts.append(output)

    cp.page.on("request", on_request)
    return posts


def _feature(output: str) -> str:
    """A readable name of the callback an output key belongs to."""
    for name, fragment in (("view", "map.figure"), ("header", "header-mode.children"), ("ticker", "ticker.children"),
                           ("labels", '"type":"label"'), ("options", "indicator-select.options"), ("route", "page-content"),
                           ("nav", "nav-cockpit"), ("export", "export-kpis"),
                           ("alerts", '"type":"alert-panel"')):
        if fragment in output:
            return name
    return output


def _settle(cp) -> None:  # noqa: ANN001
    cp.page.wait_for_load_state("networkidle")


def test_first_load_renders_once_and_a_drill_posts_once_per_feature_without_labels(cockpit, ioc_repo, township):
    cp = cockpit(1920, 1080)
    posts = _record(cp)
    root = ioc_repo.root_code()
    cp.open("/")
    cp.wait_for_view(root)
    cp.wait_for_map_fitted(root)
    _settle(cp)
    first = [_feature(p) for p in posts]
    assert first.count("view") == 1, first  # one render: a few px of layout shift after it keep the view
    assert "url.search" not in first, first  # the selectors' values written by the cockpit are not echoed
    assert "labels" not in first, first  # the page is built in its language
    assert not {"nav", "export"} & set(first), first  # computed in the browser

    posts.clear()
    cp.click_region(township)
    cp.wait_for_view(township["code"])
    _settle(cp)
    # the alert panel and the cards' sub-area badges answer in one post of their own (callbacks/leader.py)
    assert sorted(_feature(p) for p in posts) == ["alerts", "header", "ticker", "url.search", "view"], posts

    posts.clear()
    cp.page.click(f"#{ids.LANG_TOGGLE}")
    cp.page.wait_for_function("() => document.documentElement.querySelector('#ioc-root').lang === 'en'")
    cp.wait_for_view(township["code"])
    _settle(cp)
    lang = [_feature(p) for p in posts]
    assert lang.count("labels") == 1 and lang.count("options") == 1, lang
    assert cp.page.locator(f"#{ids.LANG_TOGGLE}").inner_text().strip() == "中文"


def test_a_period_the_user_picks_still_navigates(cockpit, ioc_repo, ioc_period):
    cp = cockpit(1920, 1080)
    root = ioc_repo.root_code()
    cp.open("/")
    cp.wait_for_view(root)
    older = ioc_repo.periods()[1].strftime("%Y-%m")
    cp.page.evaluate("([id, v]) => window.dash_clientside.set_props(id, {value: v})", [ids.PERIOD_SELECT, older])
    cp.page.wait_for_function("(p) => new URLSearchParams(location.search).get('period') === p", arg=older)
    assert parse_qs(urlparse(cp.page.url).query)["period"] == [older]


def test_an_idle_cockpit_changes_nothing_on_the_page_but_the_clock(cockpit, ioc_repo):
    """Between clicks and polls the page must not work: on a wall PC without a GPU every change is a frame
    drawn in software. (The alert panel's fit once rewrote its "n more" text on every animation frame,
    which observed itself: a layout-and-paint loop at the display's frame rate.)"""
    cp = cockpit(1920, 1080)
    root = ioc_repo.root_code()
    cp.open("/")
    cp.wait_for_view(root)
    cp.wait_for_map_fitted(root)
    _settle(cp)
    cp.page.wait_for_selector(".map-body .alert-panel .alert-more", state="attached")
    cp.page.evaluate("""() => {
        window.__mutations = [];
        new MutationObserver((records) => {
            for (const r of records) {
                const el = r.target.nodeType === 1 ? r.target : r.target.parentElement;
                // Dash's own marker of a callback in flight (the data-version poll) comes and goes in the root.
                // The cursor hides itself once after a few still seconds (assets/kiosk.js): a class on the body.
                const cursor = el === document.body && r.attributeName === 'class';
                if (!el || !(el.closest('#CLOCK') || el.id === 'react-entry-point' || cursor)) window.__mutations.push([r.type, r.attributeName, el ? (el.id || el.className || el.tagName) : '?', el && el.parentElement ? (el.parentElement.id || el.parentElement.className) : '', Math.round(performance.now())].join(' '));
            }
        }).observe(document.body, {subtree: true, childList: true, characterData: true, attributes: true});
    }""".replace("CLOCK", ids.CLOCK))
    before = cp.page.inner_text(f"#{ids.CLOCK}")
    cp.page.wait_for_timeout(4000)  # an observation window (nothing to wait for: nothing may happen)
    after = cp.page.inner_text(f"#{ids.CLOCK}")
    assert re.fullmatch(r"\d{4}-\d\d-\d\d\n\d\d:\d\d:\d\d", after) and after != before, (before, after)  # it ticks
    seen = cp.page.evaluate("() => window.__mutations")
    assert seen == [], [cp.page.evaluate("() => performance.now()")] + seen[:3] + seen[-8:]


def test_the_cards_sparklines_drawn_in_the_browser_are_the_servers(cockpit, ioc_repo, ioc_period, township):
    """The KPI texts arrive as one list per part and the sparklines as points and a colour; the browser
    writes each card's image the way layouts.kpi.sparkline_src does."""
    from layouts.kpi import STATUS_COLORS, sparkline_src

    cp = cockpit(1920, 1080)
    cp.open(f"/?area={township['code']}")
    cp.wait_for_view(township["code"])
    shown = cp.page.evaluate("""() => Object.fromEntries([...document.querySelectorAll(`[id*='"type":"kpi-spark"']`)]
        .map(e => [JSON.parse(e.id).code, decodeURIComponent(e.getAttribute('src'))]))""")
    expected = {k.code: sparkline_src(k.sparkline, STATUS_COLORS[k.status]) for k in ioc_repo.kpi_values(township["code"], ioc_period)}
    assert shown and set(shown) <= set(expected)
    assert all(shown[c] == decode(expected[c]) for c in shown), next((c, shown[c], expected[c]) for c in shown if shown[c] != decode(expected[c]))


def decode(uri: str) -> str:
    from urllib.parse import unquote

    return unquote(uri)
