"""The wall through a database outage, in a real browser: the cockpit on PostgreSQL reached through a TCP
proxy the test controls. Stopping the proxy brings the banner and keeps the last data; a page reloaded
during the outage gets the shell with the banner (not "Error loading layout"); when the proxy forwards
again both recover by themselves, without a reload by hand, and keep their URL."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import text
from werkzeug.serving import make_server

from callbacks.security import QuietRequestHandler
from datasources import db
from datasources.ingest import Writer
from tests.browser.conftest import sign_in
from tests.conftest import PG_URL, pg_copy
from tests.tcp_proxy import proxy_to

pytestmark = pytest.mark.browser

SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
BANNER = "#degraded-banner"
KPI_VALUES = """() => [...document.querySelectorAll(`[id*='"type":"kpi-value"']`)].map(e => e.textContent)"""


@pytest.fixture
def wall_on_proxied_pg(mini_pg_template):
    """(base URL, proxy): the app on a PostgreSQL copy through the proxy, served in a thread."""
    from app import create_app

    host, port = urlsplit(PG_URL).hostname, urlsplit(PG_URL).port
    with pg_copy(mini_pg_template) as url, proxy_to(host, port) as proxy:
        _poll_every_two_seconds(url)
        app = create_app({"database_url": proxy.url_for(url), "db_connect_timeout": 2, "db_statement_timeout_ms": 2000,
                          "cache_type": "NullCache", "refresh_seconds": 2})
        server = make_server("127.0.0.1", 0, app.server, threaded=True, request_handler=QuietRequestHandler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_port}", proxy
        finally:
            proxy.set_mode("forward")
            server.shutdown()
            thread.join(timeout=10)
            server.server_close()
            app.server.config["IOC_SERVICES"].base_repo.engine.dispose()


def _poll_every_two_seconds(url: str) -> None:
    """The daily mode's refresh interval at 2 s (from 5): the outage shows, and ends, sooner."""
    engine = db.make_engine(url)
    with engine.connect() as conn:
        profiles = json.loads(conn.execute(text("SELECT value FROM meta WHERE key = 'mode_profiles'")).scalar_one())
    profiles["daily"]["refresh_seconds"] = 2
    with Writer(engine).batch() as batch:
        batch.set_meta({"mode_profiles": json.dumps(profiles, ensure_ascii=False)})
    engine.dispose()


def _banner_shown(page, text: str) -> None:  # noqa: ANN001
    page.wait_for_function(
        "(t) => { const b = document.querySelector('#degraded-banner'); return b && !b.hidden && b.textContent.includes(t); }",
        arg=text, timeout=20_000)


def _cockpit_ready(page) -> None:  # noqa: ANN001
    page.wait_for_function(
        f"() => ({KPI_VALUES})().some(v => /\\d/.test(v)) && !!document.querySelector('#breadcrumb .crumb.current')"
        " && !/^[–-]?$/.test(document.querySelector('#header-as-of').textContent)",
        timeout=45_000)


def test_the_wall_shows_the_outage_keeps_its_data_and_recovers_by_itself(chromium_browser, wall_on_proxied_pg):
    base, proxy = wall_on_proxied_pg
    context = chromium_browser.new_context(viewport={"width": 1600, "height": 900})
    errors: list[str] = []
    try:
        wall = context.new_page()
        sign_in(wall, base, "leader", "demo", next_path="/")
        wall.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        _cockpit_ready(wall)
        wall.evaluate("() => { window.__notReloaded = true; }")
        before = wall.evaluate(KPI_VALUES)
        url_before = wall.url

        proxy.set_mode("stopped")
        _banner_shown(wall, "数据更新中断")
        assert wall.evaluate(KPI_VALUES) == before, "the last data stays on the screen"
        assert wall.url == url_before
        SHOTS.mkdir(parents=True, exist_ok=True)
        wall.screenshot(path=str(SHOTS / "outage-banner-zh.png"))

        reloaded = context.new_page()  # a second screen, loaded while the database is down
        reloaded.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        reloaded.goto(base + "/?lang=en")
        _banner_shown(reloaded, "Data updates interrupted since")
        assert "Error loading layout" not in reloaded.content()
        reloaded.screenshot(path=str(SHOTS / "outage-reloaded-en.png"))

        with reloaded.expect_navigation(timeout=30_000):  # the shell loads the real page by itself
            proxy.set_mode("forward")
        wall.wait_for_function("() => document.querySelector('#degraded-banner').hidden", timeout=30_000)
        assert wall.evaluate("() => window.__notReloaded === true"), "the wall recovered in place, without a reload"
        _cockpit_ready(reloaded)  # the reloaded screen loaded itself whole
        reloaded.wait_for_function("() => document.querySelector('#degraded-banner').hidden", timeout=30_000)
        assert reloaded.url == base + "/?lang=en", "the URL it was opened with"
        # Requests the browser itself makes may fail while the database is down (503); nothing else may.
        assert not [e for e in errors if "500" in e or "Failed to load resource" not in e], errors
    finally:
        context.close()
