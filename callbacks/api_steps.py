"""API routes for event lifecycle steps (``/api/v1/events/<id>/steps`` and the batch form
``/api/v1/events/steps``): thin wrappers around the use case the duty console calls too
(:func:`datasources.operations.events.apply_steps`). Refused items answer 422 with
``{"problems": [{"index", "field", "value", "reason"}]}`` and nothing is written."""

from __future__ import annotations

import flask
from flask import Blueprint, request

from callbacks.services import Services
from datasources.access.roles import DISPATCH
from datasources.operations import events as ops

STEP_FIELDS = ("status", "department", "note", "at", "id", "satisfaction")


def add_step_routes(bp: Blueprint, services: Services) -> None:
    """Register the step routes on the ``/api/v1`` blueprint (its bearer-token check runs first)."""

    @bp.post("/events/<int:event_id>/steps")
    def event_step(event_id: int):  # noqa: ANN202
        principal = services.require(DISPATCH)
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return _problems([ops.StepProblem(0, None, None, "the body must be a JSON object")])
        item = {**body, "event": event_id}
        try:
            result = ops.apply_steps(services.base_repo.engine, principal, [item], request.remote_addr or "")
        except ops.StepRefused as exc:
            if exc.not_found:
                return flask.jsonify(error="unknown event", parameter="id"), 404
            return _problems(exc.problems)
        return flask.jsonify(_item_json(result.items[0]) | {"data_version": result.data_version})

    @bp.post("/events/steps")
    def event_steps():  # noqa: ANN202
        principal = services.require(DISPATCH)
        body = request.get_json(silent=True)
        items = body.get("items") if isinstance(body, dict) else body
        if not isinstance(items, list):
            return _problems([ops.StepProblem(0, "items", None, "expected {\"items\": [...]} or a JSON list of steps")])
        try:
            result = ops.apply_steps(services.base_repo.engine, principal, items, request.remote_addr or "")
        except ops.StepRefused as exc:
            return _problems(exc.problems)
        return flask.jsonify(steps=[_item_json(i) for i in result.items], data_version=result.data_version)


def _problems(problems: list[ops.StepProblem]):  # noqa: ANN202
    return flask.jsonify(problems=[p.as_dict() for p in problems]), 422


def _item_json(item: dict) -> dict:
    """One step's outcome: the event, whether it was a replay, its new state (times as ISO text)."""
    state = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in item["state"].items() if k != "last_step"}
    last = item["state"]["last_step"]
    if last is not None:
        last = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in last.items()}
    return {"index": item["index"], "event": item["event"], "replayed": item["replayed"], "state": state, "last_step": last}


def openapi_paths(prefix: str, errors: dict) -> dict:
    """The OpenAPI paths of the step routes (merged into ``callbacks.api.openapi_spec``)."""
    step = {
        "type": "object",
        "properties": {
            "status": {"type": "string", "enum": ["dispatched", "processing", "resolved", "closed"]},
            "department": {"type": "string", "maxLength": 64, "description": "default for a dispatch: the category's suggested one"},
            "note": {"type": "string", "maxLength": 2000},
            "at": {"type": "string", "format": "date-time", "description": "default: now"},
            "id": {"type": "string", "maxLength": 64, "description": "the sender's id of the step: a replay is skipped"},
            "satisfaction": {"type": "integer", "minimum": 1, "maximum": 5},
        },
        "required": ["status"],
    }
    item = {"allOf": [step, {"type": "object", "properties": {
        "event": {"type": "integer", "description": "the event's id"},
        "source": {"type": "string"}, "external_id": {"type": "string", "description": "with source: the sender's id of the event"},
    }}]}
    refused = {"422": {"description": "refused, nothing written: {problems: [{index, field, value, reason}]}"}}
    return {
        f"{prefix}/events/{{event_id}}/steps": {"post": {
            "summary": "one lifecycle step of an event (dispatch, processing, resolved, closed, reopen)",
            "parameters": [{"name": "event_id", "in": "path", "required": True, "schema": {"type": "integer"}}],
            "requestBody": {"required": True, "content": {"application/json": {"schema": step}}},
            "responses": {"200": {"description": "the event's new state (replayed: true when the step id was known)"},
                          **errors, **refused},
        }},
        f"{prefix}/events/steps": {"post": {
            "summary": "lifecycle steps of several events, all or nothing",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "properties": {"items": {"type": "array", "maxItems": ops.MAX_ITEMS, "items": item}}}}}},
            "responses": {"200": {"description": "per item: the event's new state"}, **errors, **refused},
        }},
    }
