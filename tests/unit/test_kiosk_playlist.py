"""The wall's playlist file: the shipped one is valid against the shipped catalog, and every kind of bad
file is refused with the file, the line and the field named."""

from __future__ import annotations

import pytest

from datasources.catalog_loader import CatalogError, load_catalog
from datasources.kiosk_playlist import PlaylistEntry, PlaylistRefs, load_playlist

HEADER = "order,path,area,indicator,dwell_s\n"
REFS = PlaylistRefs(themes={"economy", "environment"}, topics={"flood"}, indicators={"env_aqi"})


def _write(tmp_path, body: str, header: str = HEADER):  # noqa: ANN202
    path = tmp_path / "wall.csv"
    path.write_text(header + body, encoding="utf-8")
    return path


def test_the_shipped_playlist_names_only_pages_and_indicators_of_the_shipped_catalog():
    catalog = load_catalog()
    refs = PlaylistRefs(themes={p.id for p in catalog.themes()}, topics={p.id for p in catalog.topics()},
                        indicators={i.code for i in catalog.indicators})
    entries = load_playlist(refs=refs)
    assert [e.path for e in entries][:6] == ["/", "/theme/economy", "/theme/governance", "/theme/emergency",
                                             "/theme/public_service", "/theme/environment"]
    assert [(e.ranking, e.attention, e.area) for e in entries[-2:]] == [("attention", 3, ""), ("worst", 3, "")]


def test_a_good_file_is_read_in_order_with_its_dynamic_entry(tmp_path):
    path = _write(tmp_path, "20,/theme/economy,,env_aqi,15\n\n10,/,510182001,,30\n30,/topic/flood,@attention:4,,5\n"
                            "40,/,@worst:2,,7\n")
    assert load_playlist(path, REFS) == (
        PlaylistEntry(10, "/", "510182001", "", 30, 0, 4),  # line 3 is blank
        PlaylistEntry(20, "/theme/economy", "", "env_aqi", 15, 0, 2),
        PlaylistEntry(30, "/topic/flood", "", "", 5, 4, 5),
        PlaylistEntry(40, "/", "", "", 7, 2, 6, "worst"),
    )


@pytest.mark.parametrize(("body", "line", "field", "says"), [
    ("x,/,,,10\n", 2, "order", "'x' is not an integer"),
    ("1,/,,,10\n1,/console,,,10\n", 3, "order", "order 1 is used again (first on line 2)"),
    ("1,/admin,,,10\n", 2, "path", "'/admin' is not a wall page"),
    ("1,/theme/Economy,,,10\n", 2, "path", "is not a wall page"),
    ("1,/theme/nowhere,,,10\n", 2, "path", "no theme page 'nowhere' in the catalog"),
    ("1,/topic/economy,,,10\n", 2, "path", "no topic page 'economy'"),
    ("1,/,@best:3,,10\n", 2, "area", "a dynamic entry is written @attention:N or @worst:N"),
    ("1,/,@worst:0,,10\n", 2, "area", "@worst:0: N must be 1 .. 50"),
    ("1,/,@attention:0,,10\n", 2, "area", "N must be 1 .. 50"),
    ("1,/,@attention:51,,10\n", 2, "area", "N must be 1 .. 50"),
    ("1,/,彭州 市,,10\n", 2, "area", "is not a region code"),
    ("1,/,,env_nothing,10\n", 2, "indicator", "unknown indicator 'env_nothing'"),
    ("1,/,,,0\n", 2, "dwell_s", "0 is outside 1 .. 86400"),
    ("1,/,,,90000\n", 2, "dwell_s", "90000 is outside 1 .. 86400"),
    ("1,/,,,1.5\n", 2, "dwell_s", "'1.5' is not a whole number of seconds"),
    ("1,/,,,\n", 2, "dwell_s", "'' is not a whole number"),
])
def test_a_bad_row_is_refused_naming_file_line_and_field(tmp_path, body, line, field, says):
    with pytest.raises(CatalogError) as err:
        load_playlist(_write(tmp_path, body), REFS)
    assert (err.value.file, err.value.row, err.value.field) == ("wall.csv", line, field)
    assert says in err.value.message
    assert str(err.value).startswith(f"wall.csv line {line}, field '{field}': ")


def test_a_row_with_too_few_values_names_its_line(tmp_path):
    with pytest.raises(CatalogError, match=r"wall.csv line 3: 4 values, expected 5"):
        load_playlist(_write(tmp_path, "1,/,,,10\n2,/,,10\n"), REFS)


def test_a_wrong_header_is_refused_on_line_one(tmp_path):
    with pytest.raises(CatalogError) as err:
        load_playlist(_write(tmp_path, "1,/,,,10\n", header="order,page,area,indicator,dwell_s\n"))
    assert (err.value.row, err.value.field) == (1, "path")
    assert "the header must be exactly: order,path,area,indicator,dwell_s" in err.value.message


def test_an_empty_or_missing_file_is_refused(tmp_path):
    with pytest.raises(CatalogError, match="wall.csv: the playlist has no entries"):
        load_playlist(_write(tmp_path, "\n"))
    with pytest.raises(CatalogError, match="gone.csv: file not found"):
        load_playlist(tmp_path / "gone.csv")


def test_without_the_catalog_only_the_shape_of_names_is_checked(tmp_path):
    entries = load_playlist(_write(tmp_path, "1,/theme/anything,,any_code,10\n"))
    assert entries[0].path == "/theme/anything" and entries[0].indicator == "any_code"
