"""What callbacks share: config, repository, cache and the catalog facts layouts need.

Cached reads key on the repository's data version, so a write anywhere makes every worker's cache
miss on its next read; nothing is kept in a Python global.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import g, has_app_context
from flask_caching import Cache

from config import Config
from datasources.repository import Repository


@dataclass
class Services:
    config: Config
    repo: Repository
    cache: Cache

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
            return self.repo.data_version()
        if "ioc_data_version" not in g:
            g.ioc_data_version = self.repo.data_version()
        return g.ioc_data_version

    def cached(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """Call ``repo.<method>(*args, **kwargs)`` through the cache, keyed by the data version."""
        version = self.data_version()
        key = f"{method}:{version}:{args!r}:{sorted(kwargs.items())!r}"
        hit = self.cache.get(key)
        if hit is not None:
            return hit
        value = getattr(self.repo, method)(*args, **kwargs)
        self.cache.set(key, value)
        return value

    def display_geojson(self, level: int) -> str:
        """Simplified boundaries of one level (cached)."""
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
        }
