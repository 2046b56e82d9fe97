"""Callbacks that check their caller. Dash callbacks are HTTP endpoints anyone can post to, so every
server-side callback is registered through :func:`callback` with the permission it needs; it checks
that permission itself, and the request guard (``callbacks.security``) refuses a post to any callback
registered another way. Scope needs no check here: ``services.repo`` is already bound to it."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import dash
from flask import g

from datasources.access.roles import require

PERMISSION_ATTR = "ioc_permission"


def callback(app: dash.Dash, permission: str, *dependencies: Any, **kwargs: Any) -> Callable:
    """Like ``app.callback`` but the body runs only for a caller holding ``permission``."""

    def wrap(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def checked(*args: Any) -> Any:
            require(g.get("ioc_principal"), permission)
            return fn(*args)

        setattr(checked, PERMISSION_ATTR, permission)
        app.callback(*dependencies, **kwargs)(checked)
        return fn

    return wrap


def callback_permission(app: dash.Dash, output: str) -> str | None:
    """The permission of the callback that writes ``output`` (None: unknown output or unchecked callback)."""
    entry = app.callback_map.get(output)
    if entry is None or "callback" not in entry:  # unknown, or client-side (never posted by the renderer)
        return None
    return getattr(entry["callback"], PERMISSION_ATTR, None)
