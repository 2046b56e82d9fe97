"""Benchmark the cockpit as the user feels it, in headless Debian chromium with software WebGL (SwiftShader):
click-to-redraw, the browser's CPU per drill, bytes per click and first load, next to today's figure.

    python bench/browser.py --db /work/cache/bench-county.db --baseline 76890f4

The database is copied first (the app creates the demo accounts in it; the shared file stays untouched).
Each tree (this one, and with ``--baseline REV`` the tree of that commit, extracted with ``git archive``)
serves the app in a subprocess (werkzeug, threaded, SimpleCache); the browser signs in as ``leader``.

- First load: from navigation start to the root view complete (see ``DONE_JS``), and the bytes of every
  response (decoded and on the wire).
- A drill: a mouse click on a township's polygon (alternating with a click on the breadcrumb's city link,
  measured too but reported apart). Click-to-redraw runs from the click's ``performance.now()`` to the first
  animation frame where the breadcrumb names the area, the choropleth shows its children, every KPI card
  shows the repository's value, MapLibre stands still, loaded and centred on the area, and no callback post
  is in flight.
- CPU per drill: CDP ``Performance.getMetrics`` (TaskDuration, ScriptDuration of the page's main thread) and
  the user+system CPU of chromium's renderer and GPU processes (psutil) from the click until complete.
- Idle: the renderer's and GPU process's CPU per second over 8 s of the cockpit left alone after loading.
- Bytes per click: decoded bodies of every callback post's answer and every geometry fetched, plus the
  posts' own bodies (request), and the number of posts.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

import psutil
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--enable-unsafe-swiftshader", "--use-angle=swiftshader"]
# How chromium draws the page around the map's WebGL canvas (software WebGL in both):
# - "gpu": compositing and rasterisation through SwiftShader too, as the flags above force (chromium then
#   believes it has a GPU; every frame of the whole window is composited in software GL: ~90 ms at 1920x1080);
# - "software": software compositing and rasterisation, what chromium falls back to on a PC whose GPU driver
#   is missing or blocklisted (WebGL still on SwiftShader through --enable-unsafe-swiftshader).
COMPOSITING = {"gpu": [], "software": ["--disable-gpu-compositing", "--disable-gpu-rasterization"]}
GD = "document.querySelector('#map .js-plotly-plot')"
MAP = f"(() => {{ const gd = {GD}; const s = gd && gd._fullLayout && gd._fullLayout.map && gd._fullLayout.map._subplot; return s && s.map; }})()"

# Counts callback posts in flight (Dash's renderer uses fetch) so "complete" waits for the last answer.
INIT_JS = """
(() => {
  window.__ioc = {inflight: 0, posts: 0, clickAt: null};
  const orig = window.fetch;
  window.fetch = function(input, init) {
    const url = typeof input === 'string' ? input : input.url;
    if (!url.includes('_dash-update-component')) return orig.apply(this, arguments);
    window.__ioc.inflight++; window.__ioc.posts++;
    return orig.apply(this, arguments).then(
      (r) => { r.clone().text().finally(() => { window.__ioc.inflight--; }); return r; },
      (e) => { window.__ioc.inflight--; throw e; });
  };
  document.addEventListener('mousedown', () => { window.__ioc.clickAt = performance.now(); }, true);
})();
"""

# The view of ``code`` is complete on screen (arg: code, its map members, expected KPI texts, its bounds).
DONE_JS = """([code, members, kpis, b]) => {
  const io = window.__ioc;
  if (!io || io.inflight) return false;
  const cur = document.querySelector('#breadcrumb .crumb.current');
  if (!cur || cur.dataset.code !== code) return false;
  const gd = GD;
  const locs = gd && gd._fullData && gd._fullData[1] && gd._fullData[1].locations;
  if (!(locs && locs.length === members.length && locs.every(c => members.includes(String(c))))) return false;
  for (const el of document.querySelectorAll(`[id*='"type":"kpi-value"']`)) {
    const want = kpis[JSON.parse(el.id).code];
    if (want !== undefined && el.textContent !== want) return false;
  }
  const m = MAP;
  if (!m || m.isMoving() || !m.loaded()) return false;
  const bb = m.getBounds();
  if (!bb.contains([(b[0] + b[2]) / 2, (b[1] + b[3]) / 2])) return false;
  const p0 = m.project([b[0], b[3]]), p1 = m.project([b[2], b[1]]), c = m.getContainer().getBoundingClientRect();
  if (Math.max((p1.x - p0.x) / c.width, (p1.y - p0.y) / c.height) < 0.6) return false;  // fitted, not the old extent
  io.doneAt = performance.now();
  return true;
}""".replace("GD", GD).replace("MAP", MAP)


IDLE_MS = 8000  # how long the idle page is watched


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


SERVE = """
import sys, logging
from werkzeug.serving import make_server
from app import create_app
logging.getLogger('werkzeug').setLevel(logging.ERROR)
app = create_app({'database_url': sys.argv[1], 'scheduler': False})
make_server('127.0.0.1', int(sys.argv[2]), app.server, threaded=True).serve_forever()
"""


class Server:
    """The app of one source tree in a subprocess."""

    def __init__(self, tree: Path, db_url: str):
        self.port = free_port()
        env = {**os.environ, "PYTHONPATH": str(tree), "IOC_SCHEDULER": "0"}
        self.proc = subprocess.Popen([sys.executable, "-c", SERVE, db_url, str(self.port)], cwd=tree, env=env,
                                     stdout=subprocess.DEVNULL)
        self.base = f"http://127.0.0.1:{self.port}"
        for _ in range(600):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"server of {tree} exited with {self.proc.returncode}") from None
                time.sleep(0.2)
        raise RuntimeError("server did not start")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=20)


def browser_cpu(root_pid: int) -> dict[str, float]:
    """User+system CPU seconds of chromium's renderer and GPU processes (children of ``root_pid``)."""
    out = {"renderer": 0.0, "gpu": 0.0}
    for p in psutil.Process(root_pid).children(recursive=True):
        try:
            cmd = " ".join(p.cmdline())
            t = p.cpu_times()
        except psutil.Error:
            continue
        kind = "renderer" if "--type=renderer" in cmd else "gpu" if "--type=gpu-process" in cmd else None
        if kind:
            out[kind] += t.user + t.system
    return out


def pct(values: list[float], q: float) -> float:
    """q-th percentile (nearest rank)."""
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q / 100 * len(s)) - 1))] if s else float("nan")


class Run:
    """One browser session against one server: first loads and drills."""

    def __init__(self, pw, base: str, repo, period, password: str, compositing: str = "gpu"):  # noqa: ANN001
        self.base, self.repo, self.period = base, repo, period
        self.browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS + COMPOSITING[compositing])
        self.root_pid = self._chromium_pid()
        self.password = password
        self.context = self.browser.new_context(viewport={"width": 1920, "height": 1080}, device_scale_factor=1, locale="zh-CN")
        self.context.add_init_script(INIT_JS)
        page = self.context.new_page()
        page.goto(f"{base}/login?{urlencode({'next': '/healthz'})}")
        page.fill("input[name=username]", "leader")
        page.fill("input[name=password]", password)
        with page.expect_navigation():
            page.click("form[action='/login'] button[type=submit]")
        page.close()
        self.state = self.context.storage_state()

    def _chromium_pid(self) -> int:
        kids = [p for p in psutil.Process().children(recursive=True) if "chrom" in p.name() and "--type=" not in " ".join(p.cmdline())]
        return max(kids, key=lambda p: p.create_time()).pid

    def close(self) -> None:
        self.context.close()
        self.browser.close()

    def _record(self, page) -> list[dict]:  # noqa: ANN001
        log: list[dict] = []

        def on_finished(req):  # noqa: ANN001
            resp = req.response()
            if resp is None:
                return
            try:
                body = len(resp.body())
            except Exception:  # noqa: BLE001 (a redirect or an aborted load has no body)
                body = 0
            sizes = req.sizes()
            out = ""
            if "_dash-update-component" in req.url:
                with contextlib.suppress(ValueError):
                    out = json.loads(req.post_data or "{}").get("output", "")[:50]
            log.append({"output": out, "url": req.url, "method": req.method, "decoded": body, "wire": sizes["responseBodySize"],
                        "request": len(req.post_data_buffer or b""), "status": resp.status})

        page.on("requestfinished", on_finished)
        return log

    def expected(self, code: str) -> list:
        from layouts.kpi import format_value

        members = [r["code"] for r in self.repo.children(code)] or [code]
        if not self.repo.children(code):  # a leaf: the map shows its siblings' level with itself
            members = [code]
        kpis = {k.code: format_value(k.value) for k in self.repo.kpi_values(code, self.period)}
        return [code, members, kpis, list(self.repo.bounds(code))]

    def first_load(self) -> dict:
        """A cold first load: a fresh browser context (empty HTTP cache) holding only the session cookie."""
        context = self.browser.new_context(viewport={"width": 1920, "height": 1080}, device_scale_factor=1, locale="zh-CN",
                                           storage_state=self.state)
        context.add_init_script(INIT_JS)
        page = context.new_page()
        log = self._record(page)
        root = self.repo.root_code()
        page.goto(self.base + "/", wait_until="commit")
        page.wait_for_function(DONE_JS, arg=self.expected(root), timeout=120_000, polling="raf")
        ms = page.evaluate("() => window.__ioc.doneAt")
        page.wait_for_timeout(1500)  # anything that comes after complete (a second render) still counts
        renders = page.evaluate("() => window.__ioc.posts")
        context.close()
        return {"ms": ms, "outputs": [r["output"] for r in log if r["output"]], "decoded": sum(r["decoded"] for r in log), "wire": sum(r["wire"] for r in log),
                "posts": renders, "log": log}

    def drills(self, n: int) -> list[dict]:
        page = self.context.new_page()
        cdp = self.context.new_cdp_session(page)
        cdp.send("Performance.enable")
        log = self._record(page)
        root = self.repo.root_code()
        page.goto(self.base + "/")
        page.wait_for_function(DONE_JS, arg=self.expected(root), timeout=120_000, polling="raf")
        page.wait_for_timeout(2000)
        # The page between clicks: what it burns on two cores, the next click waits for.
        c0 = browser_cpu(self.root_pid)
        page.wait_for_timeout(IDLE_MS)
        c1 = browser_cpu(self.root_pid)
        self.idle = {k: (c1[k] - c0[k]) / (IDLE_MS / 1000) for k in c0}
        towns = [t for t in self.repo.children(root) if self.repo.region(t["code"])["n_children"] > 0]
        out = []
        for k in range(n):
            town = towns[k % len(towns)]
            for target, click in ((town["code"], lambda t=town: self._click_area(page, t)),
                                  (root, lambda: page.click("#breadcrumb a.crumb"))):
                page.wait_for_timeout(300)
                log.clear()
                page.evaluate("() => { window.__ioc.posts = 0; window.__ioc.doneAt = null; }")
                m0 = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
                c0 = browser_cpu(self.root_pid)
                click()
                page.wait_for_function(DONE_JS, arg=self.expected(target), timeout=60_000, polling="raf")
                ms = page.evaluate("() => window.__ioc.doneAt - window.__ioc.clickAt")
                c1 = browser_cpu(self.root_pid)
                m1 = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
                page.wait_for_timeout(700)  # late posts (an echo) still belong to this click
                # The data-version poll (a timer, every few seconds) is not the click's.
                posts = [r for r in log if "_dash-update-component" in r["url"] and r["output"] != "data-version.data"]
                geo = [r for r in log if "/geo/" in r["url"]]
                out.append({
                    "kind": "township" if target != root else "city", "ms": ms,
                    "task_s": m1["TaskDuration"] - m0["TaskDuration"], "script_s": m1["ScriptDuration"] - m0["ScriptDuration"],
                    "renderer_s": c1["renderer"] - c0["renderer"], "gpu_s": c1["gpu"] - c0["gpu"],
                    "posts": len(posts), "outputs": [(p["output"], p["decoded"], p["request"]) for p in posts], "post_decoded": sum(r["decoded"] for r in posts),
                    "post_request": sum(r["request"] for r in posts),
                    "geo_decoded": sum(r["decoded"] for r in geo), "geo_wire": sum(r["wire"] for r in geo),
                    # other requests of the click, with the bytes that came over the network (0: from the browser's cache)
                    "other": sorted({f'{r["url"].split("?")[0].removeprefix(self.base)} ({max(r["wire"], 0)} B)' for r in log
                                     if r not in posts and r not in geo and "_dash-update-component" not in r["url"]}),
                })
        page.close()
        return out

    def _click_area(self, page, town: dict) -> None:  # noqa: ANN001
        x, y = page.evaluate(
            """([lon, lat]) => { const m = MAP; const p = m.project([lon, lat]); const r = m.getContainer().getBoundingClientRect();
                 return [p.x + r.left, p.y + r.top]; }""".replace("MAP", MAP),
            [town["centroid_lon"], town["centroid_lat"]],
        )
        page.mouse.click(x, y)


def measure(tree: Path, db_url: str, loads: int, clicks: int, repo, period, password: str,  # noqa: ANN001
            compositing: str = "gpu") -> dict:
    server = Server(tree, db_url)
    try:
        with sync_playwright() as pw:
            run = Run(pw, server.base, repo, period, password, compositing)
            try:
                run.first_load()  # warms the server's caches and the browser's HTTP cache is per context: not reused
                firsts = [run.first_load() for _ in range(loads)]
                drills = run.drills(clicks)
                idle = run.idle
            finally:
                run.close()
    finally:
        server.stop()
    return {"first": firsts, "drills": drills, "idle": idle}


def summary(res: dict) -> dict:
    town = [d for d in res["drills"] if d["kind"] == "township"]
    first = res["first"]
    return {
        "first_load_ms_p50": statistics.median(f["ms"] for f in first),
        "first_load_decoded_kb": statistics.median(f["decoded"] for f in first) / 1024,
        "first_load_wire_kb": statistics.median(f["wire"] for f in first) / 1024,
        "first_load_posts": statistics.median(f["posts"] for f in first),
        "click_ms_p50": pct([d["ms"] for d in town], 50), "click_ms_p95": pct([d["ms"] for d in town], 95),
        "renderer_cpu_s": statistics.median(d["renderer_s"] for d in town),
        "gpu_cpu_s": statistics.median(d["gpu_s"] for d in town),
        "task_s": statistics.median(d["task_s"] for d in town), "script_s": statistics.median(d["script_s"] for d in town),
        "posts_per_click": statistics.median(d["posts"] for d in town),
        "kb_per_click": statistics.median(d["post_decoded"] + d["geo_decoded"] for d in town) / 1024,
        "posts_kb": statistics.median(d["post_decoded"] for d in town) / 1024,
        "geo_kb": statistics.median(d["geo_decoded"] for d in town) / 1024,
        "request_kb": statistics.median(d["post_request"] for d in town) / 1024,
        "city_click_ms_p50": pct([d["ms"] for d in res["drills"] if d["kind"] == "city"], 50),
        "city_click_kb": statistics.median(d["post_decoded"] + d["geo_decoded"] for d in res["drills"] if d["kind"] == "city") / 1024,
        "idle_renderer_cpu_per_s": res["idle"]["renderer"], "idle_gpu_cpu_per_s": res["idle"]["gpu"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", default="/work/cache/bench-county.db", help="county demo database (SQLite file, copied first)")
    ap.add_argument("--baseline", help="git revision to compare with (e.g. 76890f4)")
    ap.add_argument("--loads", type=int, default=5)
    ap.add_argument("--clicks", type=int, default=10, help="township drills (each followed by a click back to the city)")
    ap.add_argument("--json", help="write every measurement to this file")
    ap.add_argument("--compositing", choices=sorted(COMPOSITING), default="gpu",
                    help="gpu: the page composited through SwiftShader too; software: as on a PC without a GPU driver")
    args = ap.parse_args()

    sys.path.insert(0, str(ROOT))
    from datasources import db
    from datasources.repository import Repository

    work = Path(tempfile.mkdtemp(prefix="ioc-bench-browser-"))
    try:
        copy = work / "county.db"
        shutil.copyfile(args.db, copy)
        db_url = f"sqlite:///{copy}"
        repo = Repository(db.make_engine(db_url))
        period = repo.periods()[0]
        trees = {"now": ROOT}
        if args.baseline:
            base = work / "baseline"
            base.mkdir()
            archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.baseline], check=True, capture_output=True).stdout
            subprocess.run(["tar", "-x", "-C", str(base)], input=archive, check=True)
            trees = {"baseline": base, "now": ROOT}
        results = {name: measure(tree, db_url, args.loads, args.clicks, repo, period, "demo", args.compositing)
                   for name, tree in trees.items()}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    sums = {name: summary(r) for name, r in results.items()}
    keys = list(next(iter(sums.values())))
    print(f"{'':24s}" + "".join(f"{n:>12s}" for n in sums) + ("       ratio" if len(sums) == 2 else ""))
    for k in keys:
        vals = [sums[n][k] for n in sums]
        ratio = f"{vals[1] / vals[0]:12.2f}" if len(vals) == 2 and vals[0] else ""
        print(f"{k:24s}" + "".join(f"{v:12.2f}" for v in vals) + ratio)
    for name, r in results.items():
        print(f"{name}: other requests per click: {sorted({u for d in r['drills'] for u in d['other']})}")
    if args.json:
        Path(args.json).write_text(json.dumps({"summary": sums, "raw": results}, default=str, indent=1))


if __name__ == "__main__":
    main()
