"""Only changed data travels: a refresh compares each part of a view with what the browser already has
(by a hash kept in a small ``dcc.Store``) and sends ``no_update`` for the parts that did not change; a map
update keeps only the operations of the traces (and the layout) that changed."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import orjson
from dash import Patch, no_update


def _plain(value: Any) -> Any:
    """What orjson cannot write itself: components, Patch and no_update say what they are."""
    if hasattr(value, "to_plotly_json"):
        return value.to_plotly_json()
    raise TypeError(f"cannot hash a {type(value).__name__}")


def part_hash(value: Any, size: int = 8) -> str:
    """A short, stable digest of anything a callback returns (components, figures, lists). orjson writes it
    directly: plotly's JSON encoder first walks every element in Python (a third of a drill's server time),
    which a digest does not need; Dash's own serialisation of the answer is the only full walk left."""
    data = orjson.dumps(value, default=_plain, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS)
    return hashlib.blake2b(data, digest_size=size).hexdigest()


def _group(location: list) -> str:
    """Operations group by trace (``data.3``) or by the layout: the unit that is sent or skipped."""
    return f"data.{location[1]}" if location[0] == "data" else str(location[0])


def patch_delta(patch: Patch, old: Mapping[str, str] | None) -> tuple[Patch | Any, dict[str, str]]:
    """The operations of ``patch`` whose group changed since ``old`` (all when ``old`` is empty), as a new
    Patch, or ``no_update`` when none did; and the hashes of every group."""
    groups: dict[str, list[dict]] = {}
    for op in patch.to_plotly_json()["operations"]:
        groups.setdefault(_group(op["location"]), []).append(op)
    hashes = {g: part_hash(ops) for g, ops in groups.items()}
    keep = [g for g in groups if not old or old.get(g) != hashes[g]]
    if not keep:
        return no_update, hashes
    out = Patch()
    for g in keep:
        for op in groups[g]:
            if op["operation"] != "Assign":  # only assignments are built by the map update
                raise ValueError(f"unexpected patch operation {op['operation']}")
            target = out
            for key in op["location"][:-1]:
                target = target[key]
            target[op["location"][-1]] = op["params"]["value"]
    return out, hashes


def items_delta(values: list, old: list | None) -> tuple[list, list[str]]:
    """``values`` (one per component of an ALL output) with ``no_update`` in place of each item whose hash
    equals ``old``'s item at the same place, and the new hashes: only the cards whose part changed travel."""
    hashes = [part_hash(v, 4) for v in values]  # per card and part: 4 bytes tell one card's texts apart
    same = isinstance(old, list) and len(old) == len(values)
    return [no_update if same and old[i] == h else v for i, (v, h) in enumerate(zip(values, hashes, strict=True))], hashes


def parts_delta(
    parts: Mapping[str, Any], old: Mapping[str, str] | None, wildcard: frozenset[str] = frozenset()
) -> tuple[dict[str, Any], dict[str, str]]:
    """``parts`` with ``no_update`` in place of each part whose hash equals ``old``'s, and the new hashes.
    Parts named in ``wildcard`` feed an ALL output: Dash wants one ``no_update`` per matched component."""
    hashes = {k: part_hash(v) for k, v in parts.items()}
    out = {}
    for k, v in parts.items():
        if old and old.get(k) == hashes[k]:
            out[k] = [no_update] * len(v) if k in wildcard else no_update
        else:
            out[k] = v
    return out, hashes
