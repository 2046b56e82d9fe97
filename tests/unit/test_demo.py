"""The demo city is deterministic and calibrated to the published 2020 figures of seed 001."""

from __future__ import annotations

import os
from datetime import date

import pytest
from sqlalchemy import text

from datasources import db
from datasources.demo import build_demo
from datasources.demo_events import FACILITY_COUNTS, SOURCES
from datasources.repository import Repository
from tests.conftest import AS_OF
from tests.demo_tables import assert_same_build, table_rows

# Published 2020 figures: yearly volume and the rate each source reports (seed 001, 二(一)).
PUBLISHED = {
    "hotline": {"per_year": 59_707, "done": ("closed",), "rate": 1.0, "satisfaction": 0.9372},
    "city_management": {"per_year": 73_086, "done": ("resolved", "closed"), "rate": 0.9917},
    "grid": {"per_year": 524_462, "done": ("closed",), "rate": 0.9846},
}


def test_same_seed_builds_an_identical_database_however_its_events_are_sliced(tmp_path, mini_sqlite, monkeypatch):
    """A second build with the session's seed equals it table by table, with its event stream written in
    slices of 250 rows (several per month, one id range all the same) instead of the default: one build
    shows both that a seed fixes the city and that the slicing does not change it."""
    import datasources.ingest as ingest

    monkeypatch.setattr(ingest, "BULK_SLICE", 250)
    again = f"sqlite:///{tmp_path / 'again.db'}"
    build_demo(db.make_engine(again), "mini", seed=1, as_of=AS_OF)
    assert_same_build(mini_sqlite, again, "between two builds with the same seed, the second written in slices of 250")


def test_another_seed_builds_another_city(tmp_path, mini_sqlite):
    other = f"sqlite:///{tmp_path / 'other.db'}"
    build_demo(db.make_engine(other), "mini", seed=2, as_of=AS_OF)
    first, second = table_rows(mini_sqlite), table_rows(other)
    assert first["events"] != second["events"]
    assert first["regions"] != second["regions"]


def test_demo_rejects_an_unknown_scale_naming_the_parameter(tmp_path):
    with pytest.raises(ValueError, match="parameter 'scale'"):
        build_demo(db.make_engine(f"sqlite:///{tmp_path / 'x.db'}"), "continent")


def test_every_parent_region_population_is_the_sum_of_its_children(mini_sqlite):
    with db.make_engine(mini_sqlite).connect() as conn:
        bad = conn.execute(text(
            "SELECT p.code FROM regions p JOIN regions c ON c.parent_code = p.code "
            "GROUP BY p.code, p.population HAVING SUM(c.population) <> p.population"
        )).all()
    assert bad == []


@pytest.mark.slow
@pytest.mark.parametrize("year", [2024, 2025])
def test_county_full_years_match_published_volumes_and_rates(county_sqlite, year):
    url, _report = county_sqlite
    repo = Repository(db.make_engine(url))
    root = repo.root_code()
    start, end = date(year, 1, 1), date(year + 1, 1, 1)
    for source, pub in PUBLISHED.items():
        counts = repo.event_counts(root, start, end, "source")
        by_status = _status_counts(repo, source, start, end)
        total = counts[source]
        assert abs(total / pub["per_year"] - 1) < 0.05, f"{source} {year}: {total} vs {pub['per_year']}"
        done = sum(by_status.get(s, 0) for s in pub["done"]) / total
        assert abs(done - pub["rate"]) <= 0.005, f"{source} {year}: done rate {done:.4f} vs {pub['rate']}"
        if "satisfaction" in pub:
            rates = repo.event_rates(root, start, end, source=source)
            assert abs(rates["satisfaction_rate"] - pub["satisfaction"]) <= 0.005, rates


def _status_counts(repo: Repository, source: str, start: date, end: date) -> dict[str, int]:
    with repo.engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT status, SUM(n) FROM event_monthly WHERE region_code = :r AND source = :s AND month >= :a AND month < :b "
            "GROUP BY status"), {"r": repo.root_code(), "s": source, "a": start, "b": end}).all()
    return {s: int(n) for s, n in rows}


@pytest.mark.slow
def test_county_facility_counts_equal_the_seed(county_sqlite):
    url, report = county_sqlite
    counts = Repository(db.make_engine(url)).facility_counts("510182")
    for kind in ("camera", "air_station", "water_station", "pollution_camera", "base_station", "hospital"):
        assert counts[kind] == FACILITY_COUNTS[kind], kind
    assert (FACILITY_COUNTS["camera"], FACILITY_COUNTS["base_station"], FACILITY_COUNTS["hospital"]) == (9_503, 3_097, 29)
    with db.make_engine(url).connect() as conn:
        five_g = conn.execute(text("SELECT COUNT(*) FROM facilities WHERE kind = 'base_station' "
                                   "AND attributes LIKE '%5G%'")).scalar_one()
    assert five_g >= 400
    assert report.counts["events"] > 1_900_000  # three years at ~660k a year
    print(f"\ncounty demo: built in {report.seconds:.1f} s, {os.path.getsize(url.removeprefix('sqlite:///')) / 1e6:.0f} MB")


def test_sources_in_the_generator_carry_the_published_volumes():
    by_id = {s.id: s for s in SOURCES}
    assert sum(by_id[s].per_year for s in PUBLISHED) == 657_255
