"""Topic pages come from the catalog (``topic_panels.csv``): the shipped rows load, and a wrong edit is refused
with the file, the line and the field named."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from callbacks.panel_kinds import KINDS
from datasources.catalog_loader import CATALOG_DIR, PANEL_KINDS, TOPIC_PANELS_FILE, CatalogError, load_catalog

HEADER = "topic,order,kind,title_zh,title_en,indicators,layers,categories,facility_kinds,metrics\n"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A copy of the shipped catalog whose topic_panels.csv holds one good row (line 2)."""
    for f in CATALOG_DIR.glob("*.csv"):
        shutil.copy(f, tmp_path / f.name)
    (tmp_path / TOPIC_PANELS_FILE).write_text(HEADER + "flood,1,kpis,汛情,Flood,emg_rainfall_daily,,,,\n", encoding="utf-8")
    return tmp_path


def with_row(folder: Path, row: str) -> Path:
    """The catalog with ``row`` appended to topic_panels.csv (it stands on line 3)."""
    with (folder / TOPIC_PANELS_FILE).open("a", encoding="utf-8") as fh:
        fh.write(row + "\n")
    return folder


def refused(folder: Path, line: int, field: str) -> str:
    with pytest.raises(CatalogError) as info:
        load_catalog(folder)
    err = info.value
    assert (err.file, err.row, err.field) == (TOPIC_PANELS_FILE, line, field), str(err)
    return str(err)


def test_the_shipped_catalog_gives_every_topic_panels_and_the_four_required_ones_their_content():
    cat = load_catalog()
    topics = {p.id for p in cat.topics()}
    by_topic: dict[str, list] = {}
    for p in cat.topic_panels:
        by_topic.setdefault(p.topic, []).append(p)
    assert set(by_topic) == topics  # all 8 topics of pages.csv
    kinds = {t: {p.kind for p in ps} for t, ps in by_topic.items()}
    assert {"facilities", "map", "kpis"} <= kinds["major_projects"]
    assert {"readings", "facilities", "events", "map"} <= kinds["flood"]
    assert {"events", "map", "kpis"} <= kinds["citizen_demands"]
    assert {"kpis", "map", "facilities"} <= kinds["new_infra"]
    flood_kinds = {k for p in by_topic["flood"] for k in p.facility_kinds}
    assert {"rain_gauge", "river_station", "risk_point", "shelter", "rescue_team"} <= flood_kinds
    projects = next(p for p in by_topic["major_projects"] if p.kind == "facilities")
    assert projects.metrics == ("investment_yi", "investment_done_yi", "progress", "planned_progress", "delay_days")
    demand_map = next(p for p in by_topic["citizen_demands"] if p.kind == "map")
    assert "heat" in demand_map.layers  # hot spots


def test_the_loader_knows_exactly_the_registered_panel_kinds():
    assert set(KINDS) == PANEL_KINDS


def test_a_good_row_loads_with_its_lists_split_on_spaces(folder):
    with_row(folder, "flood,2,facilities,避难,Shelters,,,,shelter rescue_team,capacity members")
    panels = load_catalog(folder).topic_panels
    assert [(p.topic, p.order, p.kind) for p in panels] == [("flood", 1, "kpis"), ("flood", 2, "facilities")]
    assert panels[1].facility_kinds == ("shelter", "rescue_team") and panels[1].metrics == ("capacity", "members")


@pytest.mark.parametrize(("row", "field", "says"), [
    ("nowhere,2,kpis,甲,A,emg_rainfall_daily,,,,", "topic", "unknown topic 'nowhere'"),
    ("economy,2,kpis,甲,A,emg_rainfall_daily,,,,", "topic", "unknown topic 'economy'"),  # a theme, not a topic
    ("flood,2,pie,甲,A,emg_rainfall_daily,,,,", "kind", "unknown panel kind 'pie'"),
    ("flood,2,trend,甲,A,emg_rainfall_daily no_such_code,,,,", "indicators", "unknown indicator 'no_such_code'"),
    ("flood,2,events,甲,A,,,flood meteor,,", "categories", "unknown event category 'meteor'"),
    ("flood,2,map,甲,A,emg_rainfall_daily,heat lava,,,", "layers", "unknown map layer 'lava'"),
    ("flood,2,trend,甲,A,,,,,", "indicators", "a trend panel needs at least one entry"),
    ("flood,2,readings,甲,A,,,,rain_gauge,", "metrics", "a readings panel needs at least one entry"),
    ("flood,2,events,甲,A,emg_rainfall_daily,,flood,,", "indicators", "not used by a events panel"),
    ("flood,1,trend,甲,A,emg_rainfall_daily,,,,", "order", "second panel with order 1"),
    ("flood,2,trend,甲,A,emg_rainfall_daily emg_rainfall_daily,,,,", "indicators", "listed twice"),
    ("flood,2,facilities,甲,A,,,,Rain-Gauge,", "facility_kinds", "must be lowercase"),
    ("flood,x,kpis,甲,A,emg_rainfall_daily,,,,", "order", "not a non-negative integer"),
    ("flood,2,kpis,,A,emg_rainfall_daily,,,,", "title_zh", "required value is empty"),
])
def test_a_wrong_row_is_refused_naming_file_line_and_field(folder, row, field, says):
    message = refused(with_row(folder, row), 3, field)
    assert message.startswith(f"{TOPIC_PANELS_FILE} line 3, field '{field}': ")
    assert says in message


def test_a_second_map_on_one_topic_is_refused(folder):
    with_row(folder, "flood,2,map,甲,A,emg_rainfall_daily,,,,")
    with_row(folder, "flood,3,map,乙,B,emg_rainfall_daily,,,,")
    assert "second map panel" in refused(folder, 4, "kind")


def test_a_bad_header_is_refused(folder):
    (folder / TOPIC_PANELS_FILE).write_text(HEADER.replace("metrics", "measures"), encoding="utf-8")
    with pytest.raises(CatalogError) as info:
        load_catalog(folder)
    assert (info.value.file, info.value.row, info.value.field) == (TOPIC_PANELS_FILE, 1, "metrics")
