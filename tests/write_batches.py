"""Batches that a city's systems would send: new events, lifecycle steps, a month of values for every
community. Used by the write-path tests and by ``bench/write_path.py``; generated from what is in the
database, seeded, so the same call gives the same batch."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from dateutil.relativedelta import relativedelta
from sqlalchemy import Engine, text

from datasources.rules import month_floor


def leaves(engine: Engine) -> pd.DataFrame:
    """Leaf regions with an inner point."""
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT code, name, centroid_lon, centroid_lat FROM regions r "
            "WHERE NOT EXISTS (SELECT 1 FROM regions c WHERE c.parent_code = r.code) ORDER BY code"
        )).all()
    return pd.DataFrame(rows, columns=["code", "name", "lon", "lat"])


def new_events(engine: Engine, n: int, now: datetime, seed: int = 7, days: int = 40) -> pd.DataFrame:
    """``n`` events reported over the last ``days`` days (so the previous, complete month is touched too):
    mostly new reports, some already closed, a few severe; one in ten located by coordinates only."""
    rng = np.random.default_rng(seed)
    lf = leaves(engine)
    pick = rng.integers(0, len(lf), n)
    reported = [now - timedelta(seconds=int(s)) for s in rng.integers(60, days * 86400, n)]
    status = rng.choice(["reported", "dispatched", "processing", "resolved", "closed"], n, p=[0.5, 0.15, 0.15, 0.1, 0.1])
    rows = []
    for k in range(n):
        r, s, t = lf.iloc[pick[k]], str(status[k]), reported[k]
        step = lambda h, t=t: min(t + timedelta(hours=h), now)  # noqa: E731
        rows.append({
            "source": "hotline" if k % 3 else "grid",
            "category": "complaint_env" if k % 5 == 0 else "consult" if k % 3 else "sanitation",
            "theme": "environment" if k % 5 == 0 else "public_service",
            "severity": int(rng.choice([1, 2, 3, 4], p=[0.01, 0.04, 0.15, 0.8])),
            "title": f"测试事件 {k}·{r['name']}",
            "lon": float(r["lon"]), "lat": float(r["lat"]),
            "region_code": None if k % 10 == 0 else r["code"],
            "reported_at": t,
            "status": s,
            "department": "市网络理政办",
            "dispatched_at": step(0.2) if s != "reported" else None,
            "resolved_at": step(5) if s in ("resolved", "closed") else None,
            "closed_at": step(8) if s == "closed" else None,
            "satisfaction": int(rng.integers(1, 6)) if s == "closed" else None,
            "due_at": t + timedelta(hours=120),
        })
    return pd.DataFrame(rows)


def month_of_values(engine: Engine, now: datetime, seed: int = 11) -> pd.DataFrame:
    """A value of every loaded indicator that exists at community level, for every community, for the
    previous month (replacing what was there) — what a monthly statistics upload looks like."""
    rng = np.random.default_rng(seed)
    period = month_floor(now) - relativedelta(months=1)
    with engine.connect() as conn:
        deepest = conn.execute(text("SELECT MAX(level) FROM regions")).scalar_one()
        inds = conn.execute(text(
            "SELECT code, unit FROM indicators WHERE level = :l AND code NOT IN (SELECT indicator_code FROM indicator_rules) "
            "ORDER BY code"), {"l": deepest}).all()
        comms = conn.execute(text("SELECT code FROM regions WHERE level = :l ORDER BY code"), {"l": deepest}).scalars().all()
    rows = [
        {"indicator": code, "region": c, "period": period.strftime("%Y-%m"),
         "value": round(float(rng.uniform(0, 100 if unit == "%" else 5000)), 2)}
        for code, unit in inds
        for c in comms
    ]
    return pd.DataFrame(rows)


def lifecycle_steps(engine: Engine, n: int, now: datetime) -> list[dict]:
    """Dispatch the ``n`` newest reported events to a department."""
    with engine.connect() as conn:
        ids = conn.execute(text("SELECT id FROM events WHERE status = 'reported' ORDER BY id DESC LIMIT :n"), {"n": n}).scalars()
        return [{"id": i, "status": "dispatched", "at": now, "department": "市城管局"} for i in ids]
