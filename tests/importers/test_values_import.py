"""Indicator values from CSV/XLSX in the layouts and encodings cities use; every error names row and column
and writes nothing; importing the same file again changes nothing; one case on PostgreSQL."""

from __future__ import annotations

import pandas as pd
import pytest
from sqlalchemy import text

from app import main
from datasources import db
from datasources.importers import ImportFailed
from datasources.importers.values import import_values, parse_period
from tests.conftest import pg_copy
from tests.importers.conftest import snapshot

# Streets (level 2, the leaves of the 3-level city): 99010011 南11街道, 99010012 北12街道, 99010021 南21街道, 99010022 北22街道.
LONG = ("indicator,region,period,value\n"
        "eco_market_entities,99010011,2026-09,100\neco_market_entities,99010012,2026-09,50\n"
        "eco_market_entities,99010021,2026-09,25\neco_market_entities,99010022,2026-09,5\n")


def value(engine, indicator: str, region: str, period: str = "2026-09-01") -> float | None:  # noqa: ANN001
    with engine.connect() as conn:
        return conn.execute(text("SELECT value FROM indicator_values WHERE indicator_code = :i AND region_code = :r "
                                 "AND period = :p"), {"i": indicator, "r": region, "p": period}).scalar()


def test_parse_period():
    assert [parse_period(v) for v in ("2026-09", "2026/9", "202609", "2026年9月", "2026-09-01", "2026-13", "Sep")] == [
        "2026-09", "2026-09", "2026-09", "2026-09", "2026-09", None, None]


def test_a_long_csv_with_bom_rolls_up_and_a_second_import_changes_nothing(city_db, tmp_path):
    _, engine = city_db
    path = tmp_path / "values.csv"
    path.write_text(LONG, encoding="utf-8-sig")
    summary = import_values(engine, path)
    assert summary.counts == {"values": 4, "changed": 4, "unchanged": 0}
    assert value(engine, "eco_market_entities", "9901001") == 150  # district: sum of its streets
    assert value(engine, "eco_market_entities", "990100") == 180
    before = snapshot(engine)
    again = import_values(engine, path)
    assert again.counts == {"values": 4, "changed": 0, "unchanged": 4}
    after = snapshot(engine)
    assert after.pop("audit_log") == before.pop("audit_log") + 1 and after == before  # only the audit row


def test_a_gbk_csv_with_chinese_headers_and_region_names(city_db, tmp_path):
    _, engine = city_db
    path = tmp_path / "gbk.csv"
    path.write_bytes("指标,地区,月份,数值\n市场主体总量,南11街道,2026年9月,\"1,200\"\n".encode("gbk"))
    summary = import_values(engine, path)
    assert "encoding gbk" in summary.notes[0]
    assert value(engine, "eco_market_entities", "99010011") == 1200


def test_an_xlsx_wide_by_indicator_and_a_csv_wide_by_period(city_db, tmp_path):
    _, engine = city_db
    pd.DataFrame({"区划代码": ["99010011", "99010012"], "月份": ["2026-09", "2026-09"],
                  "市场主体总量": [10, 20], "eco_new_jobs": [3, 4]}).to_excel(tmp_path / "wide.xlsx", index=False)
    assert import_values(engine, tmp_path / "wide.xlsx").counts["values"] == 4
    assert value(engine, "eco_new_jobs", "99010012") == 4 and value(engine, "eco_market_entities", "9901001") == 30
    (tmp_path / "periods.csv").write_text("region,indicator,2026-08,2026-09\n99010021,eco_new_jobs,7,8\n", encoding="utf-8")
    import_values(engine, tmp_path / "periods.csv")
    assert value(engine, "eco_new_jobs", "99010021", "2026-08-01") == 7


def test_every_kind_of_error_names_row_and_column_and_writes_nothing(city_db, tmp_path):
    _, engine = city_db
    path = tmp_path / "bad.csv"
    path.write_text(LONG + "no_such_indicator,99010011,2026-09,1\neco_market_entities,nowhere,2026-09,1\n"
                           "eco_market_entities,99010011,2026-99,1\neco_market_entities,99010011,2026-10,many\n"
                           "eco_market_entities,99010011,2026-09,7\neco_gdp,99010011,2026-09,1\n", encoding="utf-8")
    before = snapshot(engine)
    with pytest.raises(ImportFailed) as err:
        import_values(engine, path)
    msg = str(err.value)
    assert snapshot(engine) == before
    for line in ("row 6, column 'indicator': unknown indicator (value 'no_such_indicator')",
                 "row 7, column 'region': unknown region (value 'nowhere')",
                 "row 8, column 'period': bad period (expected YYYY-MM) (value '2026-99')",
                 "row 9, column 'value': not a number (value 'many')",
                 "row 10, column 'value': duplicate: eco_market_entities 99010011 2026-09 also in row 2"):
        assert line in msg, msg
    # Problems only the write layer knows (eco_gdp exists only down to level 1) name the file's row too.
    path.write_text("indicator,region,period,value\neco_gdp,99010011,2026-09,1\n", encoding="utf-8")
    with pytest.raises(ImportFailed) as err:
        import_values(engine, path)
    assert "row 2, column 'region': is below the indicator's lowest level" in str(err.value)
    assert snapshot(engine) == before


def test_an_unknown_wide_header_and_the_command_line_exit_code(city_db, tmp_path, monkeypatch, capsys):
    url, engine = city_db
    monkeypatch.setenv("IOC_DATABASE_URL", url)
    (tmp_path / "wide.csv").write_text("region,period,不存在的指标\n99010011,2026-09,1\n", encoding="utf-8")
    assert main(["import", "values", str(tmp_path / "wide.csv")]) == 2
    err = capsys.readouterr().err
    assert "row 1, column '不存在的指标': unknown indicator" in err and "Traceback" not in err
    (tmp_path / "ok.csv").write_text(LONG, encoding="utf-8")
    assert main(["import", "values", str(tmp_path / "ok.csv")]) == 0
    assert "values 4, changed 4" in capsys.readouterr().out


def test_values_import_on_postgresql(mini_pg_template, tmp_path):
    with pg_copy(mini_pg_template) as url:
        engine = db.make_engine(url)
        with engine.connect() as conn:
            towns = conn.execute(text("SELECT code FROM regions WHERE level = 2 ORDER BY code LIMIT 2")).scalars().all()
        path = tmp_path / "pg.csv"
        path.write_text("indicator,region,period,value\n" + "".join(f"eco_new_jobs,{c},2026-11,{k + 12345.5}\n" for k, c in enumerate(towns)),
                        encoding="utf-8-sig")
        assert import_values(engine, path).counts["changed"] == 2
        assert value(engine, "eco_new_jobs", towns[1], "2026-11-01") == 12346.5
        assert import_values(engine, path).counts["unchanged"] == 2
        engine.dispose()
