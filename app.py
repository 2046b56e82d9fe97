"""City operations center (IOC) one-screen dashboard.

``create_app(config)`` wires database, cache, layouts and callbacks and returns the Dash app;
``server`` (for gunicorn: ``gunicorn 'app:create_server()'``) and the command line live here too:

    python app.py                      # build the demo if the database is empty, then serve
    python app.py demo --scale county --seed 1
    python app.py run --port 8050
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime

import dash
import flask

from callbacks import cockpit, header, navigation, ticker
from callbacks.services import Services
from config import ROOT, Config
from datasources import db
from datasources.repository import Repository
from layouts import cockpit as cockpit_layout


def create_app(config: Config | dict | None = None) -> dash.Dash:
    """Build a Dash app on the configured database (which must hold data: see ``ensure_demo``)."""
    cfg = config if isinstance(config, Config) else Config.from_env().with_overrides(config)
    engine = db.make_engine(cfg.database_url)
    services = Services.create(cfg, Repository(engine))
    app = dash.Dash(
        __name__,
        title="城市运行管理中心 IOC",
        assets_folder=str(ROOT / "assets"),
        serve_locally=True,
        compress=True,
        update_title=None,
        suppress_callback_exceptions=True,
    )
    services.cache.init_app(app.server)
    app.layout = lambda: cockpit_layout.page(services.layout_context())
    _register_routes(app.server, services)
    for feature in (navigation, header, cockpit, ticker):
        feature.register(app, services)
    app.server.config["IOC_SERVICES"] = services
    return app


def _register_routes(server: flask.Flask, services: Services) -> None:
    @server.get("/geo/level-<int:level>.json")
    def level_geojson(level: int):  # noqa: ANN202
        """Simplified boundaries of one level, fetched once by the map (long cache; URL carries the version)."""
        body = services.display_geojson(level)
        resp = flask.Response(body, mimetype="application/geo+json")
        resp.headers["Cache-Control"] = "public, max-age=86400, immutable"
        return resp

    @server.get("/healthz")
    def healthz():  # noqa: ANN202
        return {"status": "ok", "data_version": services.repo.data_version()}


def ensure_demo(cfg: Config, force: bool = False, quiet: bool = False) -> None:
    """Build the demo database when the configured one is empty (or when ``force``)."""
    engine = db.make_engine(cfg.database_url)
    if not force and db.has_schema(engine) and Repository(engine).meta().get("data_version"):
        return
    from tqdm import tqdm

    from datasources.demo import build_demo

    bar = tqdm(total=100, desc="building demo", unit="%", disable=quiet, file=sys.stderr)

    def progress(step: str, pct: int) -> None:
        bar.set_description(f"demo: {step}")
        bar.update(pct - bar.n)

    report = build_demo(engine, scale=cfg.demo_scale, seed=cfg.demo_seed, progress=progress)
    bar.close()
    print(f"demo built in {report.seconds:.1f} s: " + ", ".join(f"{k}={v:,}" for k, v in report.counts.items()))
    print(report.outline_repair)


def create_server() -> flask.Flask:
    """WSGI entry for gunicorn: the Flask server of an app configured from the environment."""
    return create_app().server


def main(argv: list[str] | None = None) -> int:
    """Command line: run (default), demo."""
    parser = argparse.ArgumentParser(prog="ioc", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd")
    run = sub.add_parser("run", help="serve the dashboard (builds the demo first if the database is empty)")
    run.add_argument("--host")
    run.add_argument("--port", type=int)
    run.add_argument("--debug", action="store_true")
    demo = sub.add_parser("demo", help="(re)build the demo database")
    demo.add_argument("--scale", choices=["county", "prefecture", "mini"], default=None)
    demo.add_argument("--seed", type=int, default=None)
    demo.add_argument("--as-of", help="build the data as of this time (YYYY-MM-DD[ HH:MM]); default now")
    args = parser.parse_args(argv)
    cfg = Config.from_env()
    if args.cmd == "demo":
        cfg = cfg.with_overrides({k: v for k, v in {"demo_scale": args.scale, "demo_seed": args.seed}.items() if v is not None})
        from datasources.demo import build_demo

        as_of = datetime.fromisoformat(args.as_of) if args.as_of else None
        report = build_demo(db.make_engine(cfg.database_url), cfg.demo_scale, cfg.demo_seed, as_of, _print_progress)
        print(f"\ndemo ({report.scale}, seed {report.seed}, as of {report.as_of}) built in {report.seconds:.1f} s")
        for k, v in report.counts.items():
            print(f"  {k:26s} {v:>12,}")
        print(report.outline_repair)
        return 0
    cfg = cfg.with_overrides({k: v for k, v in {"host": getattr(args, "host", None), "port": getattr(args, "port", None)}.items() if v})
    ensure_demo(cfg)
    app = create_app(cfg)
    print(f"IOC dashboard on http://{cfg.host}:{cfg.port}/", flush=True)
    app.run(host=cfg.host, port=cfg.port, debug=getattr(args, "debug", False))
    return 0


def _print_progress(step: str, pct: int) -> None:
    print(f"\r[{pct:3d}%] {step:30s}", end="", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
