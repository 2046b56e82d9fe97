"""The guide's example files import as docs/BRING-YOUR-OWN-CITY.md says, through the command line."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from app import main

EXAMPLES = Path(__file__).parents[2] / "docs" / "examples"


def test_the_guide_examples_import_through_the_command_line(empty_db, monkeypatch, capsys):
    url, engine = empty_db
    monkeypatch.setenv("IOC_DATABASE_URL", url)
    for level, (zh, en) in enumerate([("市", "city"), ("区县", "district"), ("镇街", "township")]):
        assert main(["import", "boundaries", str(EXAMPLES / f"city-level-{level}.geojson"), "--level", str(level),
                     "--level-name-zh", zh, "--level-name-en", en]) == 0
    assert main(["import", "values", str(EXAMPLES / "values.csv")]) == 0
    assert main(["import", "values", str(EXAMPLES / "values-wide.csv")]) == 0
    assert main(["import", "events", str(EXAMPLES / "events.csv"), "--mapping", str(EXAMPLES / "events-mapping.json")]) == 0
    out = capsys.readouterr().out
    assert "wide by indicator layout, encoding gbk" in out and "created 3" in out
    with engine.connect() as conn:
        assert conn.execute(text("SELECT name FROM regions WHERE level = 1 ORDER BY code")).scalars().all() == ["西1区", "东2区"]
        assert conn.execute(text("SELECT COUNT(*) FROM audit_log WHERE action = 'import'")).scalar() == 6
        assert conn.execute(text("SELECT value FROM indicator_values WHERE indicator_code = 'eco_market_entities' "
                                 "AND region_code = '990100' AND period = '2026-10-01'")).scalar() == 4 * 1010 + 41 * 6
