"""Case exports with a JSON column mapping: value maps, regions by point-in-polygon, no duplicates on a
re-import, errors naming row and column with nothing written."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from app import main
from datasources.importers import ImportFailed
from datasources.importers.events import import_events
from tests.importers.conftest import snapshot

MAPPING = {
    "fields": {"external_id": "工单编号", "title": "诉求内容", "reported_at": "受理时间", "status": "办理状态",
               "lon": "经度", "lat": "纬度", "region_code": "社区代码", "severity": "紧急程度", "dispatched_at": "派单时间",
               "resolved_at": "办结时间", "closed_at": "办结时间"},
    "values": {"status": {"已受理": "reported", "已办结": "closed"}, "severity": {"一般": 4, "紧急": 2}},
    "defaults": {"source": "hotline", "category": "citizen_demand", "theme": "governance"},
}
EXPORT = ("工单编号,诉求内容,受理时间,办理状态,经度,纬度,社区代码,紧急程度,派单时间,办结时间\n"
          "H-1,路灯不亮,2026-10-03 08:15,已受理,103.93,30.93,,一般,,\n"
          "H-2,噪音扰民,2026/10/04 21:40,已办结,,,99010022,紧急,2026-10-04 22:00,2026-10-05 09:00\n")


@pytest.fixture
def files(tmp_path):
    (tmp_path / "map.json").write_text(json.dumps(MAPPING, ensure_ascii=False), encoding="utf-8")
    (tmp_path / "cases.csv").write_bytes(EXPORT.encode("gbk"))
    return tmp_path / "cases.csv", tmp_path / "map.json"


def test_a_hotline_export_is_mapped_placed_and_never_duplicated(city_db, files):
    _, engine = city_db
    summary = import_events(engine, *files)
    assert summary.counts == {"rows": 2, "created": 2, "already stored": 0}
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT external_id, source, region_code, status, severity FROM events ORDER BY external_id")).all()
    # H-1 has no region code: its point (103.93, 30.93) lies in the south-west street 99010011.
    assert [tuple(r) for r in rows] == [("H-1", "hotline", "99010011", "reported", 4), ("H-2", "hotline", "99010022", "closed", 2)]
    again = import_events(engine, *files)
    assert again.counts == {"rows": 2, "created": 0, "already stored": 2}
    with engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM events")).scalar() == 2


def test_errors_name_row_and_column_and_write_nothing(city_db, files, monkeypatch, capsys):
    url, engine = city_db
    cases, mapping = files
    cases.write_bytes((EXPORT + "H-3,井盖缺失,昨天,已派单,103.93,30.93,,一般,,\n"
                               "H-4,占道经营,2026-10-06 10:00,已受理,120.0,40.0,,一般,,\n").encode("gbk"))
    before = snapshot(engine)
    with pytest.raises(ImportFailed) as err:
        import_events(engine, cases, mapping)
    msg = str(err.value)
    assert snapshot(engine) == before
    assert "row 4, column '受理时间': not a date and time (value '昨天')" in msg
    assert "row 4, column '办理状态': not in the value map of 'status'" in msg
    monkeypatch.setenv("IOC_DATABASE_URL", url)
    cases.write_bytes((EXPORT + "H-4,占道经营,2026-10-06 10:00,已受理,120.0,40.0,,一般,,\n").encode("gbk"))
    assert main(["import", "events", str(cases), "--mapping", str(mapping)]) == 2
    err_text = capsys.readouterr().err
    assert "row 4, column '经度': no region contains the point (120.0, 40.0)" in err_text and "Traceback" not in err_text, err_text
    assert snapshot(engine) == before


def test_a_mapping_naming_an_unknown_field_is_refused(city_db, files):
    _, engine = city_db
    bad = dict(MAPPING, fields={**MAPPING["fields"], "priority": "紧急程度"})
    files[1].write_text(json.dumps(bad, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(ImportFailed, match="fields, column 'priority': unknown event field"):
        import_events(engine, *files)
