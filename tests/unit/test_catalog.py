"""The indicator catalog files and their validating loader (datasources/catalog_loader.py)."""

from __future__ import annotations

import csv
import math
import shutil
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from datasources.catalog_loader import (
    AGGREGATIONS,
    CATALOG_DIR,
    DEMO_PROFILE_FILE,
    INDICATORS_FILE,
    PAGES_FILE,
    CatalogError,
    Indicator,
    load_catalog,
    load_demo_profile,
)

THEMES = ("economy", "governance", "emergency", "public_service", "environment")


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


@pytest.fixture(scope="module")
def profiles(catalog):
    return load_demo_profile(catalog=catalog)


# ----------------------------------------------------------------------------- helpers


def read_table(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


def write_table(path: Path, rows: list[list[str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)


def copy_of_catalog(tmp_path: Path) -> Path:
    for name in (PAGES_FILE, INDICATORS_FILE, DEMO_PROFILE_FILE):
        shutil.copy(CATALOG_DIR / name, tmp_path / name)
    return tmp_path


def edit(tmp_path: Path, name: str, change: Callable[[list[list[str]]], None]) -> Path:
    """Copy the real catalog into tmp_path and apply ``change`` to the table of file ``name``."""
    folder = copy_of_catalog(tmp_path)
    table = read_table(folder / name)
    change(table)
    write_table(folder / name, table)
    return folder


def set_cells(tmp_path: Path, name: str, line: int, **cells: str) -> Path:
    """Copy the real catalog and set ``cells`` on file line ``line`` (header = line 1) of ``name``."""

    def change(table: list[list[str]]) -> None:
        header = table[0]
        for field, value in cells.items():
            table[line - 1][header.index(field)] = value

    return edit(tmp_path, name, change)


def indicator_line(predicate: Callable[[dict[str, str]], bool]) -> int:
    """File line of the first real indicator row that satisfies ``predicate``."""
    table = read_table(CATALOG_DIR / INDICATORS_FILE)
    header = table[0]
    for line, row in enumerate(table[1:], start=2):
        if predicate(dict(zip(header, row, strict=True))):
            return line
    raise AssertionError("no indicator row matches")


def rejected(
    folder: Path, file: str, line: int | None, field: str | None, loader=load_catalog
) -> CatalogError:
    """Assert that ``loader(folder)`` fails naming exactly ``file``, ``line`` and ``field``."""
    with pytest.raises(CatalogError) as info:
        loader(folder)
    error = info.value
    assert (error.file, error.row, error.field) == (file, line, field), str(error)
    where = file if line is None else f"{file} line {line}"
    if field is not None:
        where += f", field '{field}'"
    assert str(error) == f"{where}: {error.message}"
    return error


# ----------------------------------------------------------------------------- the real catalog


def test_real_catalog_loads_with_at_least_133_indicators(catalog):
    assert len(catalog.indicators) >= 133


def test_the_five_themes_come_in_glossary_order(catalog):
    assert tuple(page.id for page in catalog.themes()) == THEMES
    names = {page.id: page.name_zh for page in catalog.themes()}
    assert names == {"economy": "经济运行", "governance": "社会治理", "emergency": "应急管理",
                     "public_service": "公共服务", "environment": "环境保护"}


def test_required_topics_exist(catalog):
    topics = {page.id: page.name_zh for page in catalog.topics()}
    for topic_id, name in [("new_infra", "新基建"), ("flood", "防汛"), ("epidemic", "疫情防控"),
                           ("tourism", "文旅"), ("city_management", "数字城管")]:
        assert topics[topic_id] == name


def test_each_theme_holds_20_to_35_indicators(catalog):
    for theme in THEMES:
        assert 20 <= len(catalog.by_theme(theme)) <= 35, theme


def test_each_theme_has_four_to_six_headlines_visible_below_the_city(catalog):
    for theme in THEMES:
        heads = catalog.headlines(theme)
        assert 4 <= len(heads) <= 6, theme
        assert all(ind.level in (1, 2) for ind in heads), theme
        assert sum(ind.level == 2 for ind in heads) >= 3, theme


def test_every_topic_groups_indicators_from_several_themes(catalog):
    for topic in catalog.topics():
        members = catalog.by_topic(topic.id)
        assert len({ind.theme for ind in members}) >= 2, topic.id


def test_all_six_aggregations_are_used_at_least_twice(catalog):
    used = Counter(ind.aggregation for ind in catalog.indicators)
    assert set(used) == AGGREGATIONS
    assert min(used.values()) >= 2


def test_at_least_half_of_the_indicators_have_thresholds(catalog):
    with_thresholds = [ind for ind in catalog.indicators if ind.warn is not None]
    assert 2 * len(with_thresholds) >= len(catalog.indicators)


def test_percentages_are_averaged_not_summed(catalog):
    for ind in catalog.indicators:
        if ind.unit == "%":
            assert ind.aggregation != "sum", ind.code


def test_every_indicator_has_exactly_one_demo_profile(catalog, profiles):
    assert set(profiles) == {ind.code for ind in catalog.indicators}


def test_demo_profiles_are_plausible(catalog, profiles):
    for ind in catalog.indicators:
        profile = profiles[ind.code]
        assert profile.base >= 0 and 0 < profile.cv <= 0.6 and -0.5 <= profile.season <= 0.5, ind.code
        if ind.unit == "%":
            assert 0 <= profile.base <= 100, ind.code


def test_demo_profile_reproduces_the_published_city_totals(catalog, profiles):
    # ~300 communities and 20 townships; 2020 figures from seed 001 (彭州市).
    yearly_at_communities = {"gov_hotline_demands": 59_707, "gov_citymgmt_cases": 73_086,
                             "gov_grid_events": 524_462, "gov_citizen_demands": 657_255}
    for code, published in yearly_at_communities.items():
        assert catalog.indicator(code).level == 2
        assert profiles[code].base * 300 * 12 == pytest.approx(published, rel=0.05), code
    assert profiles["gov_video_cameras"].base * 300 == pytest.approx(9_503, rel=0.05)
    assert profiles["eco_base_stations"].base * 20 == pytest.approx(3_097, rel=0.05)
    assert profiles["eco_broadband_users"].base * 20 == pytest.approx(383_400, rel=0.05)
    assert profiles["env_air_microstations"].base * 20 == pytest.approx(35, rel=0.05)
    assert profiles["ps_medical_institutions"].base * 20 == pytest.approx(29, rel=0.05)
    assert (profiles["ps_bus_lines"].base, profiles["ps_buses"].base) == (28, 331)


def test_lookup_helpers_find_pages_and_indicators(catalog):
    pm25 = catalog.indicator("env_pm25")
    assert (pm25.theme, pm25.unit, pm25.warn, pm25.alarm) == ("environment", "μg/m³", 75, 115)
    assert pm25 in catalog.by_theme("environment")
    assert catalog.page("flood").kind == "topic"
    assert all("flood" in ind.topics for ind in catalog.by_topic("flood"))
    with pytest.raises(KeyError):
        catalog.indicator("no_such_code")
    with pytest.raises(KeyError):
        catalog.by_theme("flood")  # a topic, not a theme


# ----------------------------------------------------------------------------- Indicator.status


def make_indicator(polarity: int, warn: float | None, alarm: float | None) -> Indicator:
    return Indicator(code="x", name_zh="x", name_en="x", theme="economy", topics=(), unit="%",
                     unit_en="%", aggregation="wmean", polarity=polarity, warn=warn, alarm=alarm,
                     department="市统计局", frequency="monthly", level=2, headline=False,
                     description="x")


def test_status_when_higher_is_better():
    closure = make_indicator(1, warn=95, alarm=90)
    assert [closure.status(v) for v in (99, 95, 94.9, 90, 89.9)] == ["ok", "ok", "warn", "warn", "alarm"]


def test_status_when_lower_is_better():
    pm25 = make_indicator(-1, warn=75, alarm=115)
    assert [pm25.status(v) for v in (30, 75, 76, 115, 116)] == ["ok", "ok", "warn", "warn", "alarm"]


def test_status_is_none_without_value_or_thresholds():
    assert make_indicator(1, 95, 90).status(None) == "none"
    assert make_indicator(1, 95, 90).status(math.nan) == "none"
    assert make_indicator(1, None, None).status(50) == "none"


# ----------------------------------------------------------------------------- rejected files


def test_missing_header_column_is_rejected(tmp_path):
    def drop_department(table):
        column = table[0].index("department")
        for row in table:
            del row[column]

    rejected(edit(tmp_path, INDICATORS_FILE, drop_department), INDICATORS_FILE, 1, "department")


def test_extra_header_column_is_rejected(tmp_path):
    def add_column(table):
        table[0].append("owner")
        for row in table[1:]:
            row.append("someone")

    rejected(edit(tmp_path, INDICATORS_FILE, add_column), INDICATORS_FILE, 1, "owner")


def test_header_columns_out_of_order_are_rejected(tmp_path):
    def swap_names(table):
        for row in table:
            row[1], row[2] = row[2], row[1]

    rejected(edit(tmp_path, INDICATORS_FILE, swap_names), INDICATORS_FILE, 1, "name_en")


def test_row_with_too_few_values_is_rejected_with_line_number(tmp_path):
    folder = edit(tmp_path, INDICATORS_FILE, lambda table: table[4].pop())
    error = rejected(folder, INDICATORS_FILE, 5, None)
    assert error.message == "15 values, expected 16"


def test_empty_required_field_is_rejected(tmp_path):
    folder = set_cells(tmp_path, INDICATORS_FILE, 9, department="")
    error = rejected(folder, INDICATORS_FILE, 9, "department")
    assert error.message == "required value is empty"


def test_duplicate_code_is_rejected_with_line_number(tmp_path):
    first_code = read_table(CATALOG_DIR / INDICATORS_FILE)[1][0]
    folder = set_cells(tmp_path, INDICATORS_FILE, 12, code=first_code)
    error = rejected(folder, INDICATORS_FILE, 12, "code")
    assert error.message == f"duplicate code '{first_code}' (first on line 2)"


def test_bad_code_pattern_is_rejected(tmp_path):
    folder = set_cells(tmp_path, INDICATORS_FILE, 3, code="Eco-GDP")
    error = rejected(folder, INDICATORS_FILE, 3, "code")
    assert "'Eco-GDP'" in error.message


def test_unknown_theme_is_rejected(tmp_path):
    folder = set_cells(tmp_path, INDICATORS_FILE, 7, theme="finance")
    error = rejected(folder, INDICATORS_FILE, 7, "theme")
    assert error.message.startswith("unknown theme 'finance' (expected one of: economy, emergency")


def test_topic_used_as_theme_is_rejected(tmp_path):
    folder = set_cells(tmp_path, INDICATORS_FILE, 7, theme="flood")
    rejected(folder, INDICATORS_FILE, 7, "theme")


def test_unknown_topic_is_rejected(tmp_path):
    folder = set_cells(tmp_path, INDICATORS_FILE, 20, topics="flood;holidays")
    error = rejected(folder, INDICATORS_FILE, 20, "topics")
    assert error.message.startswith("unknown topic 'holidays' (expected one of:")


def test_unknown_aggregation_is_rejected_with_the_allowed_ones(tmp_path):
    folder = set_cells(tmp_path, INDICATORS_FILE, 17, aggregation="avg")
    error = rejected(folder, INDICATORS_FILE, 17, "aggregation")
    assert str(error) == ("indicators.csv line 17, field 'aggregation': unknown aggregation 'avg' "
                          "(expected one of: last, max, mean, min, sum, wmean)")


@pytest.mark.parametrize("polarity", ["0", "2", "up", ""])
def test_polarity_other_than_1_or_minus_1_is_rejected(tmp_path, polarity):
    folder = set_cells(tmp_path, INDICATORS_FILE, 10, polarity=polarity)
    rejected(folder, INDICATORS_FILE, 10, "polarity")


def test_non_numeric_threshold_is_rejected(tmp_path):
    line = indicator_line(lambda row: row["warn"] != "")
    folder = set_cells(tmp_path, INDICATORS_FILE, line, warn="high")
    error = rejected(folder, INDICATORS_FILE, line, "warn")
    assert error.message == "'high' is not a number"


def test_only_one_threshold_is_rejected(tmp_path):
    line = indicator_line(lambda row: row["warn"] != "")
    folder = set_cells(tmp_path, INDICATORS_FILE, line, alarm="")
    error = rejected(folder, INDICATORS_FILE, line, "alarm")
    assert "set both or neither" in error.message


def test_threshold_without_the_other_on_a_bare_row_is_rejected(tmp_path):
    line = indicator_line(lambda row: row["warn"] == "")
    folder = set_cells(tmp_path, INDICATORS_FILE, line, warn="5")
    rejected(folder, INDICATORS_FILE, line, "alarm")


def test_alarm_above_warn_is_rejected_when_higher_is_better(tmp_path):
    line = indicator_line(lambda row: row["polarity"] == "1" and row["warn"] != "")
    folder = set_cells(tmp_path, INDICATORS_FILE, line, warn="90", alarm="95")
    error = rejected(folder, INDICATORS_FILE, line, "alarm")
    assert "polarity 1" in error.message


def test_alarm_below_warn_is_rejected_when_lower_is_better(tmp_path):
    line = indicator_line(lambda row: row["polarity"] == "-1" and row["warn"] != "")
    folder = set_cells(tmp_path, INDICATORS_FILE, line, warn="115", alarm="75")
    error = rejected(folder, INDICATORS_FILE, line, "alarm")
    assert "polarity -1" in error.message


def test_unknown_frequency_is_rejected(tmp_path):
    folder = set_cells(tmp_path, INDICATORS_FILE, 11, frequency="weekly")
    error = rejected(folder, INDICATORS_FILE, 11, "frequency")
    assert error.message.startswith("unknown frequency 'weekly'")


@pytest.mark.parametrize("level", ["-1", "1.5", "city"])
def test_level_that_is_not_a_non_negative_integer_is_rejected(tmp_path, level):
    folder = set_cells(tmp_path, INDICATORS_FILE, 14, level=level)
    rejected(folder, INDICATORS_FILE, 14, "level")


@pytest.mark.parametrize("headline", ["2", "yes", "true"])
def test_headline_other_than_0_or_1_is_rejected(tmp_path, headline):
    folder = set_cells(tmp_path, INDICATORS_FILE, 15, headline=headline)
    rejected(folder, INDICATORS_FILE, 15, "headline")


def test_headline_at_city_level_only_is_rejected(tmp_path):
    line = indicator_line(lambda row: row["headline"] == "1")
    folder = set_cells(tmp_path, INDICATORS_FILE, line, level="0")
    rejected(folder, INDICATORS_FILE, line, "headline")


def test_unknown_page_kind_is_rejected(tmp_path):
    folder = set_cells(tmp_path, PAGES_FILE, 8, kind="special")
    rejected(folder, PAGES_FILE, 8, "kind")


def test_duplicate_page_id_is_rejected(tmp_path):
    folder = set_cells(tmp_path, PAGES_FILE, 4, id="economy")
    error = rejected(folder, PAGES_FILE, 4, "id")
    assert error.message == "duplicate id 'economy' (first on line 2)"


def test_missing_file_is_rejected(tmp_path):
    folder = copy_of_catalog(tmp_path)
    (folder / PAGES_FILE).unlink()
    rejected(folder, PAGES_FILE, None, None)


def test_demo_profile_for_unknown_code_is_rejected(tmp_path):
    folder = set_cells(tmp_path, DEMO_PROFILE_FILE, 6, code="eco_unknown")
    error = rejected(folder, DEMO_PROFILE_FILE, 6, "code", loader=load_demo_profile)
    assert error.message == "unknown indicator 'eco_unknown'"


def test_demo_profile_missing_a_code_is_rejected(tmp_path):
    missing = read_table(CATALOG_DIR / DEMO_PROFILE_FILE)[3][0]
    folder = edit(tmp_path, DEMO_PROFILE_FILE, lambda table: table.pop(3))
    error = rejected(folder, DEMO_PROFILE_FILE, None, "code", loader=load_demo_profile)
    assert error.message == f"no profile for indicator '{missing}'"


def test_demo_profile_duplicate_code_is_rejected(tmp_path):
    first = read_table(CATALOG_DIR / DEMO_PROFILE_FILE)[1][0]
    folder = set_cells(tmp_path, DEMO_PROFILE_FILE, 5, code=first)
    rejected(folder, DEMO_PROFILE_FILE, 5, "code", loader=load_demo_profile)


def test_demo_profile_percentage_base_above_100_is_rejected(tmp_path):
    profile_codes = [row[0] for row in read_table(CATALOG_DIR / DEMO_PROFILE_FILE)]
    percent_code = next(ind.code for ind in load_catalog().indicators if ind.unit == "%")
    line = profile_codes.index(percent_code) + 1
    folder = set_cells(tmp_path, DEMO_PROFILE_FILE, line, base="120")
    rejected(folder, DEMO_PROFILE_FILE, line, "base", loader=load_demo_profile)


@pytest.mark.parametrize(("field", "value"), [("cv", "abc"), ("cv", "-0.1"), ("season", "0.8"),
                                              ("decimals", "1.5")])
def test_demo_profile_bad_numbers_are_rejected(tmp_path, field, value):
    folder = set_cells(tmp_path, DEMO_PROFILE_FILE, 7, **{field: value})
    rejected(folder, DEMO_PROFILE_FILE, 7, field, loader=load_demo_profile)


def test_excel_byte_order_mark_and_blank_lines_are_accepted(tmp_path):
    folder = copy_of_catalog(tmp_path)
    path = folder / INDICATORS_FILE
    path.write_text("\ufeff" + path.read_text(encoding="utf-8") + "\n\n", encoding="utf-8")
    assert len(load_catalog(folder).indicators) == len(load_catalog().indicators)
