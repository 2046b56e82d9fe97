"""The cockpit in a real browser (Debian chromium) on the county demo: map drill-down, back and reload,
KPI cards, language switch, every wall size, and a bad URL. Expected numbers come from the repository."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import Error as PlaywrightError

from layouts import ids

pytestmark = [pytest.mark.browser, pytest.mark.slow]  # slow: the county demo is built first
SCREENSHOTS = Path(__file__).parent / "screenshots"  # gitignored


def query(url: str) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlparse(url).query).items()}


@pytest.fixture(scope="module")
def township(ioc_repo) -> dict:
    """The largest township of the county that has communities (a row of repo.children): the easiest
    polygon to hit, see test_a_click_on_any_township_centre_drills_into_it for the small ones."""
    rows = [r for r in ioc_repo.children(ioc_repo.root_code()) if ioc_repo.region(r["code"])["n_children"] > 0]
    if not rows:
        pytest.fail("the county demo has no township with communities")
    return max(rows, key=lambda r: r["area_km2"])


def expected_crumbs(repo, code: str, lang: str = "zh") -> list[tuple[str, str]]:
    return [(a["code"], a["name"] if lang == "zh" else a["name_en"]) for a in repo.ancestors(code)]


def assert_breadcrumb(cp, repo, code: str) -> None:
    """City › township › community down to ``code``: names from the repository, links on the ancestors
    (to their own view), plain text on the current area."""
    assert cp.breadcrumb() == expected_crumbs(repo, code)
    items = cp.page.evaluate(
        """() => [...document.querySelectorAll('#breadcrumb [data-code]')].map(e => ({
            current: e.matches('.crumb.current'), href: e.querySelector('a')?.getAttribute('href') || null}))"""
    )
    assert [i["current"] for i in items] == [False] * (len(items) - 1) + [True]
    for item, a in zip(items[:-1], repo.ancestors(code)[:-1], strict=True):
        assert item["href"] and query(item["href"]).get("area") == a["code"], item
    assert items[-1]["href"] is None


def assert_kpis_match_repository(cp, code: str) -> None:
    shown, expected = cp.kpi_texts(), cp.expected_kpi_texts(code)
    assert shown, "no KPI card on the page"
    assert set(shown) == set(expected), f"cards on the page differ from the repository's headline KPIs: {set(shown) ^ set(expected)}"
    wrong = {c: (shown[c], expected[c]) for c in shown if shown[c] != expected[c]}
    assert not wrong, f"KPI values of {code} (shown, repository): {wrong}"


def test_click_township_then_community_drills_down_and_back_returns(cockpit, ioc_repo, township):
    cp = cockpit(1920, 1080).open("/")
    root = ioc_repo.root_code()
    cp.wait_for_view(root)
    cp.wait_for_map_fitted(root)

    cp.click_region(township)
    cp.wait_for_view(township["code"])
    assert cp.area_param() == township["code"]
    assert_breadcrumb(cp, ioc_repo, township["code"])
    assert len(cp.breadcrumb()) == 2  # city › township
    assert_kpis_match_repository(cp, township["code"])

    community = max(ioc_repo.children(township["code"]), key=lambda r: r["area_km2"])
    cp.wait_for_map_fitted(township["code"])
    cp.click_region(community)
    cp.wait_for_view(community["code"])
    assert cp.area_param() == community["code"]
    assert_breadcrumb(cp, ioc_repo, community["code"])
    assert len(cp.breadcrumb()) == 3  # city › township › community
    assert_kpis_match_repository(cp, community["code"])

    cp.page.go_back()
    cp.wait_for_view(township["code"])
    assert cp.area_param() == township["code"]
    assert_breadcrumb(cp, ioc_repo, township["code"])
    assert_kpis_match_repository(cp, township["code"])

    crumbs, kpis, url = cp.breadcrumb(), cp.kpi_texts(), cp.page.url
    cp.page.reload()
    cp.wait_for_view(township["code"])
    assert cp.page.url == url
    assert cp.breadcrumb() == crumbs
    assert cp.kpi_texts() == kpis

    cp.page.click(f"#breadcrumb .crumb-item[data-code='{root}'] a")  # and the city crumb goes up
    cp.wait_for_view(root)
    assert (cp.area_param() or root) == root
    assert_kpis_match_repository(cp, root)


def test_kpi_card_click_makes_it_the_map_indicator(cockpit, ioc_repo):
    cp = cockpit(1920, 1080).open("/")
    root = ioc_repo.root_code()
    cp.wait_for_view(root)
    cards = cp.page.locator("[id*='\"type\":\"kpi-card\"']")
    target = next(
        (cards.nth(k) for k in range(cards.count()) if "selected" not in (cards.nth(k).get_attribute("class") or "").split()),
        None,
    )
    assert target is not None, "every card is already selected"
    code = target.get_attribute("id").split('"code":"')[1].split('"')[0]
    name = next(i["name_zh"] for i in ioc_repo.indicators() if i["code"] == code)

    target.click()
    cp.page.wait_for_function("(code) => new URLSearchParams(location.search).get('indicator') === code", arg=code)
    cp.page.wait_for_function(
        "(id) => document.getElementById(id).classList.contains('selected')", arg=target.get_attribute("id")
    )
    selected = cp.page.evaluate("() => [...document.querySelectorAll('.kpi-card.selected')].map(e => JSON.parse(e.id).code)")
    assert selected == [code]
    cp.page.wait_for_function("(name) => document.querySelector('#area-title .area-indicator')?.textContent === name", arg=name)
    assert name in cp.page.inner_text("#indicator-select")
    # and the map now colours the children by that indicator
    cp.page.wait_for_function(
        "(name) => { const t = (GD)._fullData[1]; return t.locations.length > 0 && t.hovertemplate.includes(name); }"
        .replace("GD", cp.GD),
        arg=name,
    )


def test_language_switch_turns_the_screen_english(cockpit, ioc_repo):
    cp = cockpit(1920, 1080).open("/")
    root = ioc_repo.root_code()
    cp.wait_for_view(root)
    cp.page.click("#lang-toggle")
    cp.page.wait_for_function("() => document.getElementById('header-title').textContent.includes('City Operations Center')")
    assert query(cp.page.url).get("lang") == "en"
    cp.page.wait_for_function(
        "(name) => document.querySelector('#breadcrumb .crumb.current')?.textContent === name",
        arg=ioc_repo.region(root)["name_en"],
    )
    assert cp.page.get_attribute("#ioc-root", "lang") == "en"


# Every text node the viewer can see, with its computed size; plotly's modebar and its off-screen
# measurement nodes (#js-plotly-tester) are no part of the screen.
SMALL_TEXT_JS = """(minPx) => {
    const out = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
        const text = n.textContent.trim();
        const el = n.parentElement;
        if (!text || !el || el.closest('.modebar-container, .modebar, #js-plotly-tester, script, style')) continue;
        if (!el.checkVisibility({checkOpacity: true, checkVisibilityCSS: true})) continue;
        const r = el.getBoundingClientRect();
        if (r.width === 0 || r.height === 0 || r.right <= 0 || r.bottom <= 0 || r.left >= innerWidth || r.top >= innerHeight) continue;
        const size = parseFloat(getComputedStyle(el).fontSize);
        if (size < minPx) {
            const cls = typeof el.className === 'string' ? el.className : el.getAttribute('class') || '';
            out.push(`${el.tagName.toLowerCase()}.${cls.trim().replace(/\\s+/g, '.')} ${size}px "${text.slice(0, 30)}"`);
        }
    }
    return out;
}"""

# Header, panels and ticker must lie inside the viewport. The ticker's track scrolls by design and is
# clipped by its window, so only the window itself is checked. An element cut off by an ancestor that
# clips (a card, a panel) names that ancestor: it is not off-screen, but the viewer sees only part of it.
OVERFLOW_JS = """() => {
    const out = [];
    const W = innerWidth, H = innerHeight;
    const name = (el) => {
        const cls = typeof el.className === 'string' ? el.className : el.getAttribute('class') || '';
        return `${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}.${cls.trim().replace(/\\s+/g, '.')}`;
    };
    const els = document.querySelectorAll('.ioc-header, .ioc-header *, .panel, .panel *, .ticker-strip, .ticker-strip > *');
    for (const el of els) {
        const r = el.getBoundingClientRect();
        if (r.width === 0 && r.height === 0) continue;
        if (r.left < -1 || r.top < -1 || r.right > W + 1 || r.bottom > H + 1) {
            let clip = el.parentElement;
            while (clip && getComputedStyle(clip).overflow === 'visible') clip = clip.parentElement;
            const box = `[${Math.round(r.left)},${Math.round(r.top)} ${Math.round(r.right)},${Math.round(r.bottom)}]`;
            out.push(`${name(el)} ${box}` + (clip ? ` (cut off by ${name(clip)})` : ''));
        }
    }
    return out.slice(0, 40);
}"""


# What the viewer sees only in part, in the header and panels: text cut by its own box (overflow hidden,
# ellipsis), and visible elements sticking out of an ancestor that clips them (a card, a panel).
# By design: long indicator names ellipsize (.kpi-name), and the ticker scrolls in its window.
CLIPPED_JS = """() => {
    const out = [];
    const clips = (e) => { const cs = getComputedStyle(e); return cs.overflowX !== 'visible' || cs.overflowY !== 'visible'; };
    const name = (e) => {
        const cls = typeof e.className === 'string' ? e.className : e.getAttribute('class') || '';
        return `${e.tagName.toLowerCase()}.${cls.trim().split(/\\s+/)[0]}`;
    };
    const els = document.querySelectorAll('.ioc-header *, .panel *, .ticker-strip *');
    for (const el of els) {
        if (el.closest('.js-plotly-plot, .kpi-name, .ticker-window')) continue;
        if (!el.checkVisibility({checkOpacity: true, checkVisibilityCSS: true})) continue;
        const r = el.getBoundingClientRect();
        if (!r.width || !r.height) continue;
        const text = el.textContent.trim().replace(/\\s+/g, ' ').slice(0, 30);
        const ownText = [...el.childNodes].some(n => n.nodeType === Node.TEXT_NODE && n.textContent.trim());
        if (ownText && clips(el) && (el.scrollWidth > el.clientWidth + 1 || el.scrollHeight > el.clientHeight + 1)) {
            out.push([name(el), `"${text}" needs ${el.scrollWidth}x${el.scrollHeight}px, has ${el.clientWidth}x${el.clientHeight}px`]);
            continue;
        }
        let a = el.parentElement;
        while (a && a !== document.body && !clips(a)) a = a.parentElement;
        if (!a || a === document.body) continue;
        const b = a.getBoundingClientRect();
        const over = Math.max(b.left - r.left, r.right - b.right, b.top - r.top, r.bottom - b.bottom);
        if (over > 1) out.push([name(el), `"${text}" sticks out of ${name(a)} by ${Math.round(over)}px`]);
    }
    return out;
}"""


def grouped(pairs: list[list[str]], examples: int = 3) -> list[str]:
    """``[selector, detail]`` pairs as one line per selector: count and a few examples."""
    groups: dict[str, list[str]] = {}
    for sel, detail in pairs:
        groups.setdefault(sel, []).append(detail)
    return [f"{sel} x{len(d)}, e.g. " + "; ".join(d[:examples]) for sel, d in groups.items()]


@pytest.mark.parametrize(("width", "height"), [(1920, 1080), (3840, 2160), (1366, 768), (5760, 1080), (7680, 2160)])
def test_screens_fit_without_scrollbars_and_save_screenshots(cockpit, township, width, height):
    cp = cockpit(width, height).open(f"/?area={township['code']}")
    cp.wait_for_view(township["code"])
    # The fitted map when the app fits a first load (test_bookmarked_view_fits_the_map_to_the_screen), else as it is.
    if not cp.map_fitted_within(township["code"], 3_000):
        cp.wait_for_map_settled(township["code"])
    cp.page.evaluate("() => document.fonts.ready.then(() => true)")

    size = cp.page.evaluate(
        "() => ({sh: document.documentElement.scrollHeight, sw: document.documentElement.scrollWidth,"
        " h: innerHeight, w: innerWidth})"
    )
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    cp.page.screenshot(path=str(SCREENSHOTS / f"cockpit-{width}x{height}.png"), full_page=True)

    problems = []
    if size["sh"] > size["h"]:
        problems.append(f"vertical scroll: scrollHeight {size['sh']} > innerHeight {size['h']}")
    if size["sw"] > size["w"]:
        problems.append(f"horizontal scroll: scrollWidth {size['sw']} > innerWidth {size['w']}")
    problems += [f"outside the viewport: {e}" for e in cp.page.evaluate(OVERFLOW_JS)]
    problems += [f"cut off: {e}" for e in grouped(cp.page.evaluate(CLIPPED_JS))]
    if (width, height) == (1920, 1080):
        problems += [f"text below 14px: {e}" for e in cp.page.evaluate(SMALL_TEXT_JS, 14)]
    assert not problems, f"at {width}x{height}:\n" + "\n".join(problems)


def test_unknown_area_in_url_shows_message_not_traceback(cockpit, ioc_repo):
    cp = cockpit(1920, 1080).open("/?area=999999")
    root = ioc_repo.root_code()
    cp.wait_for_view(root)
    cp.page.wait_for_selector("#area-title .area-error", state="visible")
    assert cp.breadcrumb() == expected_crumbs(ioc_repo, root)
    assert_kpis_match_repository(cp, root)
    assert "Traceback" not in cp.page.inner_text("body")
    assert "Traceback" not in cp.page.content()


def test_bookmarked_view_fits_the_map_to_the_screen(cockpit, township):
    """A bookmark or a reload (first render of the page) fits the map to the area at the real size,
    as a click does, not the server's guess for a 1000x760 map."""
    cp = cockpit(3840, 2160).open(f"/?area={township['code']}")
    cp.wait_for_view(township["code"])
    cp.wait_for_map_fitted(township["code"], timeout=10_000)


def test_a_click_on_any_township_centre_drills_into_it(cockpit, ioc_repo):
    """From the city view, a click in the middle of every township drills into that township, whatever
    is drawn there (markers of the default layers cover the small townships)."""
    cp = cockpit(1920, 1080).open("/")
    root = ioc_repo.root_code()
    towns = ioc_repo.children(root)
    cp.wait_for_view(root)
    cp.wait_for_map_fitted(root)
    wrong = []
    for town in towns:
        x, y = cp.screen_xy(town["centroid_lon"], town["centroid_lat"])
        cp.page.mouse.move(x, y)
        cp.page.wait_for_timeout(100)  # plotly's hover is throttled
        before = f"hovered: {cp.hovered() or 'nothing'}; map: {cp.map_fit(root)}"
        cp.page.mouse.click(x, y)
        try:
            cp.page.wait_for_function(
                "(root) => (new URLSearchParams(location.search).get('area') || root) !== root", arg=root, timeout=3_000
            )
        except PlaywrightError:
            wrong.append(f"{town['code']} {town['name']}: nothing happened ({before})")
            continue
        if cp.area_param() != town["code"]:
            wrong.append(f"{town['code']} {town['name']}: drilled into {cp.area_param()} instead")
        cp.wait_for_view(cp.area_param())  # Back only once the drill-down has rendered
        cp.page.go_back()
        cp.wait_for_view(root)
        cp.wait_for_map_fitted(root)
    assert not wrong, f"{len(wrong)} of {len(towns)} townships, clicked at their centre:\n" + "\n".join(wrong)


# ---------------------------------------------------------------------------------------------- laptop text (issue 11 item 7)

# Chinese characters (CJK ideographs, CJK and full-width punctuation) in the visible text of an English
# page, outside data: event titles (marked .data-text in the ticker, .item-title in the console), the
# analyst's raw records (a data table: Chinese and English names side by side, titles, departments) and
# the switch back to Chinese, which names its language in that language.
CJK_UI_TEXT_JS = """(skip) => {
    const cjk = /[\\u3000-\\u303f\\u3400-\\u9fff\\uff00-\\uffef]/;
    const out = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
        const text = n.textContent.trim();
        const el = n.parentElement;
        if (!text || !el || !cjk.test(text) || el.closest(skip)) continue;
        if (!el.checkVisibility({checkOpacity: true, checkVisibilityCSS: true})) continue;
        const cls = typeof el.className === 'string' ? el.className : el.getAttribute('class') || '';
        out.push(`${el.tagName.toLowerCase()}.${cls.trim().replace(/\\s+/g, '.')} "${text.slice(0, 40)}"`);
    }
    return out;
}"""
DATA_TEXT = ".data-text, .item-title, #analyst-records td, .lang-toggle, script, style, #js-plotly-tester"
# What each page shows once its data is in (waited for before reading sizes and texts).
PAGE_READY = {
    "/": "() => document.querySelectorAll('.kpi-card .kpi-value').length > 0 && "
         "[...document.querySelectorAll('.kpi-card .kpi-value')].every(e => e.textContent.trim() !== '') && "
         "document.querySelectorAll('#event-stats .stat').length > 0",
    "/console": "() => document.querySelectorAll('.console-item').length > 0",
    "/analyst": "() => document.querySelectorAll('.analyst-filters label').length > 0 && "
                "document.querySelectorAll('.js-plotly-plot .main-svg').length > 0",
}


@pytest.mark.parametrize(("user", "path", "lang"), [
    ("leader", "/", "zh"), ("leader", "/", "en"), ("duty", "/console", "en"), ("analyst", "/analyst", "zh"),
    ("analyst", "/analyst", "en"),
])
def test_laptop_screens_have_no_text_under_12px_and_english_ones_no_chinese_ui_text(cockpit, ioc_repo, user, path, lang):
    """At 1366x768 (where 1 rem is the 12 px floor) no visible text is smaller than 12 px; in English
    every UI word is English (data such as event titles may stay Chinese)."""
    cp = cockpit(1366, 768, user=user).open(path + ("?lang=en" if lang == "en" else ""))
    if path == "/":
        cp.wait_for_view(ioc_repo.root_code())  # the map too: its colour bar is text
    cp.page.wait_for_function(PAGE_READY[path], timeout=90_000)
    cp.page.evaluate("() => document.fonts.ready.then(() => true)")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    cp.page.screenshot(path=str(SCREENSHOTS / f"laptop-{path.strip('/') or 'cockpit'}-{lang}.png"))
    problems = [f"text below 12px: {e}" for e in cp.page.evaluate(SMALL_TEXT_JS, 12)]
    if lang == "en":
        problems += [f"Chinese in the English UI: {e}" for e in cp.page.evaluate(CJK_UI_TEXT_JS, DATA_TEXT)]
    assert not problems, f"{path} ({lang}) at 1366x768:\n" + "\n".join(problems[:40])
# ---------------------------------------------------------------------------------------------- the leader's view
NAMES_JS = """() => {
    const layer = document.querySelector('#map .map-names');
    if (!layer) return null;
    const box = layer.getBoundingClientRect();
    return [...layer.querySelectorAll('.map-name')].filter(e => e.style.display !== 'none').map(e => {
        const r = e.getBoundingClientRect();
        return {text: e.textContent, box: [r.left - box.left, r.top - box.top, r.right - box.left, r.bottom - box.top],
                size: [box.width, box.height], color: getComputedStyle(e).color, px: parseFloat(getComputedStyle(e).fontSize)};
    });
}"""


def _overlaps(a: list[float], b: list[float]) -> bool:
    return not (a[2] <= b[0] or a[0] >= b[2] or a[3] <= b[1] or a[1] >= b[3])


@pytest.mark.parametrize(("width", "height"), [(1920, 1080), (1366, 768)])
def test_leader_view_names_the_areas_and_lists_alerts_with_the_layers_from_the_url(cockpit, ioc_repo, width, height):
    """A bookmark naming layers opens with those layers (an unknown one ignored): picker, legend and map
    agree; the township names are drawn on the map without overlapping; the alert panel counts the open
    alerts per grade and lists them most severe first; a click on one leads to its area; a switch in the
    picker lands in the URL. In Chinese and in English, with screenshots."""
    root = ioc_repo.root_code()
    towns = ioc_repo.children(root)
    counts = ioc_repo.open_alert_counts(root)
    expected_order = [a["region_code"] for a in ioc_repo.open_alerts(root, 40)]
    for lang in ("zh", "en"):
        cp = cockpit(width, height).open("/?layers=alerts,camera,bogus" + ("&lang=en" if lang == "en" else ""))
        cp.wait_for_view(root)
        if not cp.map_fitted_within(root, 5_000):
            cp.wait_for_map_settled(root)
        cp.page.wait_for_function("(n) => document.querySelectorAll('#map .map-name:not([style*=\"none\"])').length >= n",
                                  arg=len(towns) // 2, timeout=15_000)
        names = cp.page.evaluate(NAMES_JS)
        town_names = {t["name"] if lang == "zh" else (t["name_en"] or t["name"]) for t in towns}
        assert {n["text"] for n in names} <= town_names and len(names) >= len(towns) // 2, names
        for k, a in enumerate(names):
            assert a["box"][0] >= 0 and a["box"][2] <= a["size"][0] + 1 and a["box"][1] >= 0 and a["box"][3] <= a["size"][1] + 1, a
            assert not any(_overlaps(a["box"], b["box"]) for b in names[k + 1:]), f"{a['text']} overlaps another name"
            assert a["px"] >= (14 if width == 1920 else 12) and a["color"] == "rgb(255, 255, 255)"
        # picker, legend and URL agree on the layers
        checked = cp.page.evaluate(f"() => [...document.querySelectorAll('#{ids.LAYERS} input:checked')].map(e => e.value)")
        assert checked == ["alerts", "camera"]
        legend = cp.page.evaluate("() => [...document.querySelectorAll('.map-legend .legend-item')]"
                                  ".filter(e => e.checkVisibility()).map(e => e.dataset.layer)")
        assert legend == ["alerts", "camera"]
        # the alert panel: counts per grade from the repository, the items in its order, as many as fit
        cp.page.wait_for_selector(".map-body .alert-panel .alert-item", timeout=15_000)
        shown_counts = cp.page.evaluate("() => [...document.querySelectorAll('.map-body .alert-panel .alert-count-n')].map(e => e.textContent)")
        assert shown_counts == [f"{counts.get(s, 0):,}" for s in (1, 2, 3, 4)]
        cp.page.wait_for_function("() => document.querySelector('.map-body .alert-panel .alert-more').textContent !== ''"
                                  " || document.querySelectorAll('.map-body .alert-panel .alert-item').length < 40", timeout=5_000)
        areas = cp.page.evaluate("() => [...document.querySelectorAll('.map-body .alert-panel .alert-item')]"
                                 ".filter(e => e.checkVisibility()).map(e => e.dataset.area)")
        assert areas and areas == expected_order[:len(areas)]
        more = cp.page.inner_text(".map-body .alert-panel .alert-more")
        assert str(sum(counts.values()) - len(areas)) in more.replace(",", "")
        cp.page.evaluate("() => document.fonts.ready.then(() => true)")
        cp.page.screenshot(path=str(SCREENSHOTS / f"leader-{lang}-{width}x{height}.png"))
    # A switch in the picker lands in the URL (the rest of the view kept) and in the legend.
    cp.page.click(".layer-box > summary")
    cp.page.click(f"#{ids.LAYERS} input[value='shelter']")
    cp.page.wait_for_function("() => new URLSearchParams(location.search).get('layers') === 'alerts,camera,shelter'")
    assert query(cp.page.url)["lang"] == "en"
    cp.page.wait_for_selector(".map-legend .legend-item[data-layer='shelter']", state="visible")
    # An alert leads to its area (its link follows the view: wait for the panel sent after the switch).
    cp.page.wait_for_function("() => document.querySelector('.map-body .alert-panel .alert-item a').href.includes('shelter')")
    target = cp.page.evaluate("() => document.querySelector('.map-body .alert-panel .alert-item').dataset.area")
    cp.page.click(".map-body .alert-panel .alert-item a")
    cp.wait_for_view(target)
    assert cp.area_param() == target and query(cp.page.url)["layers"] == "alerts,camera,shelter"
# ---------------------------------------------------------------------------------------------- composite scores (issue 11)


@pytest.mark.parametrize(("width", "height", "lang"), [(1920, 1080, "zh"), (1366, 768, "en")])
def test_the_map_opens_on_the_overall_score_and_says_what_pulls_it_down(cockpit, ioc_repo, ioc_period, width, height, lang):
    """With no indicator in the URL the map colours the townships by their overall score (the repository's),
    the title shows the city's score and the panel under it the indicators and townships that pull it
    down, in the repository's order; a township in the panel is a link to its own score. The indicator
    selector starts with the scores, then the themes' indicators under their headings."""
    root = ioc_repo.root_code()
    cp = cockpit(width, height).open("/" if lang == "zh" else "/?lang=en")
    cp.wait_for_view(root)
    assert query(cp.page.url).get("indicator") is None
    scores = {r["code"]: r["scores"]["overall"] for r in ioc_repo.child_scores(root, ioc_period)}
    shown = cp.page.evaluate("() => { const t = (GD)._fullData[1]; return [t.locations, t.z, t.zmin, t.zmax]; }".replace("GD", cp.GD))
    assert dict(zip(shown[0], shown[1], strict=True)) == pytest.approx(scores)
    assert (shown[2], shown[3]) == (0, 100)

    expl = ioc_repo.score_explanation(root, ioc_period, "overall")
    cp.page.wait_for_selector("#area-title .score-why", state="visible")
    assert cp.page.inner_text("#area-title .score-value") == f"{expl['score']:.1f}"
    assert cp.page.evaluate("() => [...document.querySelectorAll('#area-title .score-why-item')].map(e => e.dataset.code)") == (
        [r["code"] for r in expl["indicators"]] + [c["code"] for c in expl["children"]])
    small = cp.page.evaluate(SMALL_TEXT_JS.replace("document.body", "document.getElementById('area-title')"), 12)
    assert not small, f"score texts below 12px: {small}"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    cp.page.screenshot(path=str(SCREENSHOTS / f"scores-{width}x{height}-{lang}.png"))

    cp.page.click("#indicator-select")
    cp.page.wait_for_selector(".dash-dropdown-content .dash-options-list-option")
    # Rows by their option index (the list is virtualised: scroll it to bring the first theme heading in)
    rows_js = """() => Object.fromEntries([...document.querySelectorAll('.dash-dropdown-content [data-option-index]')]
        .map(e => [e.dataset.optionIndex, [e.textContent.trim(), e.querySelector('input').disabled]]))"""
    first = cp.page.evaluate(rows_js)
    group, overall = ("综合评分", "综合评分") if lang == "zh" else ("Scores", "Overall score")
    assert (first["0"], first["1"]) == ([group, True], [overall, False])
    assert all(not first[str(k)][1] for k in range(1, 7))  # the six scores can be picked
    cp.page.screenshot(path=str(SCREENSHOTS / f"scores-selector-{width}x{height}-{lang}.png"))
    cp.page.evaluate("() => { const l = document.querySelector('.dash-dropdown-content .dash-options-list-virtualized'); l.scrollTop = 150; }")
    cp.page.wait_for_selector(".dash-dropdown-content [data-option-index='7']")
    theme = next(p for p in ioc_repo.pages() if p["kind"] == "theme")
    assert cp.page.evaluate(rows_js)["7"] == [theme["name_zh"] if lang == "zh" else theme["name_en"], True]  # a heading
    cp.page.keyboard.press("Escape")

    if expl["children"]:
        town = expl["children"][0]["code"]
        cp.page.click(f"#area-title .score-why-item[data-code='{town}'] a")
        cp.wait_for_view(town)
        assert query(cp.page.url).get("area") == town and query(cp.page.url).get("indicator") == "score.overall"
        own = ioc_repo.area_scores(town, ioc_period)["scores"]["overall"]
        cp.page.wait_for_function("(s) => document.querySelector('#area-title .score-value')?.textContent === s", arg=f"{own:.1f}")
