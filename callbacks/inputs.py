"""Callback inputs checked at the boundary. Everything a browser posts is untrusted: wrong JSON types,
huge lists, NULs, lone surrogates. These functions turn any value into a safe one of the expected
type (or the default), so that callbacks never fail on input and never pass it raw to SQL or markup."""

from __future__ import annotations

import math
import re
from typing import Any

from werkzeug.exceptions import BadRequest

#: Region, indicator and similar codes: what the data contract allows, nothing that needs escaping.
CODE_RE = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
MAX_LIST = 64


def code(value: Any) -> str | None:
    """A code (region, indicator, layer…) or None when ``value`` is not one."""
    return value if isinstance(value, str) and CODE_RE.fullmatch(value) else None


def codes(value: Any, allowed: set[str] | frozenset[str]) -> list[str]:
    """The allowed codes of a posted list, in order, without duplicates; anything else is dropped."""
    if not isinstance(value, list):
        return []
    out: list[str] = []
    for v in value[:MAX_LIST]:
        if isinstance(v, str) and v in allowed and v not in out:
            out.append(v)
    return out


def number(value: Any, lo: float, hi: float) -> float | None:
    """A finite number within [lo, hi] (bools are not numbers) or None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not math.isfinite(value) or not lo <= value <= hi:
        return None
    return float(value)


def text(value: Any, max_len: int = 2048) -> str:
    """A string of at most ``max_len`` characters without NULs or lone surrogates, or ''."""
    if not isinstance(value, str) or len(value) > max_len:
        return ""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return ""
    return "" if "\x00" in value else value


def map_size(value: Any) -> dict[str, int]:
    """The measured map size {w, h, vh} (pixels), each within a sane range; missing parts are left out."""
    if not isinstance(value, dict):
        return {}
    out = {}
    for key in ("w", "h", "vh"):
        n = number(value.get(key), 50, 20000)
        if n is not None:
            out[key] = int(n)
    return out


def map_click(value: Any) -> dict[str, Any] | None:
    """The first point of plotly clickData: {'location': code or None, 'lon', 'lat'} or None."""
    if not isinstance(value, dict) or not isinstance(value.get("points"), list) or not value["points"]:
        return None
    p = value["points"][0]
    if not isinstance(p, dict):
        return None
    return {"location": code(p.get("location")), "lon": number(p.get("lon"), -180, 180), "lat": number(p.get("lat"), -90, 90)}


def output_keys(outputs: list, key: str, allowed: set[str] | frozenset[str]) -> list[str]:
    """The ``key`` of each pattern-matching output id, all of which must be allowed and at most as many
    as there are allowed values: a post naming made-up ids is refused (400), not rendered."""
    if len(outputs) > len(allowed):
        raise BadRequest(f"{len(outputs)} outputs, at most {len(allowed)} expected")
    out = []
    for o in outputs:
        value = o.get("id", {}).get(key) if isinstance(o, dict) and isinstance(o.get("id"), dict) else None
        if not isinstance(value, str) or value not in allowed:  # a made-up id may hold anything, a list too
            raise BadRequest(f"unknown output id {str(value)[:64]!r}")
        out.append(value)
    return out
