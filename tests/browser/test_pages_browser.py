"""Theme and topic pages in a real browser, on the session's one test server (the county demo): each theme page
and the four shipped topic pages with data for the city and for a township, a drill on a theme page's map,
the header's page menu, and screenshots at 1920x1080 and 1366x768 in Chinese and English
(``tests/browser/screenshots/pages-*.png``). Every page opened fails the test on a console error or a
request off the origin (the ``cockpit`` fixture)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SCREENSHOTS = Path(__file__).parent / "screenshots"  # gitignored
THEMES = ("economy", "governance", "emergency", "public_service", "environment")
TOPICS = ("major_projects", "flood", "citizen_demands", "new_infra")
PAGE_GD = "document.querySelector('#page-map .js-plotly-plot')"
PAGE_MAP = (f"(() => {{ const gd = {PAGE_GD}; const s = gd && gd._fullLayout && gd._fullLayout.map && "
            "gd._fullLayout.map._subplot; return s && s.map; })()")


def wait_for_page(cp, area: str, timeout: float = 60_000) -> None:  # noqa: ANN001
    """Wait until every panel of the page has its body for ``area`` (the breadcrumb names it) and the map
    (when the page has one) shows ``area``'s children."""
    members = [r["code"] for r in cp.repo.children(area)] or [area]
    cp.page.wait_for_function(
        """([area, members]) => {
            const cur = document.querySelector('#page-breadcrumb .crumb.current');
            if (!cur || cur.dataset.code !== area) return false;
            const bodies = [...document.querySelectorAll('.page-panel-body')].filter(b => !b.classList.contains('page-map-note'));
            if (!bodies.length || bodies.some(b => !b.children.length)) return false;
            const gd = GD;
            if (!document.getElementById('page-map')) return true;
            const locs = gd && gd._fullData && gd._fullData[1] && gd._fullData[1].locations;
            return !!(locs && locs.length && locs.every(c => members.includes(String(c))));
        }""".replace("GD", PAGE_GD),
        arg=[area, members],
        timeout=timeout,
    )


def switch_area(cp, area: str) -> None:  # noqa: ANN001
    """Change the URL's area in place, as a ranking row or the breadcrumb does (no page load)."""
    cp.page.evaluate("""(area) => {
        const q = new URLSearchParams(location.search); q.set('area', area);
        history.pushState({}, '', location.pathname + '?' + q.toString());
        window.dispatchEvent(new PopStateEvent('popstate'));
    }""", area)
    wait_for_page(cp, area)


def shoot(cp, name: str) -> None:  # noqa: ANN001
    """A screenshot of the page once its map stands still (``tests/browser/screenshots/pages-<name>.png``)."""
    cp.page.wait_for_function(f"() => {{ const m = {PAGE_MAP}; return !m || (m.loaded() && !m.isMoving()); }}", timeout=20_000)
    cp.page.wait_for_timeout(150)  # let the last map frame paint
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    cp.page.screenshot(path=str(SCREENSHOTS / f"pages-{name}.png"))


def kpi_values(cp) -> list[str]:  # noqa: ANN001
    return cp.page.eval_on_selector_all(".page-kpis .kpi-value", "els => els.map(e => e.textContent)")


@pytest.fixture(scope="module")
def township(ioc_repo) -> dict:
    """The first township of the county demo."""
    return ioc_repo.children(ioc_repo.root_code())[0]


def test_each_theme_page_renders_with_data_for_the_city_and_a_township_and_its_map_drills(cockpit, ioc_repo, township):
    cp = cockpit(1920, 1080)
    root = ioc_repo.root_code()
    for theme in THEMES:
        cp.open(f"/theme/{theme}")
        wait_for_page(cp, root)
        shoot(cp, f"theme-{theme}-zh-1920x1080")
        check_theme_page(cp, ioc_repo, theme, root)
        if theme == "governance":  # a click on the township's area drills; the breadcrumb goes back up
            drill_by_click(cp, township)
            check_theme_page(cp, ioc_repo, theme, township["code"])
            cp.page.click(f"#page-breadcrumb [data-code='{root}'] a")
            wait_for_page(cp, root)
            assert parse_qs(urlsplit(cp.page.url).query)["area"] == [root]
        else:
            switch_area(cp, township["code"])
            check_theme_page(cp, ioc_repo, theme, township["code"])


def drill_by_click(cp, township: dict) -> None:  # noqa: ANN001
    """Click the township's centre on the page's map and wait until the page shows the township."""
    cp.page.wait_for_function(f"() => {{ const m = {PAGE_MAP}; return !!(m && m.loaded() && !m.isMoving()); }}", timeout=20_000)
    x, y = cp.page.evaluate(
        """([lon, lat]) => { const m = MAP; const p = m.project([lon, lat]); const r = m.getContainer().getBoundingClientRect();
            return [p.x + r.left, p.y + r.top]; }""".replace("MAP", PAGE_MAP),
        [township["centroid_lon"], township["centroid_lat"]],
    )
    path = urlsplit(cp.page.url).path
    cp.page.mouse.click(x, y)
    cp.page.wait_for_function(f"() => new URLSearchParams(location.search).get('area') === '{township['code']}'", timeout=20_000)
    wait_for_page(cp, township["code"])
    assert urlsplit(cp.page.url).path == path  # still on the same page


def check_theme_page(cp, ioc_repo, theme: str, area: str) -> None:  # noqa: ANN001
    """Every indicator of the theme as a card (most with a value), the trend, a ranking row per child area and
    the ten facts of the indicator's details."""
    values = kpi_values(cp)
    assert len(values) == len([i for i in ioc_repo.indicators() if i["theme"] == theme])
    assert sum(v != "–" for v in values) >= len(values) // 2, values
    assert cp.page.locator(".panel-trend .trend-graph").count() == 1
    assert cp.page.locator(".panel-ranking .rank-row").count() == len(ioc_repo.children(area))
    assert cp.page.locator(".panel-detail dd").count() == 10


def test_each_shipped_topic_page_renders_with_data_for_the_city_and_a_township(cockpit, ioc_repo, township):
    cp = cockpit(1920, 1080)
    for topic in TOPICS:
        cp.open(f"/topic/{topic}")
        wait_for_page(cp, ioc_repo.root_code())
        shoot(cp, f"topic-{topic}-zh-1920x1080")
        check_topic_page(cp, topic)
        switch_area(cp, township["code"])
        check_topic_page(cp, topic)


def check_topic_page(cp, topic: str) -> None:  # noqa: ANN001
    """Cards with values, and what the issue asks of each shipped topic."""
    assert sum(v != "–" for v in kpi_values(cp)) >= 3
    if topic == "major_projects":  # investment, progress and the projects on the map
        assert cp.page.locator(".panel-facilities .facility-table tbody tr").count() > 0
        assert cp.page.evaluate(f"() => ({PAGE_GD})._fullData.some(t => t.name === 'major_project' && t.visible && t.lon.length)")
    elif topic == "flood":  # shelters listed; the stations' panels say clearly when their data is missing
        shelters = cp.page.locator(".panel-facilities", has_text="应急避难场所")
        assert shelters.locator("tbody tr").count() > 0
        assert cp.page.locator(".panel-readings").count() == 2
    elif topic == "citizen_demands":  # by source and category, closure, satisfaction; hot spots
        assert cp.page.locator(".panel-events .source-bar").count() >= 4
        assert cp.page.evaluate(f"() => ({PAGE_GD})._fullData.some(t => t.type === 'densitymap' && t.visible)")
    else:
        stations = cp.page.locator(".panel-facilities", has_text="通信基站")
        assert stations.locator("tbody tr").count() > 0


@pytest.mark.parametrize(("lang", "width", "height"), [("zh", 1366, 768), ("en", 1920, 1080), ("en", 1366, 768)])
def test_page_screenshots(cockpit, ioc_repo, township, lang, width, height):
    """zh at 1920x1080 is taken by the visits above."""
    cp = cockpit(width, height)
    for path, area in (("/theme/economy", ioc_repo.root_code()), ("/topic/flood", township["code"])):
        cp.open(f"{path}?area={area}&lang={lang}")
        wait_for_page(cp, area)
        shoot(cp, f"{path.strip('/').replace('/', '-')}-{lang}-{width}x{height}")
        if lang == "en":  # no UI string left in Chinese (data such as names may be)
            texts = cp.page.eval_on_selector_all(
                ".page-panel-head .panel-title, .stat-label, .panel-note, .page-panel th, .detail-list dt, .panel-empty, "
                ".page-controls, .trend-facts", "els => els.map(e => e.textContent)")
            chinese = [s for s in texts if any("\u4e00" <= ch <= "\u9fff" for ch in s)]
            assert not chinese, chinese
    if (lang, width) == ("en", 1920):  # the language switch rewrites the page in place (no reload)
        cp.page.click("#lang-toggle")
        cp.page.wait_for_function("() => document.getElementById('page-title').textContent === '防汛'", timeout=20_000)
        cp.page.wait_for_function("() => [...document.querySelectorAll('.page-panel-head .panel-title')].some(e => e.textContent === '汛情指标')")
        cp.page.wait_for_function("() => document.querySelector('#page-menu .menu-link').textContent === '经济运行'")
        assert parse_qs(urlsplit(cp.page.url).query).get("lang") is None  # zh is the default: not in the URL
    if (lang, width) == ("en", 1366):  # the header's menu: catalog order, the view's query carried over
        cp.page.click("#page-menu summary")
        links = cp.page.eval_on_selector_all("#page-menu .menu-link", "els => els.map(e => [e.textContent, e.getAttribute('href')])")
        pages = ioc_repo.pages()
        assert [text for text, _ in links] == [p["name_en"] for p in pages if p["kind"] == "theme"] + [
            p["name_en"] for p in pages if p["kind"] == "topic"]
        assert all(href.endswith(f"?area={township['code']}&lang=en") for _, href in links), links
        assert dict(links)["Flood control"].startswith("/topic/flood?")
        shoot(cp, "menu-en-1366x768")
