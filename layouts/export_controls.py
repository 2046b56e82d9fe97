"""The export controls of one analyst panel: CSV / XLSX / PNG / SVG and "export what I see", with a
progress bar for the exports that run as jobs.

PNG and SVG are plain links (``/export/panel/<panel>.<fmt>`` plus the page's URL query, kept current
by a client-side callback); CSV, XLSX and the ZIP start an export job on the server whose progress the
bar shows, and the finished file downloads by itself. Place ``export_controls(panel_id, lang)`` inside
the panel; its callbacks (``callbacks/export_controls.py``) match on the panel id."""

from __future__ import annotations

from dash import dcc, html
from dash.development.base_component import Component

from layouts import ids
from layouts.i18n import t

JOB_KINDS = ("csv", "xlsx")
LINK_FORMATS = ("png", "svg")
POLL_MS = 700


def export_controls(panel_id: str, lang: str = "zh") -> Component:
    """Buttons of one panel (PNG/SVG only when the panel has a chart), a progress bar and the status line."""
    from datasources.analysis.panels import PANELS

    chart = panel_id not in PANELS or PANELS[panel_id].figure is not None

    def button(kind: str, label: str) -> html.Button:
        return html.Button(label, id={"type": ids.EXPORT_START, "panel": panel_id, "kind": kind}, n_clicks=0,
                           className="export-btn", title=t(f"export.tip.{kind}", lang))

    links = [
        html.A(t(f"export.fmt.{fmt}", lang), id={"type": ids.EXPORT_LINK, "panel": panel_id, "fmt": fmt},
               href=f"/export/panel/{panel_id}.{fmt}", download="", className="export-btn", title=t(f"export.tip.{fmt}", lang))
        for fmt in LINK_FORMATS
    ] if chart else []
    return html.Div(
        className="export-controls",
        **{"data-panel": panel_id},
        children=[
            html.Span(t("export.controls", lang), className="export-label"),
            *(button(kind, t(f"export.fmt.{kind}", lang)) for kind in JOB_KINDS),
            *links,
            button("zip", t("export.all", lang)),
            html.Progress(id={"type": ids.EXPORT_PROGRESS, "panel": panel_id}, max="1", value="0",
                          className="export-progress", hidden=True),
            html.Span(id={"type": ids.EXPORT_STATUS, "panel": panel_id}, className="export-status", role="status"),
            html.A(t("export.download", lang), id={"type": ids.EXPORT_FILE, "panel": panel_id}, href="", download="",
                   className="export-file", hidden=True),
            dcc.Store(id={"type": ids.EXPORT_JOB, "panel": panel_id}),
            dcc.Store(id={"type": ids.EXPORT_CLICKED, "panel": panel_id}),
            dcc.Interval(id={"type": ids.EXPORT_POLL, "panel": panel_id}, interval=POLL_MS, disabled=True),
        ],
    )
