"""Callback posts built the way Dash's renderer sends them, for tests that talk to
``/_dash-update-component`` over HTTP like any client (or attacker) on the network could."""

from __future__ import annotations

import json
from typing import Any

import dash

POST_HEADERS = {"Content-Type": "application/json"}


def _outputs(key: str) -> list[str]:
    """The outputs a callback key names ('..a.b...c.d..' for several; '@<hash>' of a duplicate output dropped)."""
    return [o.split("@")[0] for o in key.strip(".").split("...")] if key.startswith("..") else [key.split("@")[0]]


def _key(app: dash.Dash, fragment: str) -> str:
    keys = [k for k in app.callback_map if fragment in k and "callback" in app.callback_map[k]]
    whole = [k for k in keys if fragment in _outputs(k)]
    if len(whole) == 1:  # 'map.figure' is the cockpit map's output, not also a part of 'page-map.figure'
        keys = whole
    if fragment in keys:  # an exact key wins over a duplicate output of another callback ('…@<hash>')
        keys = [fragment]
    assert len(keys) == 1, f"{fragment!r} matches {keys}"
    return keys[0]


def _expand(component_id: Any, prop: str, values: Any, codes: dict[str, list[str]]) -> Any:
    """One entry, or a list of entries for an ALL wildcard id (one per code of its type)."""
    if isinstance(component_id, str) and component_id.startswith("{"):
        component_id = json.loads(component_id)
    if isinstance(component_id, dict):
        wild = next(k for k, v in component_id.items() if not isinstance(v, str | int | float | bool))  # ALL, or ["ALL"]
        fixed = {k: v for k, v in component_id.items() if k != wild}
        items = codes.get(fixed.get("type", ""), [])
        vals = values if isinstance(values, list) else [values] * len(items)
        return [{"id": {**fixed, wild: c}, "property": prop, **({"value": v} if values is not None else {})}
                for c, v in zip(items, vals, strict=False)]
    return {"id": component_id, "property": prop, **({"value": values} if values is not None else {})}


def body(
    app: dash.Dash, output_fragment: str, values: dict[str, Any], codes: dict[str, list[str]] | None = None,
    changed: list[str] | None = None,
) -> dict:
    """The JSON of a post to the callback whose output key contains ``output_fragment``.

    ``values`` maps 'id.property' of each input/state to its value; ``codes`` maps a pattern-matching
    type (e.g. 'kpi-value') to the codes the page has."""
    codes = codes or {}
    key = _key(app, output_fragment)
    entry = app.callback_map[key]
    outs = entry["output"] if isinstance(entry["output"], list) else [entry["output"]]
    outputs = [_expand(o.component_id if not isinstance(o.component_id, dict) else o.component_id, o.component_property, None, codes)
               for o in outs]

    def entries(specs: list[dict]) -> list:
        return [_expand(s["id"], s["property"], values.get(f"{s['id']}.{s['property']}"), codes) for s in specs]

    inputs, state = entries(entry["inputs"]), entries(entry["state"])
    first = inputs[0] if inputs else {}
    return {
        "output": key,
        "outputs": outputs if isinstance(entry["output"], list) else outputs[0],
        "inputs": inputs,
        "state": state,
        "changedPropIds": changed if changed is not None else ([f"{first['id']}.{first['property']}"] if isinstance(first, dict) else []),
    }


def post(client, payload: Any, headers: dict | None = None):  # noqa: ANN001, ANN201
    """POST a callback body (any JSON, also a malformed one) and return the response."""
    return client.post("/_dash-update-component", data=json.dumps(payload), headers=headers or POST_HEADERS)


def pid(**component_id: str) -> str:
    """The key of a pattern-matching id in :func:`response_props`."""
    return json.dumps(component_id, sort_keys=True, separators=(",", ":"))


def response_props(resp) -> dict:  # noqa: ANN001
    """{component id (see :func:`pid` for dict ids): {property: value}} of a callback's 200 answer."""
    data = resp.get_json()["response"]
    return {(pid(**json.loads(k)) if k.startswith("{") else k): v for k, v in data.items()}
