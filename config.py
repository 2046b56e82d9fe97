"""Application settings, read from ``IOC_*`` environment variables.

One place for every knob; ``create_app(config)`` accepts a ``Config`` (or a dict of overrides) so tests
and the command line can point the app at another database without touching the environment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent
INSTANCE = ROOT / "instance"


def _default_db_url() -> str:
    return f"sqlite:///{INSTANCE / 'ioc.db'}"


@dataclass(frozen=True)
class Config:
    """Settings of one app instance. Field docs double as the README's configuration table."""

    database_url: str = field(default_factory=_default_db_url, metadata={"doc": "SQLAlchemy URL of the database"})
    cache_type: str = field(default="SimpleCache", metadata={"doc": "flask-caching backend: SimpleCache, RedisCache or NullCache"})
    redis_url: str = field(default="redis://127.0.0.1:6379/0", metadata={"doc": "Redis URL when cache_type is RedisCache"})
    cache_timeout: int = field(default=600, metadata={"doc": "seconds a cached query result lives (keys also carry the data version)"})
    cache_threshold: int = field(default=5000, metadata={"doc": "results the in-process SimpleCache keeps (a view reads ~25)"})
    tile_url: str = field(default="", metadata={"doc": "optional intranet raster tile URL template ({z}/{x}/{y}); empty = boundaries only"})
    refresh_seconds: int = field(default=5, metadata={"doc": "how often screens poll the data version"})
    host: str = field(default="127.0.0.1", metadata={"doc": "address the development server binds"})
    port: int = field(default=8050, metadata={"doc": "port of the development server"})
    demo_scale: str = field(default="county", metadata={"doc": "demo built when the database is empty: county, prefecture or mini"})
    demo_seed: int = field(default=1, metadata={"doc": "seed of the demo generator"})
    title: str = field(default="", metadata={"doc": "screen title; empty = '<city> 城市运行管理中心'"})
    level_names: str = field(default="", metadata={
        "doc": "names of the region levels for imports, top first, e.g. '市/city;镇街/township;村社区/community' (an import's --level-name-zh/--level-name-en wins)"})
    secret_key: str = field(default="", repr=False, metadata={
        "doc": "signs session cookies; required outside demo mode (demo mode keeps a generated one in instance/secret_key)"})
    demo_password: str = field(default="demo", repr=False, metadata={
        "doc": "password of the demo accounts (leader, duty, analyst, township, admin), demo mode only"})
    cookie_secure: int = field(default=0, metadata={"doc": "1 behind TLS: session cookies only over HTTPS"})
    session_hours: int = field(default=12, metadata={"doc": "a session ends after this many hours without a request"})
    max_body_kb: int = field(default=256, metadata={"doc": "largest request body accepted by the screens, in KB (413 above)"})
    scheduler: int = field(default=1, metadata={
        "doc": "1: run the scheduler thread (mode schedule, alert re-evaluation); one process of the deployment holds its lease"})
    scheduler_seconds: int = field(default=15, metadata={"doc": "seconds between the scheduler's ticks (its lease lasts three ticks)"})
    mode_schedule: str = field(default="", metadata={
        "doc": "yearly operating-mode schedule, e.g. 'flood:06-01..09-30;holiday:10-01..10-07' (empty: modes change only by hand)"})
    api_max_body_kb: int = field(default=4096, metadata={"doc": "largest request body accepted by /api/v1, in KB (413 above)"})
    api_max_items: int = field(default=5000, metadata={"doc": "most items in one ingest batch (413 above)"})
    api_rate_per_minute: int = field(default=120, metadata={
        "doc": "ingest requests a minute per API token (token bucket, per worker process; 0 = no limit; 429 above)"})
    api_rate_burst: int = field(default=30, metadata={"doc": "ingest requests a token may send at once before the rate applies"})
    db_connect_timeout: int = field(default=3, metadata={"doc": "seconds to wait for a new database connection (PostgreSQL connect_timeout)"})
    db_statement_timeout_ms: int = field(default=5000, metadata={
        "doc": "longest query of the screens and the API, in ms (PostgreSQL statement_timeout plus a client-side "
               "deadline for a hung network); imports, derive and the demo run without it; 0 = none"})
    db_pool_timeout: int = field(default=5, metadata={"doc": "seconds a request waits for a free pooled connection"})
    db_busy_timeout_ms: int = field(default=60_000, metadata={
        "doc": "SQLite: how long a write waits for the database lock, in ms (readers never wait: WAL); concurrent "
               "ingest batches queue on it"})
    redis_timeout_ms: int = field(default=500, metadata={"doc": "Redis connect and read timeout in ms; slower counts as an outage (run uncached); 0 = none"})
    redis_retry_seconds: int = field(default=5, metadata={"doc": "seconds the app runs uncached after a Redis failure before trying Redis again"})
    export_dir: str = field(default="", metadata={
        "doc": "folder of export job files, shared by the workers of one host (empty: instance/exports)"})
    log_level: str = field(default="INFO", metadata={"doc": "level of the app's logs (DEBUG, INFO, WARNING, ERROR)"})
    log_format: str = field(default="json", metadata={"doc": "logs on stderr: json (one JSON object a line, with the request id) or text"})
    # -- composite scores (issue 11): what the map opens on
    map_default: str = field(default="score.overall", metadata={
        "doc": "indicator the cockpit map opens on when the URL names none: 'score.overall', 'score.<theme>' or any "
               "catalog indicator code (an unknown code falls back to the first headline of the deepest level)"})
    proxies: int = field(default=0, metadata={
        "doc": "reverse proxies in front (1 behind the nginx of deploy/): client address and scheme are taken from their X-Forwarded-* headers"})
    # --- kiosk (video wall, ``?kiosk=1``)
    kiosk_playlist: str = field(default="", metadata={
        "doc": "CSV of the wall's rotation (order,path,area,indicator,dwell_s; see datasources/kiosk_playlist.py); "
               "empty = datasources/catalog/kiosk_playlist.csv; read at start"})
    kiosk_hold_seconds: int = field(default=120, metadata={"doc": "seconds the wall stays on a new grade I/II alert before the playlist resumes"})
    kiosk_health_seconds: int = field(default=5, metadata={"doc": "how often the wall asks /healthz whether the server is there (it reloads itself when it is back)"})

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Config:
        """Build a config from ``IOC_<FIELD>`` variables (e.g. ``IOC_DATABASE_URL``)."""
        env = os.environ if environ is None else environ
        values = {}
        for f in fields(cls):
            raw = env.get(f"IOC_{f.name.upper()}")
            if raw is None:
                continue
            values[f.name] = int(raw) if f.type == "int" else raw
        return cls(**values)

    def with_overrides(self, overrides: dict | None) -> Config:
        """Return a copy with some fields replaced; unknown keys are an error naming the key."""
        if not overrides:
            return self
        known = {f.name for f in fields(self)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ValueError(f"unknown config key(s): {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        return replace(self, **overrides)
