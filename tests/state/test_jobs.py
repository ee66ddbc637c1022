"""The queue of jobs for workers (state/jobs.py), on both backends: each job is claimed by
exactly one worker however many claim at once, a job whose worker is gone is claimable again,
and a train has at most one job queued or running."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from release_trains.errors import LockHeldError
from release_trains.state import Store, Worker, open_store

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def at(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat(timespec="milliseconds")


def ts(seconds: float) -> float:
    return (T0 + timedelta(seconds=seconds)).timestamp()


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


def worker(n: int, *, host: str = "elsewhere", pid: int = 1) -> Worker:
    return Worker(lease_id=f"lease-{n}", name=f"w{n}@{host}", host=host, pid=pid)


def enqueue(store: Store, train: str) -> int:
    job = store.enqueue(
        kind="execute", train=train, params={}, requested_by="token:ci", now=at(0), base_run_id=None
    )
    return job.id


def test_concurrent_claims_never_take_the_same_job(opener: Callable[[], Store]) -> None:
    ids = {enqueue(opener(), f"T{i}") for i in range(24)}
    stores = [opener() for _ in range(4)]
    taken: dict[int, list[int]] = {}
    lock = threading.Lock()
    start = threading.Barrier(len(stores))

    def claim(n: int, store: Store) -> None:
        start.wait()
        while True:
            job = store.take(worker(n), now=at(1), now_ts=ts(1), stale_after_s=60)
            if job is None:
                return
            with lock:
                taken.setdefault(job.id, []).append(n)

    threads = [threading.Thread(target=claim, args=(n, s)) for n, s in enumerate(stores)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert set(taken) == ids
    assert all(len(who) == 1 for who in taken.values()), taken
    assert {j.status for j in stores[0].jobs()} == {"running"}


def test_a_job_whose_worker_is_gone_is_taken_again(opener: Callable[[], Store]) -> None:
    store = opener()
    job_id = enqueue(store, "T")
    first = store.take(worker(1), now=at(0), now_ts=ts(0), stale_after_s=60)
    assert first is not None and first.id == job_id and first.attempts == 1
    # its heartbeat is 30 s old: alive, nobody else may take it
    assert store.take(worker(2), now=at(30), now_ts=ts(30), stale_after_s=60) is None
    # 90 s without a heartbeat: the worker is gone, the next one takes the job over
    second = store.take(worker(2), now=at(90), now_ts=ts(90), stale_after_s=60)
    assert second is not None and second.id == job_id
    assert second.attempts == 2 and second.lease_id == "lease-2"
    # the first worker's claim is over: it can neither renew nor finish the job
    assert not store.job_heartbeat(job_id, "lease-1", at(91))
    assert not store.finish_job(
        job_id, "lease-1", status="done", now=at(91), run_id=None, outcome={}, error=None
    )
    assert store.finish_job(
        job_id, "lease-2", status="done", now=at(92), run_id=7, outcome={"x": 1}, error=None
    )
    done = store.job(job_id)
    assert done is not None and done.status == "done" and done.run_id == 7
    assert done.to_json()["outcome"] == {"x": 1}


def test_a_train_has_one_active_job(opener: Callable[[], Store]) -> None:
    store = opener()
    enqueue(store, "T")
    with pytest.raises(LockHeldError, match="already has job"):
        enqueue(store, "T")
    job = store.take(worker(1), now=at(0), now_ts=ts(0), stale_after_s=60)
    assert job is not None
    with pytest.raises(LockHeldError):
        enqueue(store, "T")
    store.finish_job(
        job.id, "lease-1", status="failed", now=at(1), run_id=None, outcome=None, error="boom"
    )
    assert enqueue(store, "T") != job.id  # once it ended, the train can be queued again


def test_a_rollback_may_be_queued_beside_a_run_but_not_beside_a_rollback(
    opener: Callable[[], Store],
) -> None:
    store = opener()
    enqueue(store, "T")

    def rollback() -> int:
        return store.enqueue(
            kind="rollback",
            train="T",
            params={"reason": "bad"},
            requested_by="token:ci",
            now=at(0),
            base_run_id=None,
        ).id

    rollback()
    with pytest.raises(LockHeldError):
        rollback()
