"""The video wall's playlist (``kiosk_playlist.csv``): which pages and areas the wall shows in turn, and for
how long.

Columns (UTF-8, comma separated, this header in this order)::

    order,path,area,indicator,dwell_s

- ``order``: an integer, unique; the wall shows the entries in ascending order, then starts again.
- ``path``: the page: ``/`` (cockpit), ``/console``, ``/theme/<theme id>`` or ``/topic/<topic id>`` (ids from
  ``pages.csv``).
- ``area``: a region code, empty for the wall's top area, ``@attention:N`` -- the N areas one level
  below the top that need attention most now (``callbacks.kiosk.attention_areas``: open alerts weighted by
  grade) -- or ``@worst:N`` -- the N areas one level below the top with the lowest overall score
  (``callbacks.kiosk.worst_scoring_areas``, docs/SCORES.md); one step each.
- ``indicator``: an indicator code from ``indicators.csv`` (the map colours by it), or empty.
- ``dwell_s``: seconds on the entry (on each area of an ``@attention`` / ``@worst`` entry), 1 .. 86400.

Every problem raises :class:`~datasources.catalog_loader.CatalogError` naming the file, the line (header =
line 1) and the field. Region codes are checked against the caller's scope when the playlist is played.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from datasources.catalog_loader import CATALOG_DIR, CatalogError

PLAYLIST_FILE = "kiosk_playlist.csv"
COLUMNS = ("order", "path", "area", "indicator", "dwell_s")
MAX_DWELL_S = 86_400
MAX_ATTENTION = 50
_DYNAMIC = re.compile(r"@(attention|worst):(\d+)")
_CODE = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
_PAGE_PATH = re.compile(r"/(theme|topic)/([a-z][a-z0-9_]*)")
_PLAIN_PATHS = frozenset({"/", "/console"})


@dataclass(frozen=True)
class PlaylistEntry:
    """One line of the playlist. ``attention`` > 0: the entry stands for that many areas, ranked live by
    ``ranking`` (``attention``: open alerts by grade; ``worst``: the lowest overall score)."""

    order: int
    path: str
    area: str
    indicator: str
    dwell_s: int
    attention: int = 0
    line: int = 0  # where it is written (errors found later, such as an unknown region, name it)
    ranking: str = "attention"


@dataclass(frozen=True)
class PlaylistRefs:
    """What the playlist may name: theme and topic page ids and indicator codes (from the loaded catalog)."""

    themes: Collection[str]
    topics: Collection[str]
    indicators: Collection[str]


def default_playlist_path() -> Path:
    """The shipped playlist."""
    return CATALOG_DIR / PLAYLIST_FILE


def load_playlist(path: str | Path | None = None, refs: PlaylistRefs | None = None) -> tuple[PlaylistEntry, ...]:
    """Read and validate the playlist at ``path`` (default: the shipped one), sorted by ``order``. With
    ``refs`` the page ids and indicator codes must exist in the catalog. Raises CatalogError."""
    file = Path(path) if path else default_playlist_path()
    name = file.name
    if not file.is_file():
        raise CatalogError(name, None, None, f"file not found: {file}")
    entries: list[PlaylistEntry] = []
    orders: dict[int, int] = {}
    with file.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        header = [c.strip() for c in next(reader, [])]
        if header != list(COLUMNS):
            missing = [c for c in COLUMNS if c not in header]
            field = missing[0] if missing else next((h for h, c in zip(header, COLUMNS, strict=False) if h != c), None)
            raise CatalogError(name, 1, field, f"the header must be exactly: {','.join(COLUMNS)}")
        line = 1
        for cells in reader:
            line = reader.line_num
            if not any(c.strip() for c in cells):
                continue
            if len(cells) != len(COLUMNS):
                raise CatalogError(name, line, None, f"{len(cells)} values, expected {len(COLUMNS)}")
            entry = _entry(name, line, dict(zip(COLUMNS, (c.strip() for c in cells), strict=True)), refs)
            if entry.order in orders:
                raise CatalogError(name, line, "order", f"order {entry.order} is used again (first on line {orders[entry.order]})")
            orders[entry.order] = line
            entries.append(entry)
    if not entries:
        raise CatalogError(name, None, None, "the playlist has no entries")
    return tuple(sorted(entries, key=lambda e: e.order))


def _entry(name: str, line: int, row: dict[str, str], refs: PlaylistRefs | None) -> PlaylistEntry:
    def error(field: str, message: str) -> CatalogError:
        return CatalogError(name, line, field, message)

    if not re.fullmatch(r"[+-]?\d{1,9}", row["order"]):
        raise error("order", f"{row['order']!r} is not an integer")
    path = row["path"]
    page = _PAGE_PATH.fullmatch(path)
    if path not in _PLAIN_PATHS and not page:
        raise error("path", f"{path!r} is not a wall page (expected /, /console, /theme/<id> or /topic/<id>)")
    if page and refs is not None:
        kind, page_id = page.groups()
        known = refs.themes if kind == "theme" else refs.topics
        if page_id not in known:
            raise error("path", f"no {kind} page {page_id!r} in the catalog (known: {', '.join(sorted(known)) or 'none'})")
    area, attention, ranking = row["area"], 0, "attention"
    if area.startswith("@"):
        match = _DYNAMIC.fullmatch(area)
        if not match:
            raise error("area", f"{area!r}: a dynamic entry is written @attention:N or @worst:N")
        ranking, attention = match.group(1), int(match.group(2))
        if not 1 <= attention <= MAX_ATTENTION:
            raise error("area", f"@{ranking}:{attention}: N must be 1 .. {MAX_ATTENTION}")
    elif area and not _CODE.fullmatch(area):
        raise error("area", f"{area!r} is not a region code")
    indicator = row["indicator"]
    if indicator and (not _CODE.fullmatch(indicator) or (refs is not None and indicator not in refs.indicators)):
        raise error("indicator", f"unknown indicator {indicator!r}")
    if not re.fullmatch(r"\d{1,6}", row["dwell_s"]):
        raise error("dwell_s", f"{row['dwell_s']!r} is not a whole number of seconds")
    dwell = int(row["dwell_s"])
    if not 1 <= dwell <= MAX_DWELL_S:
        raise error("dwell_s", f"{dwell} is outside 1 .. {MAX_DWELL_S}")
    return PlaylistEntry(int(row["order"]), path, "" if attention else area, indicator, dwell, attention, line, ranking)
