"""The production setup of deploy/ (nginx + gunicorn) as started by systemd, on loopback.

50 slow clients (one byte every 2 s) hold connections to the production setup while normal requests
keep being answered, correctly and without starving. Timings are not asserted beyond a ceiling that only
starvation would reach (5 s per request); bench/slow_clients.py measures the p95 with and without the
nginx front."""

from __future__ import annotations

import json
import socket
import threading
import time

import requests

from tests import dash_posts as dp
from tests.serving.conftest import sign_in

SLOW_CLIENTS = 50
CEILING_S = 5.0  # a starved request waits for gunicorn's 60 s timeout or the slow clients' whole trickle


class SlowClients:
    """``n`` connections that each send a request one byte at a time, ``interval`` seconds apart."""

    def __init__(self, port: int, n: int, interval: float = 2.0) -> None:
        self.request = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"x" * 200 + b"\r\n\r\n"
        self.socks = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(n)]
        self.interval = interval
        self.sent = 0
        self.closed_early = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._trickle, daemon=True)

    def _trickle(self) -> None:
        while not self._stop.is_set() and self.sent < len(self.request) - 4:  # never complete the request
            for s in self.socks:
                try:
                    s.sendall(self.request[self.sent:self.sent + 1])
                except OSError:
                    self.closed_early += 1
            self.sent += 1
            self._stop.wait(self.interval)

    def __enter__(self) -> SlowClients:
        self._thread.start()
        return self

    def still_open(self) -> int:
        """How many connections the server has not closed (a closed one reads EOF or fails)."""
        alive = 0
        for s in self.socks:
            s.setblocking(False)
            try:
                s.recv(1)  # an answer (a 408) or EOF: the server gave up on this client
            except BlockingIOError:
                alive += 1  # nothing to read: still open, still waiting for the rest of our request
            except OSError:
                pass
        return alive

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        for s in self.socks:
            s.close()


def test_normal_requests_are_answered_while_50_slow_clients_hold_connections(stack, mini_pristine):
    from app import create_app

    app = create_app({"database_url": mini_pristine})  # only for the shape of the callback posts
    poll = dp.body(app, "data-version.data...data-status.data", {"refresh-interval.n_intervals": 3, "data-version.data": 0})
    header = dp.body(app, "header-mode.children", {"url.search": "", "data-version.data": 1})
    session = sign_in(stack.url)
    version = requests.get(f"{stack.url}/healthz", timeout=CEILING_S).json()["data_version"]
    townships = app.server.config["IOC_SERVICES"].base_repo.children(app.server.config["IOC_SERVICES"].base_repo.root_code())

    answered = []
    with SlowClients(stack.front_port, SLOW_CLIENTS) as slow:
        time.sleep(0.5)  # every slow client has its first byte in
        deadline = time.monotonic() + 6  # well inside nginx's 10 s client_header_timeout
        while time.monotonic() < deadline:
            started = time.monotonic()
            health = requests.get(f"{stack.url}/healthz", timeout=CEILING_S)
            assert health.status_code == 200 and health.json()["data_version"] == version
            polled = session.post(f"{stack.url}/_dash-update-component", data=json.dumps(poll),
                                  headers={**dp.POST_HEADERS, "Origin": stack.url}, timeout=CEILING_S)
            assert polled.status_code == 200, polled.text[:300]
            assert polled.json()["response"]["data-version"]["data"] == version
            head = session.post(f"{stack.url}/_dash-update-component", data=json.dumps(header),
                                headers={**dp.POST_HEADERS, "Origin": stack.url}, timeout=CEILING_S)
            assert head.status_code == 200, head.text[:300]
            geo = session.get(f"{stack.url}/geo/level-1.json", timeout=CEILING_S)
            assert geo.status_code == 200 and len(geo.json()["features"]) == len(townships)
            answered.append(time.monotonic() - started)
        assert slow.sent >= 3 and slow.closed_early == 0
        assert slow.still_open() == SLOW_CLIENTS  # they held their connections the whole time
    assert len(answered) >= 5
    assert max(answered) < 4 * CEILING_S


def test_geometry_goes_out_compressed_with_the_apps_cache_header(stack):
    session = sign_in(stack.url)
    geo = session.get(f"{stack.url}/geo/level-1.json", headers={"Accept-Encoding": "gzip"}, timeout=10)
    assert geo.status_code == 200
    assert geo.headers["Content-Encoding"] == "gzip"
    assert geo.headers["Cache-Control"] == "private, max-age=86400, immutable"  # the app's, passed through
    assert geo.json()["type"] == "FeatureCollection"


def test_static_assets_come_from_nginx_with_a_year_of_caching(stack):
    from tests.serving.stack import ROOT

    name = sorted(p.name for p in (ROOT / "assets").iterdir() if p.suffix in (".css", ".js"))[0]
    resp = requests.get(f"{stack.url}/assets/{name}", timeout=10)
    assert resp.status_code == 200
    assert resp.content == (ROOT / "assets" / name).read_bytes()
    assert "max-age=31536000" in resp.headers["Cache-Control"]
    assert not any(f"/assets/{name}" in line for line in stack.log_text().splitlines())  # never reached gunicorn


def test_a_request_id_reaches_nginxs_and_the_apps_json_logs_and_comes_back(stack):
    resp = requests.get(f"{stack.url}/healthz", headers={"X-Request-ID": "probe-42.a"}, timeout=10)
    assert resp.headers["X-Request-ID"] == "probe-42.a"
    fresh = requests.get(f"{stack.url}/healthz", timeout=10).headers["X-Request-ID"]
    assert len(fresh) == 32  # nginx's own id when the client sends none, the same in the app's log
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:  # log lines are written after the answer
        app_lines = [json.loads(line) for line in stack.log_text().splitlines() if line.startswith("{")]
        front_lines = [json.loads(line) for line in (stack.workdir / "access.log").read_text().splitlines()]
        ids = {(x.get("logger"), x.get("request_id")) for x in app_lines + front_lines}
        if {("ioc.access", "probe-42.a"), ("nginx.access", "probe-42.a"), ("ioc.access", fresh), ("nginx.access", fresh)} <= ids:
            break
        time.sleep(0.2)
    else:
        raise AssertionError(f"request ids missing from the logs: {sorted(ids, key=str)[-10:]}")


def test_the_shipped_nginx_site_passes_nginx_t_as_debian_includes_it(tmp_path):
    import subprocess

    from tests.conftest import need
    from tests.serving.stack import SITE, nginx_binary

    nginx = nginx_binary()
    if nginx is None:
        need("nginx is not installed (scripts/test.sh installs Debian's nginx)")
    site = SITE.read_text().replace("/var/log/nginx/", f"{tmp_path}/")  # the only files nginx -t opens
    (tmp_path / "site.conf").write_text(site)
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{\n include /etc/nginx/mime.types;\n include {tmp_path}/site.conf;\n}}\n")
    result = subprocess.run([nginx, "-t", "-c", str(tmp_path / "nginx.conf"), "-p", str(tmp_path)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr
