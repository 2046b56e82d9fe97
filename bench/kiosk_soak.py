"""Soak of the video wall (``?kiosk=1``): does the browser's memory keep growing while the wall rotates?

An accelerated hour: the shipped playlist (cockpit, the five theme pages, the townships that need attention
most) with every dwell cut to --dwell seconds (1 s by default: each step then lasts as long as the page
takes to draw), on the mini demo, in headless Debian chromium, for --minutes. Every --sample seconds the
JS heap is measured after a forced garbage collection (CDP ``HeapProfiler.collectGarbage``, then
``Runtime.getHeapUsage`` and ``Performance.getMetrics``: heap, DOM nodes, event listeners), with the length
of Dash's undo history (``undo``: it grows with every interval tick unless the wall trims it).

    python bench/kiosk_soak.py                      # 12 minutes, 1 s dwell, a sample every 30 s
    python bench/kiosk_soak.py --minutes 20 --dwell 2

Prints every sample, then start, end, max and the slope (least squares, KB per minute) of the heap over
the whole run and over its second half (after the caches have warmed), the steps shown, how many wall
hours of the shipped playlist that is, and the console errors. A wall that leaks shows a steady positive
slope in the second half; a bounded one a slope near zero.
"""

from __future__ import annotations

import argparse
import csv
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from playwright.sync_api import sync_playwright  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from app import create_app  # noqa: E402
from callbacks.security import QuietRequestHandler  # noqa: E402
from datasources import db  # noqa: E402
from datasources.demo import build_demo  # noqa: E402
from datasources.kiosk_playlist import COLUMNS, default_playlist_path, load_playlist  # noqa: E402
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, sign_in  # noqa: E402
from tests.conftest import AS_OF  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def mini_db(work: Path) -> str:
    """A private copy of the mini demo (built once into instance/bench-kiosk-mini.db)."""
    template = ROOT / "instance" / "bench-kiosk-mini.db"
    if not template.exists():
        template.parent.mkdir(parents=True, exist_ok=True)
        engine = db.make_engine(f"sqlite:///{template}")
        build_demo(engine, "mini", seed=1, as_of=AS_OF)
        engine.dispose()
    shutil.copy(template, work / "wall.db")
    return f"sqlite:///{work / 'wall.db'}"


def fast_playlist(work: Path, dwell: int) -> tuple[Path, float]:
    """The shipped playlist with every dwell set to ``dwell``; also the mean dwell of the shipped one (s)."""
    shipped = load_playlist()
    path = work / "playlist.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(COLUMNS)
        for e in shipped:
            out.writerow([e.order, e.path, f"@attention:{e.attention}" if e.attention else e.area, e.indicator, dwell])
    return path, sum(e.dwell_s for e in shipped) / len(shipped)


def slope_kb_per_min(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, bytes) points, in KB per minute."""
    n = len(points)
    if n < 2:
        return 0.0
    mx = sum(t for t, _ in points) / n
    my = sum(v for _, v in points) / n
    den = sum((t - mx) ** 2 for t, _ in points)
    return 0.0 if not den else sum((t - mx) * (v - my) for t, v in points) / den * 60 / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=12)
    parser.add_argument("--dwell", type=int, default=1, help="seconds per step (the shipped playlist's dwells are replaced)")
    parser.add_argument("--sample", type=float, default=30, help="seconds between heap samples")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="kiosk-soak-"))
    playlist, shipped_mean = fast_playlist(work, args.dwell)
    app = create_app({"database_url": mini_db(work), "kiosk_playlist": str(playlist), "log_level": "WARNING"})
    server = make_server("127.0.0.1", 0, app.server, threaded=True, request_handler=QuietRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    print(f"soak: {args.minutes:g} min, dwell {args.dwell} s (shipped playlist: {default_playlist_path().name}), "
          f"mini demo, sample every {args.sample:g} s", flush=True)

    errors: list[str] = []
    steps = 0
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1920, "height": 1080})
        page = context.new_page()
        context.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))
        sign_in(page, base, "leader", "demo", next_path="/?kiosk=1")
        page.wait_for_selector("#kiosk-wall", state="attached")

        def count_step(frame) -> None:  # noqa: ANN001
            nonlocal steps
            if frame == page.main_frame:
                steps += 1

        page.on("framenavigated", count_step)  # same-document pushes of the rotation (and any reload)
        page.evaluate("() => { window.__soakDocument = true; }")
        cdp = context.new_cdp_session(page)
        cdp.send("Performance.enable")
        start = time.monotonic()
        samples: list[dict] = []
        print(f"{'min':>6} {'heap used':>12} {'heap total':>12} {'nodes':>7} {'listeners':>9} {'steps':>6} {'undo':>5}  page", flush=True)
        while True:
            cdp.send("HeapProfiler.collectGarbage")
            usage = cdp.send("Runtime.getHeapUsage")
            metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
            t = time.monotonic() - start
            samples.append({"t": t, "used": usage["usedSize"], "total": usage["totalSize"], "nodes": int(metrics.get("Nodes", 0)),
                            "listeners": int(metrics.get("JSEventListeners", 0)), "steps": steps,
                            # what is drawn (the URL changes a moment before the body does)
                            "page": page.evaluate("() => document.getElementById('map') ? '/' : location.pathname"),
                            "undo": page.evaluate("() => Math.max(0, ...(window.dash_stores || []).map(s => s.getState().history.past.length))")})
            s = samples[-1]
            print(f"{t / 60:6.1f} {s['used'] / 1e6:10.2f}MB {s['total'] / 1e6:10.2f}MB {s['nodes']:7d} {s['listeners']:9d} {steps:6d} {s['undo']:5d}"
                  f"  {s['page']}", flush=True)
            if t >= args.minutes * 60:
                break
            page.wait_for_timeout(max(0.0, min(args.sample, args.minutes * 60 - t)) * 1000)
        reloaded = not page.evaluate("() => window.__soakDocument === true")
        browser.close()
    server.shutdown()

    print()
    # The heap depends on the page on screen (the cockpit with its map holds more than a theme page): the
    # whole run, then the samples taken on the cockpit alone.
    for label, chosen in (("all samples", samples), ("on the cockpit", [s for s in samples if s["page"] == "/"])):
        used = [(s["t"], s["used"]) for s in chosen]
        if len(used) < 2:
            continue
        half = [p for p in used if p[0] >= samples[-1]["t"] / 2]
        print(f"heap used after GC, {label} ({len(used)}): start {used[0][1] / 1e6:.2f} MB, end {used[-1][1] / 1e6:.2f} MB, "
              f"min {min(v for _, v in used) / 1e6:.2f} MB, max {max(v for _, v in used) / 1e6:.2f} MB; slope "
              f"{slope_kb_per_min(used):+.1f} KB/min over the run, {slope_kb_per_min(half):+.1f} KB/min over its second half")
    used = [(s["t"], s["used"]) for s in samples]
    print(f"DOM nodes {samples[0]['nodes']} -> {samples[-1]['nodes']}, JS listeners {samples[0]['listeners']} -> {samples[-1]['listeners']}")
    print(f"steps shown: {steps} in {used[-1][0] / 60:.1f} min = {steps * shipped_mean / 3600:.1f} wall hours of the shipped "
          f"playlist (mean dwell {shipped_mean:.0f} s); page reloaded: {'yes' if reloaded else 'no'}")
    print(f"console errors: {len(errors)}" + "".join(f"\n  {e[:200]}" for e in errors[:10]))
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
