"""Structured logs: JSON lines on stderr through the stdlib ``logging``, configured in this one place.

Every line written while a request is being answered carries that request's id (``X-Request-ID`` from
the client or the nginx front when it is sane, else a new one; returned in the answer's header), and
each request ends with one access line (logger ``ioc.access``: method, path, status, milliseconds).
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from datetime import UTC, datetime

import flask
from flask import g, has_request_context, request
from werkzeug.exceptions import HTTPException

#: What a request id from outside may look like (the nginx front's map uses the same pattern).
REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
#: Attributes every LogRecord has; anything else on a record came as ``extra=`` and goes into the line.
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime", "request_id"}
_MARK = "_ioc_handler"

access_log = logging.getLogger("ioc.access")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, message, request id, extras, exception."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = getattr(record, "request_id", None)
        if rid:
            line["request_id"] = rid
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def current_request_id() -> str | None:
    """The id of the request being answered (None outside requests)."""
    return g.get("request_id") if has_request_context() else None


def _stamp_request_id(factory):  # noqa: ANN001, ANN202
    """A LogRecord factory that stamps the current request's id on every record (any logger, any handler)."""

    def make(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        record = factory(*args, **kwargs)
        record.request_id = current_request_id()
        return record

    make._ioc = True  # type: ignore[attr-defined]
    return make


def configure_logging(level: str = "INFO", fmt: str = "json") -> None:
    """Send the ``ioc`` loggers (and anything propagating to the root) to stderr as JSON lines (``fmt``
    'text': plain lines for a terminal). Idempotent: a second app in the same process changes nothing."""
    if not getattr(logging.getLogRecordFactory(), "_ioc", False):
        logging.setLogRecordFactory(_stamp_request_id(logging.getLogRecordFactory()))
    root = logging.getLogger()
    if any(getattr(h, _MARK, False) for h in root.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(
        "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"))
    setattr(handler, _MARK, True)
    root.addHandler(handler)
    logging.getLogger("ioc").setLevel(level.upper())
    if root.level > logging.getLevelName(level.upper()):
        root.setLevel(level.upper())


def register(server: flask.Flask) -> None:
    """Request ids and the access line of every request (before any other hook: the guard's refusals
    are logged with their id too)."""

    def assign_request_id():  # noqa: ANN202
        rid = request.headers.get("X-Request-ID", "")
        g.request_id = rid if REQUEST_ID.match(rid) else uuid.uuid4().hex
        g.request_started = time.perf_counter()

    server.before_request_funcs.setdefault(None, []).insert(0, assign_request_id)

    @server.after_request
    def log_access(resp: flask.Response) -> flask.Response:
        resp.headers["X-Request-ID"] = g.get("request_id", "")
        started = g.get("request_started")
        access_log.info(
            "%s %s %s", request.method, request.path[:200], resp.status_code,
            extra={"method": request.method, "path": request.path[:200], "status": resp.status_code,
                   "ms": round((time.perf_counter() - started) * 1000, 1) if started else None,
                   "remote": request.remote_addr, "callback": callback_output()},
        )
        return resp


def callback_output() -> str | None:
    """The output key of the Dash callback this request posts (None for other requests)."""
    if request.path != "/_dash-update-component" or request.method != "POST" or request.mimetype != "application/json":
        return None
    try:  # parsed once already by the callback guard (cached); an over-long body is never read here
        body = request.get_json(silent=True)
    except HTTPException:
        return None
    output = body.get("output") if isinstance(body, dict) else None
    return output[:200] if isinstance(output, str) else None
