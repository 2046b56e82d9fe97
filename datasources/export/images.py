"""A panel's figure as PNG or SVG, rendered on the server by kaleido 1.x with Debian's chromium.

One browser stays alive per worker process (``kaleido.start_sync_server``) instead of one per image
(a cold start costs seconds); MathJax is off (its default is a CDN) and plotly.js comes from the
installed plotly package, so rendering makes no outside request. kaleido's sync server answers one
caller at a time through shared queues, so calls are serialised with a lock.

The image carries what a reader needs away from the screen: title, area(s), filters, data as-of time."""

from __future__ import annotations

import html
import os
import shutil
import threading
from collections.abc import Sequence

import plotly.graph_objects as go

FORMATS = ("png", "svg")
FONT_FAMILY = "Noto Sans CJK SC, Microsoft YaHei, PingFang SC, Source Han Sans SC, sans-serif"
WIDTH, HEIGHT = 1200, 700
_LINE_PX = 17

_lock = threading.Lock()
_started = False


class ImageError(RuntimeError):
    """The figure could not be rendered (no browser, or the browser failed)."""


def _ensure_server() -> None:
    """Start this process's kaleido browser once (Debian's chromium; never a downloaded one)."""
    global _started
    if _started:
        return
    import kaleido

    chromium = os.environ.get("BROWSER_PATH") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        raise ImageError("no chromium on PATH or BROWSER_PATH: install Debian's chromium package")
    os.environ.setdefault("BROWSER_PATH", chromium)
    kaleido.start_sync_server(n=1, mathjax=False, timeout=120, silence_warnings=True)
    _started = True


def captioned(fig: go.Figure, title: str, lines: Sequence[str]) -> go.Figure:
    """A copy of ``fig`` with ``title`` in bold and ``lines`` (area, filters, data time) under it, and a
    font that shows Chinese."""
    out = go.Figure(fig)
    legend = out.layout.legend
    # A horizontal legend above the plot (the panels' style) keeps its place: the caption goes above it.
    above = 26 if legend.orientation == "h" and (legend.y is None or legend.y >= 1) and out.layout.showlegend is not False else 0
    if above:
        out.update_layout(legend={"y": 1, "yanchor": "bottom", "yref": "paper", "x": 0, "xanchor": "left"})
    top = 56 + _LINE_PX * len(lines) + 14 + above
    out.update_layout(
        title={"text": f"<b>{html.escape(title)}</b>", "x": 0.01, "xanchor": "left", "y": 1, "yanchor": "top",
               "yref": "container", "pad": {"t": 14}, "font": {"size": 18}},
        font={"family": FONT_FAMILY},
        margin={"t": top, "r": max(60, out.layout.margin.r or 0)},  # room for slanted last tick labels
        paper_bgcolor="white",
    )
    if lines:
        # Under the title, above the plot: one left-aligned block (a multi-line title is placed badly).
        out.add_annotation(
            text="<br>".join(html.escape(line) for line in lines), xref="paper", yref="paper", x=0, y=1,
            xanchor="left", yanchor="bottom", yshift=10 + above, align="left", showarrow=False, font={"size": 12, "color": "#333"},
        )
    return out


def render(fig: go.Figure, fmt: str, width: int = WIDTH, height: int | None = None) -> bytes:
    """The figure as PNG or SVG bytes."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}")
    import kaleido

    extra = sum((a.text or "").count("<br>") + 1 for a in fig.layout.annotations or () if a.yref == "paper" and a.y == 1)
    opts = {"format": fmt, "width": width, "height": height or HEIGHT + _LINE_PX * extra, "scale": 1}
    with _lock:
        _ensure_server()
        try:
            return kaleido.calc_fig_sync(fig.to_plotly_json(), opts=opts)
        except Exception as exc:  # noqa: BLE001 - kaleido raises its own and the browser's errors
            raise ImageError(f"rendering failed: {exc.__class__.__name__}: {exc}") from exc
