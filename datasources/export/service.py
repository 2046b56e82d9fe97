"""Export use cases, free of Flask: read the filters of a view, check them against the caller's scope,
write one panel's rows (CSV/XLSX) or figure (PNG/SVG), or the whole view as a ZIP with its manifest.

Scope is enforced twice: every area named in the filters must lie in the caller's subtree (else
``ScopeError``, which the routes answer with 404), and every panel's ``select(scope, filters)`` filters
by the caller's scope in SQL, so an export never holds a row from outside it."""

from __future__ import annotations

import json
import tempfile
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Protocol
from urllib.parse import urlencode

import pandas as pd
from sqlalchemy import Select, text

from datasources.analysis.filters import AnalysisFilters, FilterCatalog
from datasources.export import images, rows, tabular
from datasources.export.sinks import CsvSink, XlsxSink
from datasources.repository import ScopedRepository

TABLE_FORMATS = ("csv", "xlsx")
IMAGE_FORMATS = images.FORMATS
FORMATS = TABLE_FORMATS + IMAGE_FORMATS
#: A figure is drawn from at most this many rows (charts are aggregates; a records table has no figure).
FIGURE_MAX_ROWS = 50_000

Progress = Callable[[int], None]


class PanelLike(Protocol):
    """What exports need of a panel (``datasources.analysis.panels.Panel`` has it)."""

    id: str
    title_zh: str
    title_en: str
    columns: Sequence[tabular.ColumnLike]

    def select(self, scope: str | None, filters: AnalysisFilters) -> Select: ...

    figure: Callable[[pd.DataFrame, AnalysisFilters, str], Any] | None


class NoFigure(LookupError):
    """The panel has no chart to export as an image (a records table)."""


@dataclass(frozen=True)
class ExportView:
    """One caller's view, ready to export: the filters as chosen and as resolved (open period filled in),
    the caller, the language and the facts printed on every file."""

    repo: ScopedRepository
    username: str
    lang: str
    filters: AnalysisFilters  # as the URL gave them (normalised): what the manifest records
    resolved: AnalysisFilters  # with the open period filled in: what the panels query
    names: Mapping[str, str] = field(default_factory=dict)  # codes -> display names
    exported_at: datetime = field(default_factory=lambda: datetime.now().replace(microsecond=0))
    drill: Mapping[str, str] | None = None  # what a click on a chart drilled the records table into
    drilled: AnalysisFilters | None = None  # the filters of that records table (checked like the URL's)

    @property
    def engine(self):  # noqa: ANN201
        return self.repo.unscoped.engine

    @property
    def scope(self) -> str | None:
        return self.repo.scope

    def title(self, panel: PanelLike) -> str:
        return panel.title_en if self.lang == "en" else panel.title_zh

    def areas(self) -> list[str]:
        """The areas of the view (the caller's top area when the filters name none)."""
        return list(self.filters.areas) or [self.repo.root_code()]


def open_view(repo: ScopedRepository, username: str, query: Mapping[str, Any], lang: str = "zh",
              drill: Mapping[str, Any] | None = None) -> ExportView:
    """The view named by a URL query (and the page's drill, if any), for a caller bound to ``repo``'s
    scope. Raises ``FilterError`` naming a bad parameter, ``ScopeError`` for an area that is unknown or
    outside the caller's scope."""
    catalog = FilterCatalog.from_repo(repo)
    filters = AnalysisFilters.from_query(query, catalog)
    for area in filters.areas:
        repo.check_scope(area)  # the caller's scope: ScopeError outside it
    resolved = repo.resolve_filters(filters)
    drill = clean_drill(drill)
    drilled = None
    if drill:
        drilled = AnalysisFilters.from_query(drill_query(query, drill), catalog)
        for area in drilled.areas:
            repo.check_scope(area)
    return ExportView(repo, username, lang, filters, resolved, _names(repo, filters, lang), drill=drill, drilled=drilled)


#: What the analyst page's drill may hold (``callbacks.analyst.drill_of``).
DRILL_KEYS = ("records", "area", "category", "month")


def clean_drill(drill: Any) -> dict[str, str] | None:
    """The drill store of the page, reduced to its known keys and short strings (it comes from the browser)."""
    if not isinstance(drill, Mapping) or drill.get("records") not in ("events", "values"):
        return None
    return {k: str(drill[k])[:64] for k in DRILL_KEYS if isinstance(drill.get(k), str) and drill[k]}


def drill_query(query: Mapping[str, Any], drill: Mapping[str, str]) -> dict[str, Any]:
    """The URL query narrowed by a drill, the way the records table narrows its filters: one area, one
    category (any source), one month (its whole bucket at a coarser granularity)."""
    q = {k: v for k, v in query.items()}
    if drill.get("area"):
        q["areas"] = drill["area"]
    if drill.get("category"):
        q["cat"] = drill["category"]
        q.pop("src", None)
    if drill.get("month"):
        q["from"] = q["to"] = drill["month"][:7]
    return q


def _names(repo: ScopedRepository, filters: AnalysisFilters, lang: str) -> dict[str, str]:
    """Display names of the codes the filters mention (areas, indicators, theme, categories)."""
    from datasources.catalog_loader import event_categories

    en = lang == "en"
    names = {}
    for code in filters.areas:
        r = repo.region(code)
        names[code] = (r["name_en"] or r["name"]) if en else r["name"]
    for i in repo.indicators():
        if i["code"] in filters.indicators:
            names[i["code"]] = i["name_en"] if en else i["name_zh"]
    for p in repo.pages():
        if p["id"] == filters.theme:
            names[p["id"]] = p["name_en"] if en else p["name_zh"]
    for c in event_categories().values():
        if c.category in filters.categories:
            names[c.category] = c.name_en if en else c.name_zh
    return names


# ---------------------------------------------------------------------------------------------- tables
def head(view: ExportView, panel: PanelLike) -> list[str]:
    """The panel's header row in the view's language (name and unit)."""
    return tabular.headers(panel.columns, view.lang)


def panel_query(view: ExportView, panel: PanelLike) -> Select:
    """The panel's query: filtered by the view (for the records table a chart click drilled into, by the
    drilled filters, as the page shows it) and the caller's scope, deterministically ordered."""
    if view.drilled is not None and view.drill and view.drill.get("records") == panel.id:
        return view.repo.panel_query(panel.id, view.drilled)
    return view.repo.panel_query(panel.id, view.filters)


def count(view: ExportView, panel: PanelLike) -> int:
    """Rows the panel's export will hold."""
    return rows.count_rows(view.engine, panel_query(view, panel))


def write_table(view: ExportView, panel: PanelLike, sinks: Sequence[CsvSink | XlsxSink], progress: Progress | None = None) -> int:
    """Stream the panel's rows once into every sink; returns the number of rows."""
    n = 0
    for row in rows.stream_rows(view.engine, panel_query(view, panel), progress=progress):
        for sink in sinks:
            sink.write(row)
        n += 1
    for sink in sinks:
        sink.close()
    return n


def csv_chunks(view: ExportView, panel: PanelLike):  # noqa: ANN201 - Iterator[bytes]
    """The panel's CSV as chunks of bytes, for a streamed response."""
    return tabular.csv_chunks(head(view, panel), rows.stream_rows(view.engine, panel_query(view, panel)))


def write_panel_file(view: ExportView, panel: PanelLike, fmt: str, out: IO[bytes] | str, progress: Progress | None = None) -> int:
    """Write the panel's rows as ``fmt`` (csv or xlsx) to ``out``; returns the number of rows."""
    h = head(view, panel)
    if fmt == "csv":
        if isinstance(out, str):
            with open(out, "wb") as f:
                return write_table(view, panel, [CsvSink(f, h)], progress)
        return write_table(view, panel, [CsvSink(out, h)], progress)
    if fmt == "xlsx":
        return write_table(view, panel, [XlsxSink(out, h, view.title(panel))], progress)
    raise ValueError(f"not a table format: {fmt}")


# ---------------------------------------------------------------------------------------------- images
def caption(view: ExportView, panel: PanelLike) -> tuple[str, list[str]]:
    """Title and caption lines printed on a panel's image: area(s), filters, data as-of time."""
    en = view.lang == "en"
    sep = ", " if en else "、"
    area_names = sep.join(view.names.get(a) or _area_name(view, a) for a in view.areas())
    title = f"{view.title(panel)} — {area_names}"
    pairs = view.filters.describe(view.lang, view.names)
    resolved_period = dict(view.resolved.describe(view.lang, view.names))
    pairs = [(k, resolved_period[k] if i == 1 else v) for i, (k, v) in enumerate(pairs)]  # the period as queried
    lines = _wrap([f"{k}: {v}" for k, v in pairs], 150)
    as_of = view.repo.data_as_of()
    lines.append(("Data as of " if en else "数据截至 ") + (f"{as_of:%Y-%m-%d %H:%M}" if as_of else "—")
                 + (f" · exported by {view.username} at " if en else f" · {view.username} 导出于 ")
                 + f"{view.exported_at:%Y-%m-%d %H:%M}")
    return title, lines


def _wrap(parts: list[str], width: int) -> list[str]:
    """Join caption parts with ' · ' into lines of at most ``width`` display cells."""
    lines, cur = [], ""
    for p in parts:
        cand = f"{cur} · {p}" if cur else p
        if cur and tabular.display_width(cand) > width:
            lines.append(cur)
            cand = p
        cur = cand
    if cur:
        lines.append(cur)
    return lines


def _area_name(view: ExportView, code: str) -> str:
    r = view.repo.region(code)
    return (r["name_en"] or r["name"]) if view.lang == "en" else r["name"]


def frame(view: ExportView, panel: PanelLike) -> pd.DataFrame:
    """The panel's rows as a DataFrame with the column keys (for its figure; at most FIGURE_MAX_ROWS)."""
    data = list(rows.stream_rows(view.engine, panel_query(view, panel).limit(FIGURE_MAX_ROWS)))
    return pd.DataFrame(data, columns=[c.key for c in panel.columns])


def panel_image(view: ExportView, panel: PanelLike, fmt: str, df: pd.DataFrame | None = None) -> bytes:
    """The panel's figure as PNG or SVG with title, areas, filters and data time printed on it.
    Raises ``NoFigure`` for a panel without a chart."""
    if panel.figure is None:
        raise NoFigure(panel.id)
    df = frame(view, panel) if df is None else df
    fig = panel.figure(df, view.resolved, view.lang)
    title, lines = caption(view, panel)
    return images.render(images.captioned(fig, title, lines), fmt)


# ---------------------------------------------------------------------------------------------- manifest
def indicator_definitions(view: ExportView, panels: Sequence[PanelLike] = ()) -> list[dict]:
    """Catalog definitions (and derivation rules) of the indicators the view involves: the chosen ones,
    else the theme's, else the headline ones (what the panels show)."""
    codes = list(view.resolved.indicators)
    with view.engine.connect() as conn:
        if not codes:  # the panels' own fallback: the theme's indicators, else the headline ones
            where, args = ("theme = :t", {"t": view.resolved.theme}) if view.resolved.theme else ("headline = :h", {"h": True})
            codes = list(conn.execute(text(f"SELECT code FROM indicators WHERE {where} ORDER BY code"), args).scalars())
        if not codes:
            return []
        defs = {r["code"]: dict(r) for r in conn.execute(text(
            "SELECT i.code, i.name_zh, i.name_en, i.theme, i.unit, i.unit_en, i.aggregation, i.polarity, i.warn, "
            "i.alarm, i.department, i.frequency, i.description, r.measure AS rule_measure, r.sources AS rule_sources, "
            "r.categories AS rule_categories, r.facility_kind AS rule_facility_kind, r.attribute AS rule_attribute "
            "FROM indicators i LEFT JOIN indicator_rules r ON r.indicator_code = i.code"
        )).mappings() if r["code"] in codes}
    return [defs[c] for c in codes if c in defs]


def drill_path(view: ExportView) -> list[list[dict]]:
    """For each area of the view, the path from the caller's top area down to it (the breadcrumb)."""
    return [[{"code": a["code"], "name": a["name"], "name_en": a["name_en"], "level": a["level"]}
             for a in view.repo.ancestors(code)] for code in view.areas()]


def manifest(view: ExportView, panels: Sequence[dict]) -> dict:
    """What the ZIP holds and how it was made: the filters exactly (``filters`` parses back with
    ``AnalysisFilters.from_query``), drill path, indicator definitions, data time and version, who and when."""
    as_of = view.repo.data_as_of()
    return {
        "filters": view.filters.to_query(),
        "filters_query": urlencode(view.filters.to_query()),
        "filters_resolved": view.resolved.to_query(),
        "filters_readable": [[k, v] for k, v in view.filters.describe(view.lang, view.names)],
        "drill_path": drill_path(view),
        "drill": dict(view.drill) if view.drill else None,
        "drill_filters": view.drilled.to_query() if view.drilled is not None else None,
        "indicators": indicator_definitions(view),
        "data_as_of": as_of.isoformat(sep=" ") if as_of else None,
        "data_version": view.repo.data_version(),
        "exported_by": view.username,
        "scope": view.scope,
        "exported_at": view.exported_at.isoformat(sep=" "),
        "lang": view.lang,
        "panels": list(panels),
    }


def manifest_text(m: dict) -> str:
    """The manifest for people (``manifest.txt`` in the ZIP), in the export's language."""
    en = m["lang"] == "en"
    out = ["Export of the analyst view" if en else "分析视图导出说明", ""]
    out.append(("Exported by: " if en else "导出人：") + m["exported_by"])
    out.append(("Exported at: " if en else "导出时间：") + m["exported_at"])
    out.append(("Data as of: " if en else "数据截至：") + str(m["data_as_of"] or "—"))
    out.append(("Data version: " if en else "数据版本：") + str(m["data_version"]))
    out += ["", "Filters" if en else "筛选条件"]
    out += [f"  {k}: {v}" for k, v in m["filters_readable"]]
    out.append(("  URL query: ?" if en else "  URL 参数：?") + m["filters_query"])
    out += ["", "Drill path" if en else "下钻路径"]
    out += ["  " + " › ".join((a["name_en"] or a["name"]) if en else a["name"] for a in path) for path in m["drill_path"]]
    if m["drill"]:
        out.append(("  Records table drilled into: " if en else "  明细表下钻：")
                   + ", ".join(f"{k}={v}" for k, v in m["drill"].items()) + f" (?{urlencode(m['drill_filters'])})")
    if m["indicators"]:
        out += ["", "Indicators" if en else "指标定义"]
        for i in m["indicators"]:
            name = i["name_en"] if en else i["name_zh"]
            unit = i["unit_en"] if en else i["unit"]
            out.append(f"  {i['code']} {name} ({unit or '-'}), {i['aggregation']}, {i['frequency']}, {i['department']}")
            if i["description"]:
                out.append(f"    {i['description']}")
            if i["rule_measure"]:
                out.append(f"    rule: {i['rule_measure']} {i['rule_sources'] or ''} {i['rule_categories'] or ''}".rstrip())
    out += ["", "Files" if en else "文件"]
    for p in m["panels"]:
        out.append(f"  {p['title']}: {', '.join(p['files'])} ({p['rows']} {'rows' if en else '行'})")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------------------------- the ZIP
def bundle_total(view: ExportView, panels: Sequence[PanelLike]) -> int:
    """Rows the ZIP will hold (each row is written once to the panel's CSV and XLSX together)."""
    return sum(count(view, p) for p in panels)


def write_bundle(view: ExportView, panels: Sequence[PanelLike], path: str | Path, progress: Progress | None = None,
                 with_images: bool = True) -> int:
    """Write "export what I see": per panel its CSV, XLSX and (for charts) PNG and SVG, plus
    ``manifest.json`` and ``manifest.txt``. Rows stream through; returns the rows written."""
    path = Path(path)
    done = 0
    described = []
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as zf:
        for k, panel in enumerate(panels, start=1):
            stem = f"{k:02d}-{panel.id}"
            files = [f"{stem}.csv", f"{stem}.xlsx"]
            base = done

            def step(n: int, base: int = base) -> None:
                if progress is not None:
                    progress(base + n)

            with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".xlsx", delete=False) as tmp:
                xlsx_path = tmp.name
            try:
                with zf.open(f"{stem}.csv", "w", force_zip64=True) as csv_out:
                    h = head(view, panel)
                    n = write_table(view, panel, [CsvSink(csv_out, h), XlsxSink(xlsx_path, h, view.title(panel))], step)
                zf.write(xlsx_path, f"{stem}.xlsx")
            finally:
                Path(xlsx_path).unlink(missing_ok=True)
            done += n
            if with_images:
                try:
                    df = frame(view, panel)
                    for fmt in IMAGE_FORMATS:
                        zf.writestr(f"{stem}.{fmt}", panel_image(view, panel, fmt, df))
                        files.append(f"{stem}.{fmt}")
                except NoFigure:
                    pass
            described.append({"id": panel.id, "title": view.title(panel), "rows": n, "files": files,
                              "columns": [{"key": c.key, "header": tabular.header(c, view.lang)} for c in panel.columns]})
        m = manifest(view, described)
        zf.writestr("manifest.json", json.dumps(m, ensure_ascii=False, indent=2, default=str))
        zf.writestr("manifest.txt", manifest_text(m))
    return done
