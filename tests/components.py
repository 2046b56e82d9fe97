"""Reading Dash component trees and Patch objects in callback-level tests, as a person reads the screen."""

from __future__ import annotations

from typing import Any


def patch_ops(patch: Any) -> dict:
    """A Patch's operations by location, e.g. ('data', 1, 'locations') -> value."""
    return {tuple(op["location"]): op["params"].get("value") for op in patch.to_plotly_json()["operations"]}


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
