"""City operations center (IOC) one-screen dashboard.

``create_app(config)`` wires database, cache, layouts and callbacks and returns the Dash app;
``server`` (for gunicorn: ``gunicorn 'app:create_server()'``) and the command line live here too:

    python app.py                      # serve; the default database (instance/ioc.db) gets the demo on its first start
    python app.py demo --scale county --seed 1
    python app.py run --port 8050
    python app.py init                 # an empty database: schema and catalog, no demo data
    python app.py db upgrade           # migrate the schema (Alembic), then re-derive
    python app.py catalog load [DIR]   # an edited catalog reaches an existing database
    python app.py derive               # recompute every roll-up, rule indicator and alert
    python app.py user add NAME --role admin      # accounts (password asked, or IOC_NEW_PASSWORD)
    python app.py token add NAME --role feed      # API tokens (the secret is printed once)
    python app.py import boundaries FILE --level N   # bring your own city (docs/BRING-YOUR-OWN-CITY.md)
    python app.py import values FILE | import events FILE --mapping MAP
"""

from __future__ import annotations

import argparse
import functools
import logging
import sys
from datetime import datetime

import dash
import flask

from callbacks import (
    admin,
    api,
    auth,
    cockpit,
    console,
    export,
    header,
    health,
    kiosk,
    leader,
    logs,
    navigation,
    router,
    security,
    ticker,
)
from callbacks import analyst as analyst_page
from callbacks import geo as geo_routes
from callbacks import pages as catalog_pages
from callbacks.services import Services
from config import ROOT, Config
from datasources import db
from datasources.access.accounts import AccountError, Accounts
from datasources.access.roles import EXPORT, ROLES, USER_ROLES, check_role_scope
from datasources.operations.modes import parse_schedule
from datasources.repository import Repository
from datasources.scheduler import Scheduler
from layouts import cockpit as cockpit_layout

log = logging.getLogger("ioc.app")


def create_app(config: Config | dict | None = None) -> dash.Dash:
    """Build a Dash app on the configured database (which must hold data: see ``ensure_demo``)."""
    cfg = config if isinstance(config, Config) else Config.from_env().with_overrides(config)
    logs.configure_logging(cfg.log_level, cfg.log_format)
    path = db.sqlite_path(cfg.database_url)
    read_only = path is not None and db.sqlite_is_read_only(path)
    if read_only:
        log.warning("the database %s is read-only: served read-only; the scheduler and every write "
                    "(dispatch, mode switch, administration, ingest) are off", path)
    # connect/statement timeouts: an outage fails fast
    engine = db.screen_engine(db.read_only_url(path) if read_only else cfg.database_url, cfg)
    services = Services.create(cfg, Repository(engine))
    demo = is_demo(services.base_repo)
    app = security.HardenedDash(
        __name__,
        title="城市运行管理中心 IOC",
        assets_folder=str(ROOT / "assets"),
        serve_locally=True,
        compress=True,
        update_title=None,
        suppress_callback_exceptions=True,
    )
    services.cache.init_app(app.server)
    if cfg.proxies:  # behind nginx: the client's address (audit log, rate limits) and scheme from its headers
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.server.wsgi_app = ProxyFix(app.server.wsgi_app, x_for=cfg.proxies, x_proto=cfg.proxies)
    auth.configure(app.server, cfg, demo)
    pages = {p.key: p for p in (router.PageSpec("cockpit", "/", cockpit_layout.page), router.PageSpec("console", "/console", console.page))}
    pages["analyst"] = router.PageSpec("analyst", "/analyst", functools.partial(analyst_page.page, services), EXPORT)
    pages |= catalog_pages.page_specs(services)  # theme and topic pages: /theme/<id>, /topic/<id> (pages)
    app.layout = lambda: router.initial_layout(services, pages) if flask.g.get("ioc_principal") else dash.html.Div()
    auth.register(app, services)  # the guard first: every later route and callback has a caller
    logs.register(app.server)  # request ids before even the guard: its refusals are logged with theirs
    health.register(app.server, services)
    security.register(app, services)
    _register_routes(app.server, services)
    geo_routes.register(app, services)  # per-parent boundaries, compressed and cached
    api.register(app, services)
    export.register(app, services)
    admin.register(app, services)
    router.register(app, services, pages)
    for feature in (navigation, header, cockpit, ticker, leader, console, analyst_page, catalog_pages, kiosk):
        feature.register(app, services)
    app.server.config["IOC_SERVICES"] = services
    schedule = parse_schedule(cfg.mode_schedule)  # a bad schedule stops the start with a message naming the entry
    app.server.config["IOC_READ_ONLY"] = read_only
    if cfg.scheduler and not read_only:
        app.server.config["IOC_SCHEDULER"] = Scheduler(engine, schedule, cfg.scheduler_seconds).start()
    if demo and not read_only:
        app.server.config["IOC_DEMO_ACCOUNTS"] = ensure_demo_accounts(services, cfg)
    return app


def is_demo(repo: Repository) -> bool:
    """Demo mode: the database holds the demo city (built by ``python app.py demo`` or the first start)."""
    return db.has_schema(repo.engine) and repo.meta().get("demo") == "1"


def ensure_demo_accounts(services: Services, cfg: Config) -> list[tuple[str, str, str | None]]:
    """The demo's accounts, one per role (township scoped to the first township), created when missing."""
    repo = services.base_repo
    townships = repo.children(repo.root_code())
    scope = townships[0]["code"] if townships else repo.root_code()
    return services.accounts.ensure_demo_accounts(cfg.demo_password, scope)


def demo_accounts_text(accounts: list[tuple[str, str, str | None]], password: str) -> str:
    """The lines printed at start in demo mode."""
    lines = [f"demo accounts (password {password!r}, set IOC_DEMO_PASSWORD to change it before the first start):"]
    lines += [f"  {name:9s} role {role:9s} scope {scope or 'whole city'}" for name, role, scope in accounts]
    return "\n".join(lines)


def _register_routes(server: flask.Flask, services: Services) -> None:
    @server.get("/geo/level-<int:level>.json")
    def level_geojson(level: int):  # noqa: ANN202
        """Simplified boundaries of one level within the caller's scope, fetched once by the map (long
        private cache; the URL carries the geometry version and the scope)."""
        if level not in {lv["level"] for lv in services.cached("level_names")}:
            return flask.jsonify(error=f"unknown level {level}"), 404
        body = services.display_geojson(level)
        resp = flask.Response(body, mimetype="application/geo+json")
        resp.headers["Cache-Control"] = "private, max-age=86400, immutable"
        return resp


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
    """WSGI entry for gunicorn: the Flask server of an app configured from the environment. A database
    that cannot be served stops the start with a message naming it (never a new demo city)."""
    cfg = Config.from_env()
    logs.configure_logging(cfg.log_level, cfg.log_format)
    problem = db.serving_problem(cfg.database_url)
    if problem:
        log.critical("cannot start: %s", problem)
        raise auth.StartupError(problem)
    return create_app(cfg).server


def init_database(cfg: Config, catalog_dir: str | None = None) -> str:
    """Schema at head plus the catalog, no demo data (idempotent). Returns a summary line."""
    from datasources.catalog_loader import load_catalog
    from datasources.ingest import Writer

    engine = db.make_engine(cfg.database_url)
    db.upgrade(engine)
    report = Writer(engine).catalog(load_catalog(catalog_dir))
    cat = report.catalog
    return f"database ready at {cfg.database_url}: {len(cat.added)} indicators added, {len(cat.changed)} changed, {cat.rules} rules"


def load_catalog_command(cfg: Config, directory: str | None, prune: bool) -> int:
    """Validate and load a catalog into an existing database; report added, changed and removed indicators."""
    from datasources.catalog_loader import CatalogError, load_catalog
    from datasources.ingest import Writer

    try:
        catalog = load_catalog(directory)
    except CatalogError as exc:
        print(f"catalog rejected, nothing written: {exc}", file=sys.stderr)
        return 2
    engine = db.make_engine(cfg.database_url)
    if not db.has_schema(engine):
        print(f"no schema in {cfg.database_url}: run 'python app.py init' first", file=sys.stderr)
        return 2
    report = Writer(engine).catalog(catalog, prune=prune)
    cat = report.catalog
    print(f"catalog loaded in {report.seconds:.1f} s (data version {report.data_version}): "
          f"{len(cat.added)} added, {len(cat.changed)} changed, {cat.rules} rules")
    for code in cat.added:
        print(f"  + {code}")
    for code in cat.changed:
        print(f"  ~ {code}")
    if cat.removed:
        verb = "removed with their values" if cat.pruned else "kept (not in the catalog any more; --prune removes them)"
        print(f"{len(cat.removed)} indicator(s) {verb}:")
        for code in cat.removed:
            print(f"  - {code}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Command line: run (default), demo, init, db upgrade, catalog load, derive."""
    parser = argparse.ArgumentParser(prog="ioc", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd")
    run = sub.add_parser("run", help="serve the dashboard (the default database instance/ioc.db gets the demo on its first start; "
                                      "any other must exist: 'init' or 'demo' create it)")
    run.add_argument("--host")
    run.add_argument("--port", type=int)
    run.add_argument("--debug", action="store_true")
    demo = sub.add_parser("demo", help="(re)build the demo database")
    demo.add_argument("--scale", choices=["county", "prefecture", "mini"], default=None)
    demo.add_argument("--seed", type=int, default=None)
    demo.add_argument("--as-of", help="build the data as of this time (YYYY-MM-DD[ HH:MM]); default now")
    sub.add_parser("init", help="create the schema and load the catalog (no demo data)")
    dbp = sub.add_parser("db", help="database schema")
    dbp.add_argument("action", choices=["upgrade"], help="upgrade: migrate to the newest schema, then re-derive")
    cat = sub.add_parser("catalog", help="indicator catalog")
    cat.add_argument("action", choices=["load"])
    cat.add_argument("dir", nargs="?", help="folder with pages.csv, indicators.csv, rules.csv (default: the shipped one)")
    cat.add_argument("--prune", action="store_true", help="delete indicators (and their values) no longer in the catalog")
    sub.add_parser("derive", help="recompute every roll-up, rule indicator and alert")
    user = sub.add_parser("user", help="accounts: add, passwd, list")
    user.add_argument("action", choices=["add", "passwd", "list"])
    user.add_argument("name", nargs="?")
    user.add_argument("--role", choices=USER_ROLES)
    user.add_argument("--scope", help="region code whose subtree the account may see (township officers)")
    user.add_argument("--display-name", default="")
    token = sub.add_parser("token", help="API tokens: add, revoke, list")
    token.add_argument("action", choices=["add", "revoke", "list"])
    token.add_argument("name", nargs="?", help="token name (add) or id (revoke)")
    token.add_argument("--role", choices=ROLES)
    token.add_argument("--scope")
    imp = sub.add_parser("import", help="import boundaries, indicator values or events from files (see docs/BRING-YOUR-OWN-CITY.md)")
    imp.add_argument("kind", choices=["boundaries", "values", "events"])
    imp.add_argument("file")
    imp.add_argument("--level", type=int, help="boundaries: the level of the file's areas (0 = the top area)")
    imp.add_argument("--code-field", help="boundaries: column of the area code (default: code, adcode, 区划代码, …)")
    imp.add_argument("--name-field", help="boundaries: column of the area name (default: name, 名称, …)")
    imp.add_argument("--parent-field", help="boundaries: column of the parent's code (default: parent_code, …; "
                                            "without one, the level above that contains the area)")
    imp.add_argument("--gcj02", action="store_true", help="boundaries: coordinates are GCJ-02 (shifted back to WGS-84)")
    imp.add_argument("--level-name-zh", help="boundaries: name of the level, e.g. 镇街")
    imp.add_argument("--level-name-en", help="boundaries: English name of the level, e.g. township")
    imp.add_argument("--encoding", help="text encoding of the attributes / file (default: detected; utf-8, gbk)")
    imp.add_argument("--mapping", help="events: JSON column mapping (target field -> source column, value maps, defaults)")
    args = parser.parse_args(argv)
    cfg = Config.from_env()
    if args.cmd == "import":
        return import_command(cfg, args)
    if args.cmd in ("user", "token"):
        return accounts_command(cfg, args)
    if args.cmd == "init":
        print(init_database(cfg))
        return 0
    if args.cmd == "db":
        engine = db.make_engine(cfg.database_url)
        had_data = db.has_schema(engine)
        db.upgrade(engine)
        print(f"schema of {cfg.database_url} is at the newest revision")
        if had_data:
            from datasources.ingest import Writer

            report = Writer(engine).rebuild()
            print(f"re-derived in {report.seconds:.1f} s (data version {report.data_version})")
        return 0
    if args.cmd == "catalog":
        return load_catalog_command(cfg, args.dir, args.prune)
    if args.cmd == "derive":
        from datasources.ingest import Writer

        report = Writer(db.make_engine(cfg.database_url)).rebuild()
        print(f"re-derived in {report.seconds:.1f} s (data version {report.data_version}): {report.derived}")
        return 0
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
    debug = getattr(args, "debug", False)
    if debug and cfg.host not in ("127.0.0.1", "localhost", "::1"):
        print("refused: --debug runs code sent by the browser's debugger; it serves only on 127.0.0.1", file=sys.stderr)
        return 2
    if cfg.database_url == Config().database_url:
        ensure_demo(cfg)  # the default path: the demo city is built on the first start (README)
    problem = db.serving_problem(cfg.database_url)
    if problem:
        print(f"cannot start: {problem}", file=sys.stderr)
        return 2
    try:
        app = create_app(cfg)
    except auth.StartupError as exc:
        print(f"cannot start: {exc}", file=sys.stderr)
        return 2
    if "IOC_DEMO_ACCOUNTS" in app.server.config:
        print(demo_accounts_text(app.server.config["IOC_DEMO_ACCOUNTS"], cfg.demo_password))
    print(f"IOC dashboard on http://{cfg.host}:{cfg.port}/", flush=True)
    app.run(host=cfg.host, port=cfg.port, debug=debug, request_handler=security.QuietRequestHandler)
    return 0


def import_command(cfg: Config, args: argparse.Namespace) -> int:
    """``import boundaries|values|events FILE``: a summary on success; on bad input every problem (file, row or
    feature, column) on stderr and exit code 2, nothing written."""
    from datasources.importers import ImportFailed
    from datasources.importers.boundaries import import_boundaries
    from datasources.importers.events import import_events
    from datasources.importers.values import import_values

    engine = db.make_engine(cfg.database_url)
    if not db.has_schema(engine):
        print(f"no schema in {cfg.database_url}: run 'python app.py init' first", file=sys.stderr)
        return 2
    try:
        if args.kind == "boundaries":
            if args.level is None or args.level < 0:
                print("refused: import boundaries needs --level N (0 = the top area)", file=sys.stderr)
                return 2
            summary = import_boundaries(
                engine, args.file, args.level, code_field=args.code_field, name_field=args.name_field,
                parent_field=args.parent_field, encoding=args.encoding, gcj02=args.gcj02,
                level_name_zh=args.level_name_zh, level_name_en=args.level_name_en, configured_level_names=cfg.level_names)
        elif args.kind == "values":
            summary = import_values(engine, args.file, encoding=args.encoding)
        else:
            if not args.mapping:
                print("refused: import events needs --mapping MAP.json", file=sys.stderr)
                return 2
            summary = import_events(engine, args.file, args.mapping, encoding=args.encoding)
    except ImportFailed as exc:
        print(f"import refused: {exc}", file=sys.stderr)
        return 2
    print(summary.text())
    return 0


def _new_password() -> str:
    """IOC_NEW_PASSWORD, or asked twice on the terminal."""
    import getpass
    import os

    if os.environ.get("IOC_NEW_PASSWORD"):
        return os.environ["IOC_NEW_PASSWORD"]
    try:
        first = getpass.getpass("new password: ")
        second = getpass.getpass("again: ")
    except EOFError:
        raise AccountError("password: no terminal to ask on; set IOC_NEW_PASSWORD") from None
    if first != second:
        raise AccountError("password: the two entries differ")
    return first


def accounts_command(cfg: Config, args: argparse.Namespace) -> int:
    """``user add|passwd|list`` and ``token add|revoke|list`` (audited as done by 'cli')."""
    accounts = Accounts(db.make_engine(cfg.database_url))
    try:
        if args.cmd == "user" and args.action == "list":
            for u in accounts.users():
                print(f"{u['username']:20s} {u['role']:9s} {u['scope_code'] or '*':14s} {'active' if u['active'] else 'disabled'}")
        elif args.cmd == "user" and args.action == "add":
            if not args.name or not args.role:
                raise AccountError("usage: user add NAME --role ROLE [--scope CODE]")
            if check_role_scope(args.role, args.scope):
                raise AccountError(f"role: {check_role_scope(args.role, args.scope)}")
            accounts.create_user(args.name, _new_password(), args.role, args.scope, args.display_name, actor="cli")
            print(f"account {args.name} ({args.role}, scope {args.scope or 'whole city'}) created")
        elif args.cmd == "user":
            if not args.name:
                raise AccountError("usage: user passwd NAME")
            accounts.update_user(args.name, password=_new_password(), actor="cli")
            print(f"password of {args.name} changed; its sessions are ended")
        elif args.action == "list":
            for k in accounts.tokens():
                state = f"revoked {k['revoked_at']}" if k["revoked_at"] else f"last used {k['last_used_at'] or 'never'}"
                print(f"{k['id']:4d} {k['name']:20s} {k['prefix']}… {k['role']:9s} {k['scope_code'] or '*':14s} {state}")
        elif args.action == "add":
            if not args.name or not args.role:
                raise AccountError("usage: token add NAME --role ROLE [--scope CODE]")
            secret, token_id = accounts.create_token(args.name, args.role, args.scope, actor="cli")
            print(f"token {token_id} ({args.role}, scope {args.scope or 'whole city'}); shown once, keep it safe:\n{secret}")
        else:
            if not (args.name or "").isdigit():
                raise AccountError("usage: token revoke ID")
            accounts.revoke_token(int(args.name), actor="cli")
            print(f"token {args.name} revoked")
    except AccountError as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 2
    return 0


def _print_progress(step: str, pct: int) -> None:
    print(f"\r[{pct:3d}%] {step:30s}", end="", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
