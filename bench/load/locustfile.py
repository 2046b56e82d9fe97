"""Locust users of the load test (run by ``bench/load_test.py``, which prepares the posts file and the
production setup): wall screens polling at the refresh interval, duty officers drilling, one data feed.

The callback posts are the ones the wall's browser makes (built with tests/dash_posts.py from the app's
callback map by the runner and read from ``IOC_LOAD_POSTS``): the page load, then the data-version poll
every refresh interval and, when the version moved, the header, the cockpit render and the ticker with the
"sent" state of the previous answer, exactly as the browser sends them.
"""

from __future__ import annotations

import copy
import json
import os
import random
import re
import time
from datetime import datetime
from pathlib import Path

from locust import HttpUser, between, constant, events, task

POSTS = json.loads(Path(os.environ["IOC_LOAD_POSTS"]).read_text(encoding="utf-8"))
HEADERS = {"Content-Type": "application/json"}
#: (time, name, ms, ok) of every request, and ("__ready__", time) when a screen finished loading: the runner
#: takes its steady-state figures from the requests after the last screen was up (IOC_LOAD_RECORDS).
RECORDS: list[tuple] = []


@events.request.add_listener
def _record(name: str, response_time: float, exception: Exception | None, **_kw) -> None:  # noqa: ANN003
    RECORDS.append((time.time(), name, response_time, exception is None))


@events.quitting.add_listener
def _dump(**_kw) -> None:  # noqa: ANN003
    if os.environ.get("IOC_LOAD_RECORDS"):
        Path(os.environ["IOC_LOAD_RECORDS"]).write_text(json.dumps(RECORDS))


def _with(body: dict, values: dict) -> dict:
    """A copy of a callback body with some input/state values replaced ('id.property' -> value)."""
    out = copy.deepcopy(body)
    for group in ("inputs", "state"):
        for entry in out[group]:
            if isinstance(entry, dict) and f"{entry['id']}.{entry['property']}" in values:
                entry["value"] = values[f"{entry['id']}.{entry['property']}"]
    return out


class Screen(HttpUser):
    """A signed-in browser showing the cockpit."""

    abstract = True
    username = "leader"

    def on_start(self) -> None:
        page = self.client.get("/login", name="page load /login").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        self.client.post("/login", data={"username": self.username, "password": POSTS["password"], "csrf_token": token},
                         name="page load /login [POST]", allow_redirects=False)
        self.search = ""
        self.version = 0
        self.sent: dict = {}
        for path in ("/", "/_dash-layout", "/_dash-dependencies", POSTS["geo_url"]):
            self.client.get(path, name=f"page load {path}")
        for name in ("labels", "options", "export_href"):
            self.callback(name, {"url.search": ""}, prefix="page load ")
        self.refresh(prefix="page load ")
        RECORDS.append((time.time(), "__ready__", 0, True))

    def callback(self, name: str, values: dict, prefix: str = "") -> dict | None:
        """Post one callback as the browser does; the response's props, or None (204 no update / failure)."""
        body = _with(POSTS["callbacks"][name], values)
        with self.client.post("/_dash-update-component", data=json.dumps(body), headers={**HEADERS, "Origin": self.host},
                              name=f"{prefix}callback {name}", catch_response=True) as resp:
            if resp.status_code == 204:
                resp.success()
                return None
            if resp.status_code != 200:
                resp.failure(f"{resp.status_code}: {resp.text[:200]}")
                return None
            return resp.json().get("response", {})

    @task
    def poll(self) -> None:
        """The data-version poll every screen sends (a task of every user below): on a new version, refresh."""
        props = self.callback("poll", {"data-version.data": self.version, "refresh-interval.n_intervals": 1})
        if props and "data-version" in props:
            self.version = props["data-version"]["data"]
            self.refresh()

    def refresh(self, prefix: str = "") -> None:
        """What a changed data version (or a new area) makes the page post: header, cockpit, ticker."""
        common = {"url.search": self.search, "data-version.data": self.version}
        self.callback("facts", common, prefix)
        view = self.callback("render", {**common, "view-sent.data": self.sent.get("view")}, prefix)
        if view and "view-sent" in view:
            self.sent["view"] = view["view-sent"]["data"]
        ticker = self.callback("ticker", {**common, "ticker-sent.data": self.sent.get("ticker")}, prefix)
        if ticker and "ticker-sent" in ticker:
            self.sent["ticker"] = ticker["ticker-sent"]["data"]


class Wall(Screen):
    """A video-wall screen: nobody touches it; its only task is the poll, every refresh interval."""

    fixed_count = int(os.environ.get("IOC_LOAD_WALLS", "50"))
    wait_time = constant(POSTS["refresh_seconds"])


class DutyOfficer(Screen):
    """A duty officer drilling into townships and communities and back up, a few seconds apart (and polling,
    as every screen does: the two tasks equally often)."""

    fixed_count = int(os.environ.get("IOC_LOAD_OFFICERS", "10"))
    username = "duty"
    wait_time = between(3, 8)

    @task
    def drill(self) -> None:
        self.search = random.choice(POSTS["drill_searches"])
        self.callback("labels", {"url.search": self.search})
        self.refresh()


class Feed(HttpUser):
    """The hotline feed: one new event a minute through the ingest API (every screen then re-renders)."""

    fixed_count = int(os.environ.get("IOC_LOAD_FEEDS", "1"))
    wait_time = constant(60)

    @task
    def post_event(self) -> None:
        lon, lat = random.choice(POSTS["points"])
        now = datetime.now().replace(microsecond=0)
        item = {"id": f"LOAD-{now:%H%M%S}-{random.randrange(10**6)}", "source": "hotline", "category": "road",
                "theme": "governance", "severity": random.randint(1, 4), "title": "负载测试事件", "lon": lon, "lat": lat,
                "reported_at": now.isoformat(), "status": "reported"}
        self.client.post("/api/v1/events", json=[item], headers={"Authorization": f"Bearer {POSTS['feed_token']}"},
                         name="/api/v1/events")
