"""What callbacks share: config, repository, cache and the catalog facts layouts need.

Cached reads key on the repository's data version, so a write anywhere makes every worker's cache
miss on its next read; nothing is kept in a Python global.

Inside a request, ``services.repo`` is the repository bound to the caller's scope (set once per request
by ``callbacks.auth``); a request without a caller gets no repository at all. Cache keys carry the
scope. Outside requests (command line, tests) it is the whole repository.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import g, has_app_context, has_request_context
from flask_caching import Cache

from config import Config
from datasources.access.accounts import Accounts
from datasources.access.roles import AccessDenied, Principal, require
from datasources.repository import Repository, ScopedRepository


@dataclass
class Services:
    config: Config
    base_repo: Repository
    cache: Cache

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
        cache_config: dict[str, Any] = {"CACHE_TYPE": config.cache_type, "CACHE_DEFAULT_TIMEOUT": config.cache_timeout}
        if config.cache_type == "RedisCache":
            cache_config |= {"CACHE_REDIS_URL": config.redis_url, "CACHE_KEY_PREFIX": "ioc:"}
        return cls(config, repo, Cache(config=cache_config))

    def data_version(self) -> int:
        """The data version, read once per request (a callback makes a dozen cached reads)."""
        if not has_app_context():
            return self.base_repo.data_version()
        if "ioc_data_version" not in g:
            g.ioc_data_version = self.base_repo.data_version()
        return g.ioc_data_version

    def cached(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """Call ``repo.<method>(*args, **kwargs)`` (scoped to the caller) through the cache, keyed by the
        data version and the scope."""
        version = self.data_version()
        key = f"{method}:{version}:{self.scope}:{args!r}:{sorted(kwargs.items())!r}"
        hit = self.cache.get(key)
        if hit is not None:
            return hit
        value = getattr(self.repo, method)(*args, **kwargs)
        self.cache.set(key, value)
        return value

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
