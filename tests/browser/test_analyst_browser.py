"""The analyst workbench in a real browser (Debian chromium), signed in as ``analyst``, on the county demo:
set filters through the controls, see them in the URL, reload the URL and get the same view, click a bar
to open that area's records and page them; no console error, no request off the origin. Screenshots at
1920x1080 and 1366x768, in Chinese and English."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Browser, Page

from tests.browser.conftest import SignedInPages

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SCREENSHOTS = Path(__file__).parent / "screenshots"
RANKING = "document.querySelector('#analyst-graph-ranking .js-plotly-plot')"
MAP_DRAWN = ("() => { const gd = document.querySelector('#analyst-geo .js-plotly-plot'); const s = gd && gd._fullLayout "
             "&& gd._fullLayout.map && gd._fullLayout.map._subplot; return !!(s && s.map && gd.data.length > 1 "
             "&& s.map.loaded() && s.map.areTilesLoaded()); }")


@pytest.fixture
def analyst_pages(chromium_browser: Browser, ioc_server: str, demo_password: str):
    pages = SignedInPages(chromium_browser, ioc_server, demo_password)
    yield pages
    pages.close_and_check()


def query(page: Page) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlsplit(page.url).query).items()}


def ranking_bars(page: Page) -> list[str]:
    return page.evaluate(f"() => {{ const g = {RANKING}; return g && g.data && g.data[0] ? [...g.data[0].x] : null; }}")


def wait_for_ranking(page: Page, check: str = "true") -> None:
    """Until the ranking chart holds bars and ``check`` (JS over ``x``, the bar labels) holds."""
    page.wait_for_function(f"() => {{ const g = {RANKING}; if (!g || !g.data || !g.data[0] || !g.data[0].x) return false; "
                           f"const x = [...g.data[0].x]; return x.length > 0 && ({check}); }}", timeout=60_000)


def pick(page: Page, dropdown: str, option: str) -> None:
    """Choose an option the way a person does: open the dropdown, type into its search, click the option."""
    page.click(f"#{dropdown}")
    page.locator(".dash-dropdown-content input.dash-dropdown-search").fill(option)
    page.get_by_role("option", name=option, exact=True).click()
    page.keyboard.press("Escape")


def records_ids(page: Page) -> list[str]:
    return page.locator("#analyst-records td[data-dash-column=id]").all_inner_texts()


def test_filters_live_in_the_url_and_a_bar_opens_paged_records(analyst_pages, ioc_repo):
    root = ioc_repo.root_code()
    towns = ioc_repo.children(root)
    town = towns[1]
    page = analyst_pages.open("analyst", "/analyst", 1920, 1080)
    wait_for_ranking(page, f"x.length === {len(towns)}")

    # Filters through the controls: an area, quarters, a status.
    pick(page, "analyst-areas", town["name"])
    page.wait_for_function(f"() => location.search.includes('areas={town['code']}')")
    page.locator("#analyst-gran label", has_text="季度").click()
    page.wait_for_function("() => location.search.includes('gran=quarter')")
    pick(page, "analyst-statuses", "已办结")
    page.wait_for_function("() => location.search.includes('status=closed')")
    q = query(page)
    assert q["areas"] == town["code"] and q["gran"] == "quarter" and q["status"] == "closed"
    communities = ioc_repo.children(town["code"])
    wait_for_ranking(page, f"x.length === {len(communities)}")
    bars = ranking_bars(page)
    assert sorted(bars) == sorted(c["name"] for c in communities)

    # The same URL, loaded again, is the same view.
    url = page.url
    page.reload()
    wait_for_ranking(page, f"x.length === {len(communities)}")
    assert page.url == url
    assert ranking_bars(page) == bars
    assert town["name"] in page.inner_text("#analyst-areas")
    assert page.locator("#analyst-gran input[value=quarter]").is_checked()
    assert "已办结" in page.inner_text("#analyst-statuses")

    # A click on a bar opens that area's records; the table pages on the server.
    bar = page.locator("#analyst-graph-ranking .trace.bars .point path").first
    target = communities[[c["name"] for c in communities].index(bars[0])]
    box = bar.bounding_box()  # plotly's drag layer lies over the bars: click where the bar is, as a person does
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] * 0.8)
    page.wait_for_function(f"() => (document.querySelector('#analyst-drill-text')?.innerText || '').includes({target['name']!r})")
    page.wait_for_function(f"() => [...document.querySelectorAll('#analyst-records td[data-dash-column=region_code]')]"
                           f".every(td => td.innerText.startsWith({target['code']!r}))")
    first = records_ids(page)
    statuses = page.locator("#analyst-records td[data-dash-column=status]").all_inner_texts()
    assert len(first) == 25 and set(statuses) == {"closed"}
    page.screenshot(path=str(SCREENSHOTS / "analyst-1920x1080-zh.png"))
    page.locator("#analyst-records button.next-page").click()
    page.wait_for_function(f"() => {{ const td = document.querySelector('#analyst-records td[data-dash-column=id]'); "
                           f"return td && td.innerText !== {first[0]!r}; }}")
    second = records_ids(page)
    assert len(second) == 25 and not set(first) & set(second)


@pytest.mark.parametrize(("width", "height", "lang"), [(1366, 768, "en"), (1920, 1080, "en"), (1366, 768, "zh")])
def test_layout_sizes_and_languages(analyst_pages, ioc_repo, width, height, lang):
    town = ioc_repo.children(ioc_repo.root_code())[0]
    path = f"/analyst?areas={town['code']}&ind=env_aqi,env_pm25" + ("&lang=en" if lang == "en" else "")
    page = analyst_pages.open("analyst", path, width, height)
    wait_for_ranking(page)
    page.wait_for_function("() => document.querySelectorAll('#analyst-records td').length > 0")
    page.wait_for_function("() => { const g = document.querySelector('#analyst-graph-scatter .js-plotly-plot'); "
                           "return g && g.data && g.data.length > 0; }")
    page.wait_for_function(MAP_DRAWN, timeout=60_000)
    title = page.inner_text(".analyst-ranking .panel-title")
    assert title == ("Ranking of areas" if lang == "en" else "区域排名")
    assert page.inner_text("#analyst-error") == ""
    page.screenshot(path=str(SCREENSHOTS / f"analyst-{width}x{height}-{lang}.png"))


def test_a_bad_url_parameter_is_named_without_a_traceback(analyst_pages):
    page = analyst_pages.open("analyst", "/analyst?from=2025-13", 1366, 768)
    page.wait_for_function("() => (document.querySelector('#analyst-error')?.innerText || '').includes(\"'from'\")")
    assert "Traceback" not in page.inner_text("body")
