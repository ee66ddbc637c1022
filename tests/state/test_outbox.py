"""The notification outbox (state/outbox.py) on both backends: rows queued with the event they
announce (Store.record) or alone, each claimed by exactly one sender however many claim at
once, an outcome recorded only by the sender holding the row, the run's notifications listed
for status."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from release_trains.lifecycle import RunStatus
from release_trains.state import Store, open_store
from release_trains.state.outbox import OutboxItem, OutboxRow

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def at(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat(timespec="milliseconds")


@pytest.fixture(params=["sqlite", "postgresql"])
def opener(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], Store]]:
    if request.param == "sqlite":
        url = f"sqlite://{tmp_path / 'state' / 'release-trains.db'}"
    else:
        url = request.getfixturevalue("postgres_db_url")
    opened: list[Store] = []

    def open_one() -> Store:
        store = open_store(url, tmp_path, create=True)
        assert store is not None
        opened.append(store)
        return store

    yield open_one
    for store in opened:
        store.close()


def never(_: str) -> bool:
    return False


def test_rows_go_with_their_event_and_are_claimed_once(opener: Callable[[], Store]) -> None:
    store = opener()
    run = store.create_run(
        train="T", status=RunStatus.PLANNING, actor="me", plan="{}", max_parallel=1, now=at(0)
    )
    store.record(
        run.id,
        ts=at(1),
        kind="status",
        service=None,
        message="planning -> validating",
        outbox=lambda event_id: [
            OutboxRow(f"T/{run.id}/{event_id}/{c}", run.id, "T", "started", c, "{}", at(1))
            for c in ("slack", "webhook")
        ],
    )
    [event] = store.events(run.id)
    assert [i.key for i in store.notifications(run.id)] == [
        f"T/{run.id}/{event.id}/slack",
        f"T/{run.id}/{event.id}/webhook",
    ]
    store.queue_notifications(
        [OutboxRow(f"k{i}", None, None, "frozen", "webhook", "{}", at(1)) for i in range(20)]
    )
    stores = [opener() for _ in range(4)]
    claimed: list[list[OutboxItem]] = [[] for _ in stores]

    def claim(n: int) -> None:
        claimed[n] = stores[n].claim_notifications(
            claimer=f"h/{n}/1", now=at(2), until=at(60), abandoned=never, limit=50
        )

    threads = [threading.Thread(target=claim, args=(n,)) for n in range(len(stores))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ids = [i.id for c in claimed for i in c]
    assert len(ids) == len(set(ids)) == 22
    owner = next(n for n, c in enumerate(claimed) if c)
    item = claimed[owner][0]
    other = (owner + 1) % len(stores)
    common = {"now": at(3), "next_attempt_at": at(3), "error": None, "detail": "HTTP 200"}
    assert not stores[other].settle_notification(
        item, claimer=f"h/{other}/1", status="sent", message=None, **common
    )
    assert stores[owner].settle_notification(
        item, claimer=f"h/{owner}/1", status="sent", message="started to slack: delivered", **common
    )
    assert store.pending_notifications() == 21
    if item.run_id is not None:
        assert store.events(run.id)[-1].kind == "notification"


def test_an_expired_claim_is_claimable_again(opener: Callable[[], Store]) -> None:
    store = opener()
    store.queue_notifications([OutboxRow("k", None, None, "frozen", "slack", "{}", at(0))])
    assert store.claim_notifications(claimer="a/1/1", now=at(1), until=at(5), abandoned=never)
    assert not store.claim_notifications(claimer="b/1/1", now=at(2), until=at(9), abandoned=never)
    assert store.claim_notifications(claimer="b/1/1", now=at(6), until=at(9), abandoned=never)
