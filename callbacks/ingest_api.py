"""The ingest endpoints of ``/api/v1``: machine clients post batches of events, sensor readings and
indicator values, written through the one write layer (:class:`datasources.ingest.Writer`).

Each request, in this order: bearer token (``callbacks.api``), permission ``ingest``, the token's rate
limit (429), the body size (413), JSON (400), the number of items (413), the shape of every item
(422), then the write layer, which validates the whole batch inside its lock (422, nothing written)
and writes it in one transaction with its derive and one data-version bump (201/200). Every call that
passes the permission check leaves one audit row (action ``import``) with the token, kind and counts.

Events carry the client's own id (``id``, stored as ``events.external_id``): re-sending a known
(source, id) is answered ``duplicate`` with the stored event's id and writes nothing. Readings and values
are keyed upserts, so a replay just writes the same values again.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import flask
from flask import Blueprint, g, request

from callbacks.services import Services
from datasources.access import audit
from datasources.access.roles import INGEST
from datasources.ingest import IngestError, Writer
from datasources.ingest.entries import THEMES
from datasources.rules import LIFECYCLE

MAX_LISTED_PROBLEMS = 1000  # problems listed in a 422 answer; ``problem_count`` gives them all


@dataclass(frozen=True)
class Field:
    """One field of an item as the API names it (``column``: the write layer's name)."""

    name: str
    type: str  # string | integer | number | date-time | month | client-id
    required: bool
    description: str
    column: str = ""
    enum: tuple = ()
    minimum: float | None = None
    maximum: float | None = None

    @property
    def target(self) -> str:
        return self.column or self.name


FIELDS: dict[str, tuple[Field, ...]] = {
    "events": (
        Field("id", "client-id", True, "the sending system's own id of the case; unique per source (a re-sent id is "
              "answered 'duplicate')", column="external_id"),
        Field("source", "string", True, "sending system, an identifier such as hotline or grid"),
        Field("category", "string", True, "category identifier, e.g. road or complaint_env"),
        Field("theme", "string", True, "theme of the five", enum=THEMES),
        Field("severity", "integer", True, "1 = I (most severe) … 4 = IV", minimum=1, maximum=4),
        Field("title", "string", True, "short title, at most 200 characters"),
        Field("description", "string", False, "text, at most 2,000 characters"),
        Field("lon", "number", False, "longitude (WGS84); with lat, places the event when region_code is missing",
              minimum=-180, maximum=180),
        Field("lat", "number", False, "latitude (WGS84)", minimum=-90, maximum=90),
        Field("region_code", "string", False, "community code; found by point-in-polygon from lon/lat when missing"),
        Field("reported_at", "date-time", True, "the city's local time, ISO 8601 without an offset"),
        Field("status", "string", True, "lifecycle status", enum=LIFECYCLE),
        Field("department", "string", False, "department handling it"),
        Field("dispatched_at", "date-time", False, "required once dispatched"),
        Field("resolved_at", "date-time", False, "required when resolved"),
        Field("closed_at", "date-time", False, "required when closed"),
        Field("satisfaction", "integer", False, "citizen's score 1–5", minimum=1, maximum=5),
        Field("due_at", "date-time", False, "SLA deadline"),
    ),
    "readings": (
        Field("facility_id", "integer", True, "id of a live facility", minimum=1),
        Field("metric", "string", True, "metric identifier, e.g. pm25"),
        Field("ts", "date-time", True, "the city's local time, ISO 8601 without an offset"),
        Field("value", "number", True, "the reading"),
    ),
    "values": (
        Field("indicator", "string", True, "indicator code of the catalog"),
        Field("region", "string", True, "region code (at or above the indicator's lowest level)"),
        Field("period", "month", True, "month: YYYY-MM"),
        Field("value", "number", True, "the value"),
        Field("reported_at", "date-time", False, "when the value was reported (default: now)"),
    ),
}


class TokenBucket:
    """Requests per key (a token's id): ``burst`` at once, refilled at ``per_minute``. In-process, so with
    several gunicorn workers each worker has its own buckets (the effective limit is workers × rate)."""

    def __init__(self, per_minute: float, burst: int, clock: Callable[[], float] = time.monotonic):
        self.rate, self.burst, self.clock = per_minute / 60.0, max(1, burst), clock
        self._state: dict[Any, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: Any) -> float:
        """Take one request's token: 0.0 when allowed, else the seconds until one is available."""
        now = self.clock()
        with self._lock:
            tokens, last = self._state.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            if tokens >= 1.0:
                self._state[key] = (tokens - 1.0, now)
                return 0.0
            self._state[key] = (tokens, now)
            return (1.0 - tokens) / self.rate


class ApiProblem(Exception):
    """A refused request: HTTP status and the JSON answer."""

    def __init__(self, status: int, body: dict, headers: dict | None = None):
        super().__init__(body.get("error", ""))
        self.status, self.body, self.headers = status, body, headers or {}


# ---------------------------------------------------------------------------------------------- items


def parse_items(raw: bytes) -> list:
    """The batch of a request body: a JSON array, or an object ``{"items": [...]}``; ApiProblem 400 otherwise."""
    try:
        body = json.loads(raw.decode("utf-8"))  # decoded first: json.loads(bytes) would guess UTF-16/32 too
    except UnicodeDecodeError:
        raise ApiProblem(400, {"error": "the body is not UTF-8 text"}) from None
    except json.JSONDecodeError as exc:
        raise ApiProblem(400, {"error": f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"}) from None
    except RecursionError:
        raise ApiProblem(400, {"error": "malformed JSON: nested too deeply"}) from None
    if isinstance(body, dict):
        if set(body) != {"items"}:
            raise ApiProblem(400, {"error": "an object body must be {\"items\": [...]} and nothing else"})
        body = body["items"]
    if not isinstance(body, list):
        raise ApiProblem(400, {"error": f"the batch must be a JSON array of items (or {{\"items\": [...]}}), not {_json_type(body)}"})
    if not body:
        raise ApiProblem(400, {"error": "the batch is empty"})
    return body


def item_records(kind: str, items: list) -> tuple[list[dict], list[dict]]:
    """Check each item's shape (an object, known fields, required ones present, JSON types) and rename
    fields to the write layer's columns. Returns (records, problems as {index, field, value, reason})."""
    fields = {f.name: f for f in FIELDS[kind]}
    records, problems = [], []

    def bad(index: int, field: str | None, value: Any, reason: str) -> None:
        problems.append({"index": index, "field": field, "value": _jsonable(value), "reason": reason})

    for k, item in enumerate(items):
        if not isinstance(item, dict):
            bad(k, None, None, f"an item must be an object of field: value, not {_json_type(item)}")
            continue
        record = {}
        for name, value in item.items():
            f = fields.get(name)
            if f is None:
                bad(k, name, value, f"unknown field (known: {', '.join(fields)})")
            elif value is None:
                if f.required:
                    bad(k, name, None, "required value is missing")
            else:
                reason = _type_problem(f, value)
                if reason:
                    bad(k, name, value, reason)
                else:
                    record[f.target] = str(value) if f.type == "client-id" else value
        for f in FIELDS[kind]:
            if f.required and f.name not in item:
                bad(k, f.name, None, "required field is missing")
        records.append(record)
    return records, problems


def _type_problem(f: Field, value: Any) -> str | None:
    """Why ``value`` is not of the field's JSON type (None when it is)."""
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    if isinstance(value, str) and not _encodable(value):
        return "must be valid Unicode text (no lone surrogates)"
    if f.type == "client-id":
        if isinstance(value, bool) or not isinstance(value, str | int):
            return f"must be a string or an integer, not {_json_type(value)}"
        if not str(value).strip() or len(str(value)) > 64:
            return "must be 1 to 64 characters"
        return None
    if f.type in ("number", "integer"):
        if not is_number:
            return f"must be a number, not {_json_type(value)}"
        if not math.isfinite(value):
            return "must be a finite number"
        return None  # range and whole-number checks are the write layer's
    if not isinstance(value, str):
        return f"must be a string, not {_json_type(value)}"
    if f.type == "date-time":
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return "must be a date-time like 2026-11-20T18:00:00"
        if parsed.tzinfo is not None:
            # Timestamps are the city's wall-clock time; converting an offset would need the city's zone.
            return "give the city's local time without a UTC offset"
    return None


def _encodable(text: str) -> bool:
    # JSON escapes can carry lone surrogates, which no database driver can encode (a 500, not a 422).
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"


def _jsonable(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    if v is None or isinstance(v, str | int | float | bool):
        return v if not isinstance(v, str) else v[:200]
    return json.dumps(v)[:200]


def problems_from(exc: IngestError, kind: str) -> list[dict]:
    """The write layer's problems in the API's terms: ``index`` (None for the whole batch), API field names."""
    rename = {f.target: f.name for f in FIELDS[kind]}
    return [
        {"index": p["record"] if isinstance(p["record"], int) else None, "field": rename.get(p["field"], p["field"]),
         "value": p["value"], "reason": p["reason"]}
        for p in exc.as_dicts()
    ]


def rejected(kind: str, problems: list[dict]) -> ApiProblem:
    n = len(problems)
    return ApiProblem(422, {
        "error": f"{kind}: {n} problem{'s' if n != 1 else ''}, nothing written", "kind": kind,
        "problem_count": n, "problems": problems[:MAX_LISTED_PROBLEMS],
    })


# ---------------------------------------------------------------------------------------------- routes


def register_routes(bp: Blueprint, services: Services) -> None:
    """Add the POST endpoints to the ``/api/v1`` blueprint (after its authentication hook)."""
    cfg = services.config
    bucket = TokenBucket(cfg.api_rate_per_minute, cfg.api_rate_burst) if cfg.api_rate_per_minute > 0 else None
    body_limit = cfg.api_max_body_kb * 1024

    @bp.before_request
    def api_body_limit():  # noqa: ANN202
        # The screens' MAX_CONTENT_LENGTH is small; API batches get their own limit (Flask ≥ 3.1 per request).
        request.max_content_length = body_limit

    def handle(kind: str, write: Callable[[Writer, list[dict], str | None], dict]) -> tuple[flask.Response, int]:
        principal = services.require(INGEST)
        engine = services.base_repo.engine
        target = f"{request.path}"[:128]
        ip = request.remote_addr or ""
        try:
            if bucket is not None:
                wait = bucket.take((principal.kind, principal.id))
                if wait > 0:
                    retry = max(1, math.ceil(wait))
                    raise ApiProblem(429, {
                        "error": f"rate limit: at most {cfg.api_rate_per_minute} requests a minute per token "
                                 f"(bursts of {cfg.api_rate_burst}); retry in {retry} s",
                        "retry_after": retry}, {"Retry-After": str(retry)})
            size = request.content_length
            if size is not None and size > body_limit:
                raise _too_large(size, cfg.api_max_body_kb)
            items = parse_items(request.get_data(cache=False))
            if len(items) > cfg.api_max_items:
                raise ApiProblem(413, {"error": f"{len(items)} items exceed the limit of {cfg.api_max_items} per "
                                                "batch (IOC_API_MAX_ITEMS): split the batch", "limit_items": cfg.api_max_items})
            records, problems = item_records(kind, items)
            if problems:
                raise rejected(kind, problems)
            try:
                answer = write(Writer(engine), records, principal.scope)
            except IngestError as exc:
                raise rejected(kind, problems_from(exc, kind)) from None
        except ApiProblem as exc:
            outcome = "denied" if exc.status == 429 else "failed"
            audit.record(engine, "import", principal.name, outcome=outcome, target=target, ip=ip,
                         detail=f"{kind}: HTTP {exc.status}: {exc.body['error']}"[:2000])
            resp = flask.jsonify(exc.body)
            resp.headers.update(exc.headers)
            return resp, exc.status
        answer = {"kind": kind, "received": len(records), **answer}
        return flask.jsonify(answer), 201 if answer.get("created") else 200

    def _audit_in(conn, kind: str, counts: dict) -> None:  # noqa: ANN001
        # In the write's own transaction: the data is there exactly when its audit row is.
        audit.record(conn, "import", g.ioc_principal.name, target=request.path[:128], ip=request.remote_addr or "",
                     detail=f"{kind}: " + " ".join(f"{k}={v}" for k, v in counts.items()))

    def write_events(writer: Writer, records: list[dict], scope: str | None) -> dict:
        results: list[tuple[int, bool]] = []
        with writer.batch() as b:
            created = b.events(records, scope=scope, results=results)
            _audit_in(b.conn, "events", {"received": len(records), "created": created, "duplicate": len(records) - created})
        return {
            "created": created, "duplicate": len(records) - created, "data_version": writer.last_report.data_version,
            "items": [{"index": k, "id": r["external_id"], "event_id": eid, "result": "created" if new else "duplicate"}
                      for k, (r, (eid, new)) in enumerate(zip(records, results, strict=True))],
        }

    def write_upserts(entry: str, kind: str) -> Callable[[Writer, list[dict], str | None], dict]:
        def write(writer: Writer, records: list[dict], scope: str | None) -> dict:
            counts: dict[str, int] = {}
            with writer.batch() as b:
                n = getattr(b, entry)(records, scope=scope, counts=counts)
                updated = counts.get("updated", 0)
                _audit_in(b.conn, kind, {"received": len(records), "created": n - updated, "updated": updated})
            return {"created": n - updated, "updated": updated, "data_version": writer.last_report.data_version}
        return write

    write_readings, write_values = write_upserts("readings", "readings"), write_upserts("values", "values")

    @bp.post("/events")
    def post_events():  # noqa: ANN202
        return handle("events", write_events)

    @bp.post("/readings")
    def post_readings():  # noqa: ANN202
        return handle("readings", write_readings)

    @bp.post("/values")
    def post_values():  # noqa: ANN202
        return handle("values", write_values)

    @bp.errorhandler(413)
    def body_too_large(_exc):  # noqa: ANN001, ANN202
        # A body without Content-Length (chunked) that outgrows the limit while being read.
        return flask.jsonify(_too_large(None, cfg.api_max_body_kb).body), 413


def _too_large(size: int | None, limit_kb: int) -> ApiProblem:
    what = f"a body of {size:,} bytes" if size is not None else "the body"
    return ApiProblem(413, {"error": f"{what} exceeds the API's limit of {limit_kb:,} KB (IOC_API_MAX_BODY_KB): "
                                     "split the batch", "limit_kb": limit_kb})


# ---------------------------------------------------------------------------------------------- OpenAPI


def _schema(f: Field) -> dict:
    base = {
        "client-id": {"oneOf": [{"type": "string", "minLength": 1, "maxLength": 64}, {"type": "integer"}]},
        "string": {"type": "string"},
        "integer": {"type": "integer"},
        "number": {"type": "number"},
        "date-time": {"type": "string", "format": "date-time", "examples": ["2026-11-20T18:00:00"]},
        "month": {"type": "string", "pattern": "^\\d{4}-\\d{2}$"},
    }[f.type]
    extra = {"description": f.description}
    if f.enum:
        extra["enum"] = list(f.enum)
    if f.minimum is not None:
        extra["minimum"] = f.minimum
    if f.maximum is not None:
        extra["maximum"] = f.maximum
    if not f.required:
        return {**base, **extra} if "oneOf" in base else {**base, "type": [base["type"], "null"], **extra}
    return {**base, **extra}


def openapi_paths(prefix: str) -> tuple[dict, dict]:
    """(paths, component schemas) of the ingest endpoints for ``callbacks.api.openapi_spec``."""
    schemas: dict[str, dict] = {
        "Problem": {"type": "object", "properties": {
            "index": {"type": ["integer", "null"], "description": "0-based item position; null = the whole batch"},
            "field": {"type": ["string", "null"]}, "value": {}, "reason": {"type": "string"}}},
        "Rejected": {"type": "object", "required": ["error", "kind", "problems"], "properties": {
            "error": {"type": "string"}, "kind": {"type": "string"}, "problem_count": {"type": "integer"},
            "problems": {"type": "array", "items": {"$ref": "#/components/schemas/Problem"}}}},
        "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
    }
    summaries = {
        "events": ("new events; a known (source, id) is skipped and answered 'duplicate'", {
            "created": {"type": "integer"}, "duplicate": {"type": "integer"},
            "items": {"type": "array", "items": {"type": "object", "properties": {
                "index": {"type": "integer"}, "id": {"type": "string"}, "event_id": {"type": "integer"},
                "result": {"enum": ["created", "duplicate"]}}}}}),
        "readings": ("sensor readings of live facilities, upserted by (facility_id, metric, ts)", {
            "created": {"type": "integer"}, "updated": {"type": "integer"}}),
        "values": ("indicator values, upserted by (indicator, region, period); parents are rolled up", {
            "created": {"type": "integer"}, "updated": {"type": "integer"}}),
    }
    paths = {}
    err = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    for kind, (summary, answer) in summaries.items():
        name = kind.capitalize()[:-1] + "Item"
        schemas[name] = {
            "type": "object", "additionalProperties": False,
            "required": [f.name for f in FIELDS[kind] if f.required],
            "properties": {f.name: _schema(f) for f in FIELDS[kind]},
        }
        items = {"type": "array", "minItems": 1, "items": {"$ref": f"#/components/schemas/{name}"}}
        ok = {"content": {"application/json": {"schema": {"type": "object", "properties": {
            "kind": {"type": "string"}, "received": {"type": "integer"}, "data_version": {"type": "integer"}, **answer}}}}}
        paths[f"{prefix}/{kind}"] = {"post": {
            "summary": summary,
            "description": "Needs permission 'ingest' (roles feed, admin); items outside the token's scope are refused. "
                           "The whole batch is validated first: any problem answers 422 and nothing is written.",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {"oneOf": [
                items, {"type": "object", "required": ["items"], "additionalProperties": False,
                        "properties": {"items": items}}]}}}},
            "responses": {
                "201": {"description": "written; at least one row created", **ok},
                "200": {"description": "written; nothing new (duplicates or updates only)", **ok},
                "400": {"description": "malformed JSON, not an array of items, or an empty batch", **err},
                "401": {"description": "missing, unknown or revoked token", **err},
                "403": {"description": "the token's role lacks the permission 'ingest'", **err},
                "413": {"description": "body larger than IOC_API_MAX_BODY_KB, or more items than IOC_API_MAX_ITEMS", **err},
                "422": {"description": "invalid items; every problem listed, nothing written",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Rejected"}}}},
                "429": {"description": "the token's rate limit (IOC_API_RATE_PER_MINUTE); see Retry-After",
                        "headers": {"Retry-After": {"schema": {"type": "integer"}}}, **err},
            },
        }}
    return paths, schemas
