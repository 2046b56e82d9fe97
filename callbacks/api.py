"""The JSON API under ``/api/v1`` for machine clients: bearer tokens (hashed at rest, scoped, revocable),
every answer limited to the token's scope, errors as ``{"error": …, "parameter": …}``.

Read endpoints (permission ``view``): regions, KPI values, composite scores, recent events, open alerts. Ingest endpoints
(permission ``ingest``: POST events, readings, values) live in ``callbacks.ingest_api`` on the same blueprint.
"""

from __future__ import annotations

import dash
import flask
from flask import Blueprint, g, request

from callbacks import api_steps, ingest_api, params
from callbacks.services import Services
from datasources.access import audit
from datasources.access.roles import VIEW
from datasources.repository import ScopeError
from datasources.scores import OVERALL

API_PREFIX = "/api/v1"


def register(app: dash.Dash, services: Services) -> None:
    """Mount the blueprint on the Flask server."""
    bp = Blueprint("api_v1", __name__, url_prefix=API_PREFIX)

    @bp.before_request
    def authenticate():  # noqa: ANN202
        if request.endpoint == "api_v1.openapi":
            return None
        header = request.headers.get("Authorization", "")
        scheme, _, secret = header.partition(" ")
        principal = services.accounts.principal_for_token(secret.strip()) if scheme.lower() == "bearer" else None
        if principal is None:
            audit.record(services.base_repo.engine, "access_denied", None, outcome="denied", target=request.path[:128],
                         ip=request.remote_addr or "", detail="missing, unknown or revoked API token")
            resp = flask.jsonify(error="a valid bearer token is required (Authorization: Bearer <token>)")
            resp.headers["WWW-Authenticate"] = 'Bearer realm="ioc"'
            return resp, 401
        g.ioc_principal = principal
        return None

    @bp.errorhandler(params.ParamError)
    def bad_param(exc: params.ParamError):  # noqa: ANN202
        return flask.jsonify(error=exc.description, parameter=exc.parameter), 400

    @bp.errorhandler(ScopeError)
    def unknown_area(_exc: ScopeError):  # noqa: ANN202
        return flask.jsonify(error="unknown area", parameter="area"), 404

    @bp.get("/openapi.json")
    def openapi():  # noqa: ANN202
        return flask.jsonify(openapi_spec())

    @bp.get("/regions")
    @bp.get("/regions/<code>")
    def regions(code: str | None = None):  # noqa: ANN202
        services.require(VIEW)
        repo = services.repo
        area = repo.root_code() if code is None else _code(code)
        region = services.cached("region", area)
        children = services.cached("children", area)
        return {"region": region, "children": children}

    @bp.get("/kpis")
    def kpis():  # noqa: ANN202
        services.require(VIEW)
        area = params.area(services.repo.root_code())
        periods = services.cached("periods")
        period = params.period(periods[0] if periods else None)
        if period is None:
            return {"area": area, "period": None, "kpis": []}
        rows = services.cached("kpi_values", area, period)
        return {"area": area, "period": period.strftime("%Y-%m"), "kpis": [_kpi_json(k) for k in rows]}

    @bp.get("/events")
    def events():  # noqa: ANN202
        services.require(VIEW)
        area = params.area(services.repo.root_code())
        limit = params.integer("limit", 50, 1, 500)
        rows = services.repo.recent_events(area, limit)
        return {"area": area, "events": [r | {"reported_at": r["reported_at"].isoformat()} for r in rows]}

    @bp.get("/alerts")
    def alerts():  # noqa: ANN202
        services.require(VIEW)
        area = params.area(services.repo.root_code())
        limit = params.integer("limit", 50, 1, 500)
        rows = services.repo.recent_alerts(area, limit)
        return {"area": area, "alerts": [r | {"started_at": r["started_at"].isoformat()} for r in rows]}

    # -- composite scores (issue 11, docs/SCORES.md)
    @bp.get("/scores")
    def scores():  # noqa: ANN202
        services.require(VIEW)
        area = params.area(services.repo.root_code())
        periods = services.cached("periods")
        period = params.period(periods[0] if periods else None)
        themes = tuple(p["id"] for p in services.cached("pages") if p["kind"] == "theme")
        key = params.choice("score", OVERALL, (OVERALL, *themes))
        if period is None:
            return {"area": area, "period": None, "score": key, "scores": {}, "children": [], "explanation": None}
        own = services.cached("area_scores", area, period)
        expl = services.cached("score_explanation", area, period, key)
        return {
            "area": area, "period": period.strftime("%Y-%m"), "score": key, "scores": own["scores"], "counts": own["counts"],
            "children": services.cached("child_scores", area, period) if services.cached("region", area)["n_children"] else [],
            "explanation": expl | {"period": expl["period"].strftime("%Y-%m"), "indicators": [
                r | {"period": r["period"].strftime("%Y-%m") if r["period"] else None} for r in expl["indicators"]]},
        }

    ingest_api.register_routes(bp, services)
    app.server.extensions["csrf"].exempt(bp)  # bearer tokens, not cookies: no cross-site forgery
    api_steps.add_step_routes(bp, services)
    app.server.register_blueprint(bp)


def _code(raw: str) -> str:
    from callbacks import inputs

    value = inputs.code(raw)
    if value is None:
        raise params.ParamError("code", "a region code")
    return value


def _kpi_json(k) -> dict:  # noqa: ANN001
    return {
        "code": k.code, "name_zh": k.name_zh, "name_en": k.name_en, "theme": k.theme, "unit": k.unit,
        "value": k.value, "period": k.period.strftime("%Y-%m") if k.period else None, "previous": k.previous,
        "last_year": k.last_year, "status": k.status, "stale": k.stale,
    }


def openapi_spec() -> dict:
    """The OpenAPI 3.1 description of ``/api/v1``."""
    area = {"name": "area", "in": "query", "schema": {"type": "string", "pattern": "^[A-Za-z0-9_.:-]{1,64}$"},
            "description": "region code; default: the token's top area"}
    limit = {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 500, "default": 50}}
    errors = {
        "400": {"description": "a bad parameter: {error, parameter}"},
        "401": {"description": "missing, unknown or revoked token"},
        "403": {"description": "the token's role lacks the permission"},
        "404": {"description": "unknown area, or outside the token's scope"},
    }

    def op(summary: str, parameters: list) -> dict:
        return {"get": {"summary": summary, "parameters": parameters, "responses": {"200": {"description": "OK"}, **errors}}}

    ingest_paths, ingest_schemas = ingest_api.openapi_paths(API_PREFIX)
    spec = {
        "openapi": "3.1.0",
        "info": {"title": "IOC dashboard API", "version": "1"},
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}, "schemas": ingest_schemas},
        "security": [{"bearer": []}],
        "paths": {
            f"{API_PREFIX}/regions": op("the token's top area and its children", []),
            f"{API_PREFIX}/regions/{{code}}": op("one area and its children",
                                                 [{"name": "code", "in": "path", "required": True, "schema": {"type": "string"}}]),
            f"{API_PREFIX}/kpis": op("headline KPI values of an area for a month", [
                area, {"name": "period", "in": "query", "schema": {"type": "string", "pattern": "^\\d{4}-\\d{2}$"}}]),
            f"{API_PREFIX}/events": op("newest events of an area's subtree", [area, limit]),
            f"{API_PREFIX}/alerts": op("newest open alerts of an area's subtree", [area, limit]),
            f"{API_PREFIX}/scores": op("composite scores (docs/SCORES.md) of an area and its children for a month, and what "
                                       "pulls the chosen score down", [
                area, {"name": "period", "in": "query", "schema": {"type": "string", "pattern": "^\\d{4}-\\d{2}$"}},
                {"name": "score", "in": "query", "schema": {"type": "string", "default": OVERALL},
                 "description": "overall or a theme id"}]),
        },
    }
    for path, ops in ingest_paths.items():  # /events has both GET (read) and POST (ingest)
        spec["paths"].setdefault(path, {}).update(ops)
    # Event lifecycle steps (callbacks/api_steps.py).
    spec["paths"] |= api_steps.openapi_paths(API_PREFIX, errors)
    return spec
