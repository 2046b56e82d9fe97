"""Fuzzing the ingest endpoints with Hypothesis: hostile values (injection strings, NULs, lone surrogates,
huge numbers, wrong types, nested objects) in every field of otherwise valid items. Never a 5xx; a
refused batch (4xx) writes nothing."""

from __future__ import annotations

import json
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from callbacks.api import API_PREFIX
from callbacks.ingest_api import FIELDS
from tests.access.test_fuzz import HOSTILE
from tests.api.conftest import City, event, make_city

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                        HealthCheck.too_slow])
TIMES = st.sampled_from(["2026-11-20T10:00:00", "20261120", "2026-W47-5", "0001-01-01T00:00:00", "9999-12-31T23:59:59",
                         "2026-11-20T10:00:00.123456", "2026-02-30T00:00:00", "2026-11-20 10:00"])


@pytest.fixture(scope="module")
def city(module_db) -> City:
    return make_city(module_db, api_rate_per_minute=0)


@pytest.fixture(scope="module")
def token(city) -> str:
    return city.token()


def _check(city: City, token: str, path: str, items: list) -> None:
    before = city.state()
    resp = city.app.server.test_client().post(path, data=json.dumps(items), content_type="application/json",
                                              headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code < 500, resp.get_data(as_text=True)[:500]
    assert resp.is_json and "error" in resp.get_json() or resp.status_code in (200, 201)
    if resp.status_code >= 400:
        assert city.state() == before


@FUZZ
@given(field=st.sampled_from([f.name for f in FIELDS["events"]] + ["extra"]), value=st.one_of(HOSTILE, TIMES))
def test_hostile_event_fields_never_fail_the_server(city, token, field, value):
    leaf = sorted(city.leaves)[0]
    item = event(f"fuzz-{zlib.crc32(repr((field, value)).encode()):08x}", region=leaf) | {field: value}
    _check(city, token, f"{API_PREFIX}/events", [event("fuzz-fixed", region=leaf), item])


@FUZZ
@given(kind=st.sampled_from(["readings", "values"]), field=st.sampled_from(["facility_id", "metric", "ts", "value",
                                                                            "indicator", "region", "period", "reported_at"]),
       value=st.one_of(HOSTILE, TIMES))
def test_hostile_reading_and_value_fields_never_fail_the_server(city, token, kind, field, value):
    good = {"readings": {"facility_id": city.live_facilities[0][0], "metric": "pm25", "ts": "2026-11-20T10:00:00", "value": 1},
            "values": {"indicator": "env_aqi", "region": city.towns[0], "period": "2026-10", "value": 1}}[kind]
    _check(city, token, f"{API_PREFIX}/{kind}", [good | {field: value}])
