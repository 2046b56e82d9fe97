"""Boundaries for the map, per parent: the children of the selected area (a few KB), compressed and kept by
the browser for as long as the geometry version in their URL stands; the favicon is kept too, so a drill
fetches nothing but the callback answers (and, the first time, the new area's children)."""

from __future__ import annotations

import dash
import flask

from callbacks import inputs
from callbacks.services import Services
from datasources.repository import ScopeError

GEOJSON = "application/geo+json"
#: The geometry version is in the URL: a boundary change is a new URL, so the old one never goes stale.
#: Private: a boundary answer depends on the caller's scope and sits behind the sign-in.
IMMUTABLE = "private, max-age=31536000, immutable"


def children_url(code: str, version: int, scope: str | None = None) -> str:
    """URL of the simplified boundaries of ``code``'s children. The scope keeps one browser from reusing
    another account's cached answer (another account may be refused the same URL)."""
    return f"/geo/children/{code}.json?v={version}&s={scope or 'all'}"


def compress_geojson(server: flask.Flask) -> None:
    """Let Flask-Compress (``Dash(compress=True)``) compress GeoJSON too: it reads its mimetypes once, at
    ``init_app``, and ``application/geo+json`` is not among its defaults."""
    mimetypes = server.config.setdefault("COMPRESS_MIMETYPES", [])
    if GEOJSON not in mimetypes:
        mimetypes.append(GEOJSON)
    for hook in server.after_request_funcs.get(None, []):
        target = getattr(hook, "__self__", None)
        if hasattr(target, "compress_mimetypes_set"):
            target.compress_mimetypes_set.add(GEOJSON)


def register(app: dash.Dash, services: Services) -> None:
    """The per-parent boundary route, GeoJSON compression and a cached favicon."""
    server = app.server
    compress_geojson(server)

    @server.get("/geo/children/<code>.json")
    def children_geojson(code: str):  # noqa: ANN202
        """Simplified boundaries of the children of ``code``, within the caller's scope (404 outside it:
        the same answer as for an area that does not exist)."""
        if inputs.code(code) is None:
            return flask.jsonify(error="unknown area"), 404
        try:
            body = services.cached("children_geojson", code)
        except ScopeError:
            return flask.jsonify(error="unknown area"), 404
        resp = flask.Response(body, mimetype=GEOJSON)
        resp.headers["Cache-Control"] = IMMUTABLE
        return resp

    @server.after_request
    def cache_favicon(resp: flask.Response) -> flask.Response:
        # Dash's favicon URL carries a version (?v=…): keep it instead of fetching it on every drill.
        if flask.request.path == "/_favicon.ico" and resp.status_code == 200:
            resp.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        return resp
