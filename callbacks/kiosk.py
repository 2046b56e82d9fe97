"""Kiosk mode for the video wall (``?kiosk=1`` on any page).

The server's part is small: it reads the playlist once at start (``datasources/kiosk_playlist.py``), and a
wall asks it, every refresh interval, for its *feed*: the playlist resolved for the caller's scope (the
``@attention:N`` entry becomes the N areas that need attention most now) and the newest open grade I/II
alert. The feed is recomputed only when the data version changed. Everything else -- when to show the
next step, jumping to a new severe alert and holding on it, the "reconnecting" badge and the reload once
the server answers again -- runs in the browser (``assets/kiosk.js``), so the wall keeps going with no
round trip per step and survives the server being away.
"""

from __future__ import annotations

import logging
from urllib.parse import parse_qs

import dash
from dash import ClientsideFunction, Input, Output, State, no_update

from callbacks import access, inputs
from callbacks.auth import StartupError
from callbacks.outages import DATABASE_OUTAGE
from callbacks.services import Services
from callbacks.state import ViewState, parse_search, to_search
from datasources.access.roles import VIEW
from datasources.catalog_loader import CatalogError
from datasources.kiosk_playlist import PlaylistEntry, PlaylistRefs, default_playlist_path, load_playlist
from datasources.models import to_epoch
from datasources.repository import ScopeError
from layouts import ids
from layouts.i18n import pick, t

log = logging.getLogger("ioc.kiosk")

GRADES = {1: "Ⅰ", 2: "Ⅱ", 3: "Ⅲ", 4: "Ⅳ"}
#: The page a severe alert is shown on: the cockpit, on the alert's area.
ALERT_PAGE = "/"


def kiosk_requested(search: str | None) -> bool:
    """True when a URL query asks for kiosk mode (``kiosk=1``; the last value counts)."""
    try:
        values = parse_qs(inputs.text(search).lstrip("?"), max_num_fields=64).get("kiosk") or [""]
    except ValueError:
        return False
    return values[-1] in ("1", "true")


def wall_search(area: str, indicator: str, lang: str) -> str:
    """The query of a wall's step: the view (area, indicator, language) and the kiosk flag, so the flag
    stays in the URL through every step."""
    view = to_search(ViewState(area=area, indicator=indicator, lang=lang))
    return view + ("&" if view != "?" else "") + "kiosk=1"


def load_wall_playlist(services: Services) -> tuple[PlaylistEntry, ...]:
    """The configured playlist (``kiosk_playlist``), checked against the catalog and the regions in the
    database: a bad one stops the start with a message naming file, line and field. The shipped default
    is checked too, but an entry naming a page this database's catalog lacks is only left out (logged)."""
    configured = services.config.kiosk_playlist
    repo = services.base_repo
    try:
        pages = repo.pages()
        refs = PlaylistRefs(themes={p["id"] for p in pages if p["kind"] == "theme"},
                            topics={p["id"] for p in pages if p["kind"] == "topic"},
                            indicators={i["code"] for i in repo.indicators()})
    except DATABASE_OUTAGE:  # checked against the catalog when the wall asks for it
        refs = None
    try:
        entries = load_playlist(configured or default_playlist_path(), refs if configured else None)
    except CatalogError as exc:
        raise StartupError(f"kiosk playlist rejected: {exc}") from None
    if not configured and refs is not None:
        kept = tuple(e for e in entries if _known_page(e, refs) and (not e.indicator or e.indicator in refs.indicators))
        if len(kept) < len(entries):
            log.warning("kiosk playlist: %d default entries name pages or indicators this catalog lacks; left out",
                        len(entries) - len(kept))
        entries = kept
    for e in entries:
        if e.area:
            try:
                repo.check_scope(e.area)
            except ScopeError:
                name = (configured and configured.rsplit("/", 1)[-1]) or default_playlist_path().name
                raise StartupError(f"kiosk playlist rejected: {name} line {e.line}, field 'area': unknown region {e.area!r}") from None
            except DATABASE_OUTAGE:
                break
    return entries


def _known_page(entry: PlaylistEntry, refs: PlaylistRefs) -> bool:
    kind, _, page_id = entry.path.strip("/").partition("/")
    return not page_id or page_id in (refs.themes if kind == "theme" else refs.topics)


def attention_areas(services: Services, area: str, n: int) -> list[str]:
    """The ``n`` areas one level below ``area`` that need attention most now: open alerts weighted by grade
    (``Repository.attention_ranking``). The one place to switch to the composite score."""
    return [r["code"] for r in services.cached("attention_ranking", area, n)]


def worst_scoring_areas(services: Services, area: str, n: int) -> list[str]:
    """The ``n`` areas one level below ``area`` with the lowest overall composite score at the newest
    period (docs/SCORES.md); areas without a score are left out."""
    periods = services.cached("periods")
    if not periods or not services.cached("region", area)["n_children"]:
        return []
    rows = [r for r in services.cached("child_scores", area, periods[0]) if r["scores"].get("overall") is not None]
    rows.sort(key=lambda r: (r["scores"]["overall"], r["code"]))
    return [r["code"] for r in rows[:n]]


def playlist_steps(services: Services, entries: tuple[PlaylistEntry, ...], lang: str) -> list[dict]:
    """The playlist as the caller's wall plays it: ``{path, search, dwell}`` (dwell in ms) per step. Areas
    outside the caller's scope are left out; an ``@attention`` or ``@worst`` entry gives one step per area it ranks."""
    root = services.repo.root_code()
    steps = []
    for e in entries:
        if e.attention:
            rank = worst_scoring_areas if e.ranking == "worst" else attention_areas
            areas = rank(services, root, e.attention)
        elif e.area:
            areas = [e.area] if _in_scope(services, e.area) else []
        else:
            areas = [""]
        steps += [{"path": e.path, "search": wall_search(a, e.indicator, lang), "dwell": e.dwell_s * 1000} for a in areas]
    return steps


def _in_scope(services: Services, area: str) -> bool:
    try:
        services.repo.check_scope(area)
        return True
    except ScopeError:
        return False


def severe_alert(services: Services, lang: str) -> dict | None:
    """The newest open grade I/II alert the caller may see, as the wall needs it: ``key`` (start in epoch
    seconds, id: what "newer" compares), where to show it and its text; None when there is none."""
    alert = services.cached("newest_severe_alert", services.repo.root_code())
    if not alert:
        return None
    area = pick(lang, alert["region_name"], alert["region_name_en"] or "")
    text = t("kiosk.alert", lang, grade=GRADES.get(alert["severity"], str(alert["severity"])), area=area,
             message=alert["message"] or "")
    return {"key": [to_epoch(alert["started_at"]), int(alert["id"])], "path": ALERT_PAGE,
            "search": wall_search(alert["region_code"], "", lang), "text": text}


def wall_feed(services: Services, entries: tuple[PlaylistEntry, ...], lang: str) -> dict:
    """Everything the wall's browser side plays from (see ``assets/kiosk.js``)."""
    return {
        "version": services.data_version(),
        "lang": lang,
        "steps": playlist_steps(services, entries, lang),
        "severe": severe_alert(services, lang),
        "hold_ms": services.config.kiosk_hold_seconds * 1000,
        "labels": {"rotation": t("kiosk.rotation", lang), "holding": t("kiosk.holding", lang)},
    }


def feed_update(services: Services, entries: tuple[PlaylistEntry, ...], current: object, search: str | None) -> dict | object:
    """The wall's poll: a new feed when the data version or the language changed since ``current``, else
    ``no_update`` -- cheap and idempotent (dcc.Interval may fire twice): one read of the data version."""
    lang = parse_search(search).lang
    if isinstance(current, dict) and current.get("version") == services.data_version() and current.get("lang") == lang:
        return no_update
    return wall_feed(services, entries, lang)


def register(app: dash.Dash, services: Services) -> tuple[PlaylistEntry, ...]:
    """Read the playlist (a bad one stops the start) and wire the wall's callbacks; returns the playlist.
    Every callback reads and writes only the wall's own parts: on a page without ``?kiosk=1`` none fires."""
    entries = load_wall_playlist(services)

    def feed(_n, current, search):  # noqa: ANN001, ANN202
        return feed_update(services, entries, current, search)

    access.callback(app, VIEW, Output(ids.KIOSK_FEED, "data"),
                    Input(ids.KIOSK_POLL, "n_intervals"), State(ids.KIOSK_FEED, "data"), State(ids.URL, "search"))(feed)

    app.clientside_callback(
        ClientsideFunction("kiosk", "rotate"),
        Output(ids.KIOSK_URL, "href"), Output(ids.KIOSK_STATE, "data"), Output(ids.KIOSK_STATUS, "children"),
        Output(ids.KIOSK_ALERT, "children"), Output(ids.KIOSK_ALERT, "hidden"),
        Input(ids.KIOSK_TICK, "n_intervals"), Input(ids.KIOSK_FEED, "data"),
        State(ids.KIOSK_STATE, "data"), State(ids.URL, "pathname"), State(ids.URL, "search"),
        State(ids.KIOSK_STATUS, "children"), State(ids.KIOSK_ALERT, "hidden"), State(ids.KIOSK_LINK, "data"),
        prevent_initial_call=True,
    )
    app.clientside_callback(
        ClientsideFunction("kiosk", "health"),
        Output(ids.KIOSK_LINK, "data"),
        Input(ids.KIOSK_HEALTH_TICK, "n_intervals"), State(ids.KIOSK_LINK, "data"),
        prevent_initial_call=True,
    )
    app.clientside_callback(
        "function(link) { return !(link && link.lost); }",
        Output(ids.KIOSK_BADGE, "hidden"), Input(ids.KIOSK_LINK, "data"),
    )
    return entries
