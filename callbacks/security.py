"""Hardening of every response and every callback post.

- Security headers: a Content-Security-Policy allowing only the app's own origin (inline scripts
  only by hash, no ``unsafe-eval``), no framing, ``nosniff``, no referrer off-site; no server versions.
- Callback posts are checked before Dash sees them: JSON from this origin only, the body's shape, a
  bounded number of ids, a known output whose callback declares a permission the caller holds.
- Errors never show a traceback: unexpected ones are logged with a request id and answered 500
  with that id only; bad input gets a 4xx naming what was wrong.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import logging
import pkgutil
import re
from typing import Any
from urllib.parse import urlsplit

import dash
import flask
from flask import g, request
from werkzeug.exceptions import HTTPException
from werkzeug.serving import WSGIRequestHandler

from callbacks import access, logs
from callbacks.services import Services
from datasources.access import audit
from datasources.access.roles import AccessDenied
from datasources.repository import ScopeError

log = logging.getLogger("ioc.security")

MAX_CALLBACK_IDS = 400  # inputs + states + outputs of one post; the cockpit's render has ~150
DASH_POST = "/_dash-update-component"


#: Dash's cache-busting fingerprint, which spells out its version: ``name.v4_4_1m1795290810.js``.
_FINGERPRINT = re.compile(r"\.v([\w-]+)m([0-9a-fA-F]+)\.")
PLOTLY_ASSET = "plotly-ioc.min.js"
_VERSION_KEYS = ("dash_version", "python_version", "dash_version_url", "ddk_version", "plotly_version")


class HardenedDash(dash.Dash):
    """Dash without software versions in its pages: the front-end config leaves them out and script
    fingerprints become opaque hashes (Dash strips any ``v…m<hex>`` fingerprint when serving, so the
    files still resolve and still change URL when a package is upgraded)."""

    def _config(self) -> dict:
        config = super()._config()
        for key in _VERSION_KEYS:
            config[key] = None
        config["plotlyjs_url"] = self.get_asset_url(PLOTLY_ASSET)  # dcc.Graph's fallback when window.Plotly is unset
        return config

    def _setup_plotlyjs(self) -> None:
        # plotly.js comes from assets/ (only the traces drawn: 3.1 MB instead of 4.8 MB to parse at every first
        # load; scripts/plotly-bundle.sh): Dash's full plotly.min.js is not added to the page. The asset is a
        # plain script, run before the renderer starts, so dcc.Graph finds window.Plotly.
        self._plotlyjs_url = ""

    def interpolate_index(self, **kwargs: Any) -> str:
        if kwargs.get("favicon") and not self._favicon:
            # Dash's default icon inline: chromium fetches a page's icon again on every URL change (every drill),
            # whatever its cache headers say; a data: URI costs no request.
            kwargs["favicon"] = f'<link rel="icon" type="image/x-icon" href="data:image/x-icon;base64,{_default_favicon()}">'
        page = _FINGERPRINT.sub(_opaque_fingerprint, super().interpolate_index(**kwargs))
        return page.replace(f"?v={dash.__version__}", f"?v={_opaque(dash.__version__)}")  # the favicon


@functools.cache
def _default_favicon() -> str:
    return base64.b64encode(pkgutil.get_data("dash", "favicon.ico") or b"").decode()


def _opaque(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _opaque_fingerprint(m: re.Match) -> str:
    return f".v0m{_opaque(m.group(0))}."


class QuietRequestHandler(WSGIRequestHandler):
    """werkzeug's request handler without 'Werkzeug/x Python/y' in the Server header."""

    def version_string(self) -> str:
        return "ioc"


def content_security_policy(app: dash.Dash, tile_url: str = "") -> str:
    """The CSP header: own origin only; Dash's inline scripts by their hashes; MapLibre's blob workers."""
    hashes = " ".join(app.csp_hashes())  # already quoted: 'sha256-…'
    tiles = ""
    if tile_url:
        parts = urlsplit(tile_url.replace("{z}", "0").replace("{x}", "0").replace("{y}", "0"))
        tiles = f" {parts.scheme}://{parts.netloc}" if parts.netloc else ""
    return "; ".join([
        "default-src 'self'",
        f"script-src 'self' {hashes}",
        "style-src 'self' 'unsafe-inline'",  # plotly and React set inline styles
        f"img-src 'self' data: blob:{tiles}",
        f"connect-src 'self'{tiles}",
        "worker-src 'self' blob:",
        "child-src 'self' blob:",
        "font-src 'self' data:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ])


def callback_body_problem(body: Any) -> str | None:
    """What is wrong with the shape of a callback post (None when it is what Dash's renderer sends)."""
    if not isinstance(body, dict):
        return "body must be a JSON object"
    if not isinstance(body.get("output"), str) or len(body["output"]) > 4096:
        return "'output' must be a string"
    if not isinstance(body.get("outputs"), dict | list):
        return "'outputs' must be an object or a list"
    if not isinstance(body.get("inputs"), list) or not isinstance(body.get("state", []), list):
        return "'inputs' and 'state' must be lists"
    changed = body.get("changedPropIds", [])
    if not isinstance(changed, list) or not all(isinstance(c, str) and len(c) < 4096 for c in changed):
        return "'changedPropIds' must be a list of strings"
    n = 0
    outputs = body["outputs"] if isinstance(body["outputs"], list) else [body["outputs"]]
    for group in (body["inputs"], body.get("state", []), outputs):
        for item in group:
            entries = item if isinstance(item, list) else [item]
            for e in entries:
                n += 1
                if not isinstance(e, dict) or not isinstance(e.get("id"), str | dict) or not isinstance(e.get("property"), str):
                    return "every input, state and output needs an 'id' and a 'property'"
    if n > MAX_CALLBACK_IDS:
        return f"{n} ids in one post (at most {MAX_CALLBACK_IDS})"
    return None


def register(app: dash.Dash, services: Services) -> None:
    """Headers, the callback-post guard and the error handlers (after ``callbacks.auth``)."""
    server = app.server
    csp: dict[str, str] = {}

    @server.before_request
    def check_callback_post():  # noqa: ANN202
        if request.path != DASH_POST or request.method != "POST":
            return None
        if request.mimetype != "application/json":
            return flask.jsonify(error="callbacks take application/json"), 415
        origin = request.headers.get("Origin")
        if origin and urlsplit(origin).netloc != request.host:
            return flask.jsonify(error="cross-origin callback refused"), 403
        body = request.get_json(silent=True)
        problem = callback_body_problem(body)
        if problem:
            return flask.jsonify(error=problem), 400
        permission = access.callback_permission(app, body["output"])
        if permission is None:
            known = "callback" in app.callback_map.get(body["output"], {})
            if known:
                log.error("callback %s has no permission check; refused", body["output"][:200])
            return flask.jsonify(error="unknown callback" if not known else "callback not allowed"), 400 if not known else 403
        services.require(permission)
        return None

    @server.after_request
    def headers(resp: flask.Response) -> flask.Response:
        if not csp:
            csp["value"] = content_security_policy(app, services.config.tile_url)
        h = resp.headers
        h["Content-Security-Policy"] = csp["value"]
        h["X-Content-Type-Options"] = "nosniff"
        h["X-Frame-Options"] = "DENY"
        h["Referrer-Policy"] = "same-origin"
        h["Cross-Origin-Opener-Policy"] = "same-origin"
        h["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
        h["X-Request-Id"] = g.get("request_id", "")
        if resp.mimetype in ("text/html", "application/json") and "Cache-Control" not in h:
            h["Cache-Control"] = "no-store"  # scoped data stays out of shared caches
        return resp

    @server.errorhandler(AccessDenied)
    def denied(exc: AccessDenied):  # noqa: ANN202
        p = g.get("ioc_principal")
        audit.record(services.base_repo.engine, "access_denied", p.name if p else None, outcome="denied",
                     target=request.path[:128], ip=request.remote_addr or "", detail=exc.permission)
        return flask.jsonify(error=str(exc)), 403

    @server.errorhandler(ScopeError)
    def out_of_scope(_exc: ScopeError):  # noqa: ANN202
        return flask.jsonify(error="unknown area"), 404

    @server.errorhandler(HTTPException)
    def http_error(exc: HTTPException):  # noqa: ANN202
        if exc.code is not None and exc.code < 400:  # routing redirects
            return exc
        return flask.jsonify(error=exc.description or exc.name), exc.code or 400

    @server.errorhandler(Exception)
    def unexpected(exc: Exception):  # noqa: ANN202
        rid = g.get("request_id", "")
        callback = logs.callback_output()
        log.exception("request %s %s failed (request id %s, callback %s)", request.method, request.path[:200], rid,
                      callback, extra={"callback": callback})
        return flask.jsonify(error="internal error", request_id=rid), 500
