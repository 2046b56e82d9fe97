"""Roll-ups computed in SQL (through the write layer) equal an independent pandas computation, on SQLite
and PostgreSQL."""

from __future__ import annotations

from datetime import date, datetime

import numpy as np
import pandas as pd
import pytest
import shapely
from sqlalchemy import text

from datasources import db
from datasources.catalog_loader import Catalog, Indicator, Page
from datasources.ingest import Writer
from datasources.models import from_epoch
from datasources.rollup import build_closure

LEVELS = [(0, "市", "city"), (1, "镇", "township"), (2, "社区", "community")]
NOW = datetime(2026, 6, 1, 12, 0)

RULES = ("sum", "mean", "wmean", "max", "min", "last")


def _box(x: float, y: float, size: float = 1.0):
    return shapely.box(x, y, x + size, y + size)


def _tree() -> list[dict]:
    """Root 'R' → townships A, B → communities A1..A3, B1..B2 (codes deliberately not GB-shaped)."""
    leaves = [(f"A{k}", "A", 2, 1000 * k) for k in (1, 2, 3)] + [(f"B{k}", "B", 2, 700 * k + 50) for k in (1, 2)]
    pop_a, pop_b = sum(p for c, _, _, p in leaves if c[0] == "A"), sum(p for c, _, _, p in leaves if c[0] == "B")
    regions = [("R", None, 0, pop_a + pop_b), ("A", "R", 1, pop_a), ("B", "R", 1, pop_b), *leaves]
    out = []
    for k, (code, parent, level, pop) in enumerate(regions):
        g = _box(k, 0)
        out.append({"code": code, "name": code, "level": level, "parent_code": parent, "population": pop,
                    "area_km2": 1.0, "centroid_lon": k + 0.5, "centroid_lat": 0.5, "geometry": g, "geometry_display": g})
    return out


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'rollup.db'}"
    else:
        url = request.getfixturevalue("pg_url")
    eng = db.make_engine(url)
    db.reset_database(eng)
    yield eng
    eng.dispose()


def _catalog() -> Catalog:
    theme = Page("economy", "theme", "经济", "Economy", 1, "")
    inds = tuple(
        Indicator(f"ind_{rule}", f"ind_{rule}", f"ind_{rule}", "economy", (), "", "", rule, 1, None, None, "", "monthly", 2,
                  False, "")
        for rule in RULES
    )
    return Catalog(pages=(theme,), indicators=inds)


def _load(engine) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    regions = _tree()
    leaves = [r["code"] for r in regions if r["level"] == 2]
    periods = [date(2026, 1, 1), date(2026, 2, 1)]
    rows = []
    for rule in RULES:
        for p in periods:
            for leaf in leaves:
                rep = datetime(2026, p.month + 1, int(rng.integers(1, 28)), int(rng.integers(0, 23)))
                rows.append((f"ind_{rule}", leaf, p, round(float(rng.uniform(1, 100)), 3), rep))
    writer = Writer(engine, clock=lambda: NOW)
    with writer.batch() as batch:
        batch.catalog(_catalog())
        batch.regions(regions, LEVELS)
        batch.values([{"indicator": i, "region": r, "period": p, "value": v, "reported_at": t} for i, r, p, v, t in rows])
    return pd.DataFrame(rows, columns=["indicator", "region", "period", "value", "reported_at"])


def test_every_rollup_rule_gives_parent_equal_rule_of_children(engine):
    leaf_values = _load(engine)
    regions = {r["code"]: r for r in _tree()}
    with engine.connect() as conn:
        got = pd.DataFrame(conn.execute(text(
            "SELECT indicator_code, region_code, period, value, reported_at FROM indicator_values WHERE derived = :t"
        ), {"t": True}).all(), columns=["indicator", "region", "period", "value", "reported_at"])
    got["period"] = pd.to_datetime(got["period"]).dt.date
    got["reported_at"] = [from_epoch(t) for t in got["reported_at"]]
    got = got.set_index(["indicator", "region", "period"])
    # Children of each parent, one level at a time, exactly as the rule says.
    children = {"A": ["A1", "A2", "A3"], "B": ["B1", "B2"], "R": ["A", "B"]}
    values = leaf_values.set_index(["indicator", "region", "period"])
    for parent in ("A", "B", "R"):  # townships first: the city rolls up the townships' derived values
        for (ind, per), _ in values.groupby(level=["indicator", "period"]):
            rule = ind.removeprefix("ind_")
            kids = [(ind, k, per) for k in children[parent]]
            src = values if parent != "R" else got
            v = src.loc[kids, "value"].to_numpy(dtype=float)
            pop = np.array([regions[k]["population"] for k in children[parent]], float)
            expected = {
                "sum": v.sum(), "mean": v.mean(), "max": v.max(), "min": v.min(),
                "wmean": (v * pop).sum() / pop.sum(),
                "last": v[np.argmax(pd.to_datetime(src.loc[kids, "reported_at"]).to_numpy())],
            }[rule]
            assert got.loc[(ind, parent, per), "value"] == pytest.approx(expected, rel=1e-9), (rule, parent, per)


def test_loaded_parent_values_are_never_overwritten_by_rollup(engine):
    _load(engine)
    Writer(engine, clock=lambda: NOW).values([{"indicator": "ind_sum", "region": "A", "period": "2026-01", "value": -1}])
    Writer(engine, clock=lambda: NOW).values([{"indicator": "ind_sum", "region": "A1", "period": "2026-01", "value": 5}])
    with engine.connect() as conn:
        v = conn.execute(text("SELECT value, derived FROM indicator_values WHERE indicator_code = 'ind_sum' AND region_code = 'A' "
                              "AND period = :p"), {"p": date(2026, 1, 1)}).one()
    assert tuple(v) == (-1, False)


def test_closure_holds_every_ancestor_pair_for_any_depth(engine):
    Writer(engine, clock=lambda: NOW).regions(_tree(), LEVELS)
    with engine.begin() as conn:
        n = build_closure(conn)
        pairs = set(conn.execute(text("SELECT ancestor_code, descendant_code FROM region_closure")).all())
    assert n == len(pairs) == 8 + 7 + 5  # self pairs + parent pairs + grandparent pairs
    assert ("R", "B2") in pairs and ("A", "A3") in pairs and ("A", "B1") not in pairs
