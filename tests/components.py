"""Reading Dash component trees and Patch objects in callback-level tests, as a person reads the screen."""

from __future__ import annotations

import base64
from typing import Any

import numpy as np


def patch_ops(patch: Any) -> dict:
    """A Patch's operations by location, e.g. ('data', 1, 'locations') -> value; a base64 typed array (map
    positions, ``callbacks.map_layers.f4``) is read back as a list of numbers rounded to 4 decimals, the
    precision the server rounds to before float32."""
    return {tuple(op["location"]): typed(op["params"].get("value")) for op in patch.to_plotly_json()["operations"]}


def typed(value: Any) -> Any:
    """A plotly typed-array spec ({"dtype": "f4", "bdata": …}) as a list of numbers; anything else as is."""
    if isinstance(value, dict) and value.get("dtype") == "f4" and "bdata" in value:
        return [round(float(x), 4) for x in np.frombuffer(base64.b64decode(value["bdata"]), dtype="<f4")]
    return value


def texts(component: Any) -> list[str]:
    """Every string child in a component tree, depth first."""
    if isinstance(component, str):
        return [component]
    if isinstance(component, list | tuple):
        return [t for c in component for t in texts(c)]
    children = getattr(component, "children", None)
    return texts(children) if children is not None else []


def by_class(component: Any, cls: str) -> list:
    """Every component in a tree whose className holds ``cls``, depth first."""
    if isinstance(component, list | tuple):
        return [f for c in component for f in by_class(c, cls)]
    found = [component] if cls in (getattr(component, "className", None) or "").split() else []
    children = getattr(component, "children", None)
    if children is not None and not isinstance(children, str):
        found += by_class(children, cls)
    return found
