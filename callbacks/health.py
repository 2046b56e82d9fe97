"""``/healthz``: is this worker able to answer? A real query on the database and, when Redis is the
cache, a real round trip to it. 200 with each part's state, or 503 naming the part that failed (the
reason goes to the log, not to the caller). Public (load balancers and monitoring call it) and cheap:
one primary-key read and one small Redis SET/GET."""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

import flask

from callbacks.services import Services

log = logging.getLogger("ioc.health")


def check_database(services: Services) -> dict[str, Any]:
    """The data version, read from the database (not from any cache)."""
    return {"ok": True, "data_version": services.base_repo.data_version()}


def check_cache(services: Services) -> dict[str, Any]:
    """A value written to the cache and read back; for a per-process cache there is nothing to reach."""
    if services.config.cache_type != "RedisCache":
        return {"ok": True, "backend": services.config.cache_type}
    nonce = uuid.uuid4().hex
    key = f"healthz:{nonce}"
    services.cache.set(key, nonce, timeout=10)
    back = services.cache.get(key)
    services.cache.delete(key)
    if back != nonce:
        raise RuntimeError("value written to Redis did not come back")
    return {"ok": True, "backend": "RedisCache"}


CHECKS = {"database": check_database, "cache": check_cache}


def health(services: Services) -> tuple[dict[str, Any], int]:
    """Run every check; (body, 200) when all pass, (body, 503) naming the failed parts otherwise."""
    body: dict[str, Any] = {}
    failed = []
    for name, check in CHECKS.items():
        started = time.perf_counter()
        try:
            result = check(services)
        except Exception as exc:  # noqa: BLE001 - any failure of the part is what we report
            log.error("health check of the %s failed: %s: %s", name, exc.__class__.__name__, exc,
                      extra={"check": name})
            result = {"ok": False, "error": exc.__class__.__name__}
            failed.append(name)
        result["ms"] = round((time.perf_counter() - started) * 1000, 1)
        body[name] = result
    body["status"] = "ok" if not failed else "failing"
    if failed:
        body["failed"] = failed
    if body["database"].get("data_version") is not None:
        body["data_version"] = body["database"]["data_version"]
    return body, 503 if failed else 200


def register(server: flask.Flask, services: Services) -> None:
    """The ``/healthz`` route (listed in ``callbacks.auth.PUBLIC_PATHS``)."""

    @server.get("/healthz")
    def healthz():  # noqa: ANN202
        body, status = health(services)
        resp = flask.jsonify(body)
        resp.status_code = status
        resp.headers["Cache-Control"] = "no-store"
        return resp
