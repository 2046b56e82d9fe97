"""Query parameters of the HTTP endpoints (API, exports), checked at the boundary: a bad one is a 400
naming the parameter, an area outside the caller's scope is the same 404 as an unknown one."""

from __future__ import annotations

from datetime import date

from flask import request
from werkzeug.exceptions import BadRequest

from callbacks import inputs


class ParamError(BadRequest):
    """A bad query parameter; ``parameter`` names it."""

    def __init__(self, parameter: str, reason: str):
        super().__init__(f"parameter '{parameter}': {reason}")
        self.parameter = parameter


def area(default: str) -> str:
    """``?area=`` as a region code (default: the caller's top area)."""
    raw = request.args.get("area")
    if raw is None or raw == "":
        return default
    value = inputs.code(raw)
    if value is None:
        raise ParamError("area", "a region code (letters, digits, . _ : -)")
    return value


def period(default: date | None) -> date | None:
    """``?period=YYYY-MM`` as the first day of the month."""
    raw = request.args.get("period")
    if not raw:
        return default
    try:
        y, m = raw.split("-")
        if len(y) != 4 or len(m) != 2:
            raise ValueError
        return date(int(y), int(m), 1)
    except ValueError:
        raise ParamError("period", "a month as YYYY-MM") from None


def integer(name: str, default: int, lo: int, hi: int) -> int:
    """An integer parameter within [lo, hi]."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or not lo <= int(raw) <= hi:
        raise ParamError(name, f"a whole number from {lo} to {hi}")
    return int(raw)


def choice(name: str, default: str, allowed: tuple[str, ...]) -> str:
    """A parameter from a fixed list."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if raw not in allowed:
        raise ParamError(name, f"one of {', '.join(allowed)}")
    return raw
