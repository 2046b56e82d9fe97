"""What callbacks share: config, repository, cache and the catalog facts layouts need.

Cached reads key on the repository's data version, so a write anywhere makes every worker's cache
miss on its next read; nothing is kept in a Python global.

Inside a request, ``services.repo`` is the repository bound to the caller's scope (set once per request
by ``callbacks.auth``); a request without a caller gets no repository at all. Cache keys carry the
scope. Outside requests (command line, tests) it is the whole repository.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from flask import g, has_app_context, has_request_context
from flask_caching import Cache

from callbacks.outages import DATABASE, CacheGuard
from config import Config
from datasources.access.accounts import Accounts
from datasources.access.roles import AccessDenied, Principal, require
from datasources.repository import Repository, ScopedRepository


@dataclass
class Services:
    config: Config
    base_repo: Repository
    cache: Cache
    #: Cache reads and writes that never raise: with Redis down the app runs uncached and logs it once.
    cache_guard: CacheGuard = field(default_factory=lambda: CacheGuard(5))

    @property
    def accounts(self) -> Accounts:
        """Users, tokens and the audit log on the same database."""
        return Accounts(self.base_repo.engine)

    def principal(self) -> Principal:
        """The caller of the current request (raises AccessDenied when nobody is bound)."""
        p = g.get("ioc_principal") if has_request_context() else None
        if p is None:
            raise AccessDenied(None, "view")
        return p

    def require(self, permission: str) -> Principal:
        """The caller, when it holds ``permission``; AccessDenied otherwise."""
        return require(self.principal(), permission)

    @property
    def scope(self) -> str | None:
        """The caller's scope inside a request; None (everything) outside requests."""
        return self.principal().scope if has_request_context() else None

    @property
    def repo(self) -> Repository | ScopedRepository:
        """The repository bound to the caller's scope (the whole one outside requests)."""
        if not has_request_context():
            return self.base_repo
        return self.base_repo.scoped(self.principal().scope)

    @classmethod
    def create(cls, config: Config, repo: Repository) -> Services:
        """Services with a flask-caching cache of the configured type (bound to the app later)."""
        cache_config: dict[str, Any] = {"CACHE_TYPE": config.cache_type, "CACHE_DEFAULT_TIMEOUT": config.cache_timeout,
                                        # flask-caching's default of 500 held ~20 views: a pass over a prefecture's
                                        # districts evicted each before its second visit (docs/PERFORMANCE.md)
                                        "CACHE_THRESHOLD": config.cache_threshold}
        if config.cache_type == "RedisCache":
            timeout = config.redis_timeout_ms / 1000 or None  # a hung Redis must not hold requests: it counts as down
            cache_config |= {"CACHE_REDIS_URL": config.redis_url, "CACHE_KEY_PREFIX": cache_key_prefix(config.database_url),
                             "CACHE_OPTIONS": {"socket_connect_timeout": timeout, "socket_timeout": timeout}}
        return cls(config, repo, Cache(config=cache_config), CacheGuard(config.redis_retry_seconds))

    def data_version(self) -> int:
        """The data version, read once per request (a callback makes a dozen cached reads)."""
        if not has_app_context():
            return self.base_repo.data_version()
        if "ioc_data_version" not in g:
            g.ioc_data_version = self.base_repo.data_version()
            DATABASE.up()  # the first query of a request answered: log the end of an outage (once)
        return g.ioc_data_version

    def cached(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """Call ``repo.<method>(*args, **kwargs)`` (scoped to the caller) through the cache, keyed by the
        data version and the scope."""
        key = self.cache_key(method, *args, **kwargs)
        hit = self.cache_guard.call(lambda: self.cache.get(key))
        if hit is not None:
            return hit
        value = getattr(self.repo, method)(*args, **kwargs)
        self.cache_guard.call(lambda: self.cache.set(key, value))
        return value

    def cache_key(self, method: str, *args: Any, **kwargs: Any) -> str:
        """The key :meth:`cached` uses for this read now: method, data version, scope and arguments."""
        return f"{method}:{self.data_version()}:{self.scope}:{args!r}:{sorted(kwargs.items())!r}"

    def geometry_version(self) -> int:
        """Bumped only when boundaries change: the version in the boundary URLs the map fetches."""
        return int(self.cached("meta").get("geometry_version") or 0)

    def display_geojson(self, level: int) -> str:
        """Simplified boundaries of one level within the caller's scope (cached)."""
        return self.cached("display_geojson", level)

    def layout_context(self) -> dict:
        """Plain data the page layout is built from: catalog pages, headline cards, facts."""
        meta = self.repo.meta()
        indicators = self.cached("indicators")
        return {
            "config": self.config,
            "meta": meta,
            "pages": self.cached("pages"),
            "headlines": [i for i in indicators if i["headline"]],
            "root": self.cached("region", self.repo.root_code()),
            "root_bounds": self.cached("bounds", self.repo.root_code()),
            "data_version": self.data_version(),
            "mode": self.cached("mode_state"),
            "user": self._caller(),
        }

    def _caller(self) -> dict | None:
        """Name and role of the caller and a CSRF token for the sign-out form (None outside requests)."""
        if not has_request_context() or g.get("ioc_principal") is None:
            return None
        from flask_wtf.csrf import generate_csrf

        p = self.principal()
        return {"name": p.name, "role": p.role, "scope": p.scope, "csrf": generate_csrf(), "can_export": p.can("export"),
                "can_admin": p.can("administer"), "can_switch_mode": p.can("switch_mode")}


def cache_key_prefix(database_url: str) -> str:
    """The prefix of this deployment's keys in a shared Redis: every worker on the same database shares
    it; two databases on one Redis (staging and production, test databases) never read each other's."""
    return f"ioc:{hashlib.sha256(database_url.encode()).hexdigest()[:10]}:"
