"""Concurrent feeds over real HTTP (werkzeug in a thread, one keep-alive connection per client), on SQLite
and PostgreSQL: 20 clients × 1,000 events give exactly 20,000 new rows, the roll-ups count every one of
them, and 20 clients re-sending the same ids at once create each event exactly once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime

import pytest

from callbacks.api import API_PREFIX
from tests.api.conftest import City, Client, event, make_city

CLIENTS, PER_CLIENT, BATCH = 20, 1000, 100


@pytest.fixture(scope="module")
def served(module_db, serve) -> tuple[City, tuple[str, int]]:
    city = make_city(module_db)
    return city, serve(city.app)


def _run(clients: int, work: Callable[[int], list]) -> list:
    """Run ``work(k)`` in ``clients`` threads released together; re-raise the first failure."""
    results: list = [None] * clients
    errors: list[BaseException] = []
    start = threading.Barrier(clients)

    def run(k: int) -> None:
        try:
            start.wait()
            results[k] = work(k)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results


def test_twenty_concurrent_clients_posting_a_thousand_events_each_give_exactly_twenty_thousand_rows(served):
    city, address = served
    leaves = sorted(city.leaves)
    tokens = [city.token() for _ in range(CLIENTS)]
    month = datetime.now().strftime("%Y-%m-01")
    root_before = int(city.scalar("SELECT COALESCE(SUM(n), 0) FROM event_monthly WHERE region_code = :r AND month = :m "
                                  "AND source = 'load'", r=city.root, m=month))
    versions_before = int(city.state()["data_version"])

    def feed(k: int) -> list[tuple[int, dict]]:
        client, answers = Client(address, tokens[k]), []
        try:
            for b in range(PER_CLIENT // BATCH):
                items = []
                for j in range(BATCH):
                    n = b * BATCH + j
                    leaf = leaves[(k * 7 + n) % len(leaves)]
                    # every fifth event is placed by its point only
                    place = {"point": city.leaves[leaf]} if n % 5 == 0 else {"region": leaf}
                    items.append(event(f"c{k}-{n}", source="load", **place))
                answers.append(client.post(f"{API_PREFIX}/events", items))
        finally:
            client.close()
        return answers

    answers = [a for client in _run(CLIENTS, feed) for a in client]

    assert [status for status, _ in answers] == [201] * (CLIENTS * PER_CLIENT // BATCH), answers[:3]
    assert sum(body["created"] for _, body in answers) == CLIENTS * PER_CLIENT
    assert city.scalar("SELECT COUNT(*) FROM events WHERE source = 'load'") == CLIENTS * PER_CLIENT
    assert city.scalar("SELECT COUNT(DISTINCT external_id) FROM events WHERE source = 'load'") == CLIENTS * PER_CLIENT
    ids = [i["event_id"] for _, body in answers for i in body["items"]]
    assert len(set(ids)) == len(ids) == CLIENTS * PER_CLIENT
    # Each write saw the one before it: every batch counted once in the roll-ups, one version per batch.
    assert int(city.scalar("SELECT SUM(n) FROM event_monthly WHERE region_code = :r AND month = :m AND source = 'load'",
                           r=city.root, m=month)) == root_before + CLIENTS * PER_CLIENT
    versions = sorted(body["data_version"] for _, body in answers)
    assert versions == list(range(versions_before + 1, versions_before + 1 + len(answers)))


def test_twenty_clients_sending_the_same_ids_at_once_create_each_event_once(served):
    city, address = served
    leaf = sorted(city.leaves)[0]
    tokens = [city.token() for _ in range(CLIENTS)]
    items = [event(f"same-{n}", source="replay", region=leaf) for n in range(50)]
    before = city.state()["events"]

    def feed(k: int) -> tuple[int, dict]:
        client = Client(address, tokens[k])
        try:
            return client.post(f"{API_PREFIX}/events", items)
        finally:
            client.close()

    answers = _run(CLIENTS, feed)

    assert sorted(status for status, _ in answers) == [200] * (CLIENTS - 1) + [201]
    assert sum(body["created"] for _, body in answers) == 50
    assert sum(body["duplicate"] for _, body in answers) == 50 * (CLIENTS - 1)
    assert city.state()["events"] == before + 50
    # Every client is told the same stored id for each of its items.
    first = [i["event_id"] for i in answers[0][1]["items"]]
    assert all([i["event_id"] for i in body["items"]] == first for _, body in answers)
