"""Leases: one row per holder (a heartbeat writes one row at any number of services), fencing
(a holder whose lease was taken over or removed writes nothing more), and unlock refusing a
live lease unless --force."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from release_trains.errors import EXIT_NOT_NOW, LockHeldError, LostLockError
from release_trains.lifecycle import RunStatus
from release_trains.state import Lock, Step, Store, open_store, this_host

T0 = "2026-01-05T09:00:00.000+00:00"
T0_TS = 1767603600.0  # T0 as a timestamp
LATER = "2026-01-05T09:00:30.000+00:00"
STALE_AFTER_S = 60.0


def store_at(path: Path) -> Store:
    store = open_store(str(path), path.parent, create=True)
    assert store is not None
    return store


def lease(lock_id: str, *, host: str = "elsewhere", pid: int = 99999, at: str = T0) -> Lock:
    return Lock("", lock_id, "T", f"ops@{host}", host, pid, at, at)


def resources(n: int) -> list[str]:
    return ["train:T", *(f"service:s{i:04d}" for i in range(n))]


class Counting:
    """A Database that counts the rows every write statement changes (any backend)."""

    def __init__(self, db: Any) -> None:
        self.inner = db
        self.kind, self.where = db.kind, db.where
        self.changed = 0

    @contextmanager
    def tx(self, *, write: bool = True) -> Iterator[Any]:
        with self.inner.tx(write=write) as tx:
            yield _CountingTx(tx, self)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class _CountingTx:
    def __init__(self, tx: Any, counter: Counting) -> None:
        self.tx, self.counter = tx, counter

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        cursor = self.tx.execute(sql, params)
        if not sql.lstrip().upper().startswith("SELECT"):
            self.counter.changed += max(0, cursor.rowcount)
        return cursor

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        rows = list(rows)
        self.tx.executemany(sql, rows)
        self.counter.changed += len(rows)


def test_a_heartbeat_writes_one_row_at_a_thousand_services(tmp_path: Path) -> None:
    store = store_at(tmp_path / "s.db")
    try:
        store.acquire(resources(1000), lease("L1"), stale_after_s=STALE_AFTER_S, now_ts=T0_TS)
        counting = Counting(store.db)
        store.db = counting
        assert store.heartbeat("L1", LATER)
        assert counting.changed == 1
        locks = store.locks("T")
        assert len(locks) == 1001 and {lk.heartbeat_at for lk in locks} == {LATER}
    finally:
        store.close()


def test_a_taken_over_lease_fences_its_old_holder(tmp_path: Path) -> None:
    store = store_at(tmp_path / "s.db")
    try:
        run = store.create_run(
            train="T", status="planning", actor="a", plan="{}", max_parallel=1, now=T0
        )
        store.add_steps([Step(run.id, "s0000", 0, "pending", "1", "2")])
        store.acquire(resources(1), lease("OLD"), stale_after_s=STALE_AFTER_S, now_ts=T0_TS)
        old = store.fenced("OLD")
        old.update_step(run.id, "s0000", attempts=1)  # holding: written
        old.transition(run.id, expected=RunStatus.PLANNING, new=RunStatus.VALIDATING, now=T0)

        # another host finds the lease's heartbeat older than stale_after and takes it over
        taken = store.acquire(
            resources(1),
            lease("NEW", host="host-b", at=LATER),
            stale_after_s=STALE_AFTER_S,
            now_ts=T0_TS + STALE_AFTER_S + 1,
        )
        assert {t.lock_id for t in taken} == {"OLD"}
        with pytest.raises(LostLockError) as lost:
            old.update_step(run.id, "s0000", status="deploying")
        assert lost.value.exit_code == EXIT_NOT_NOW
        assert str(lost.value).startswith("lost the lock on T to ops@host-b")
        with pytest.raises(LostLockError):
            old.add_event(run.id, ts=LATER, kind="deploy", service="s0000", message="x")
        with pytest.raises(LostLockError):
            store.transition(
                run.id,
                expected=RunStatus.VALIDATING,
                new=RunStatus.STAGING,
                now=LATER,
                lock_id="OLD",
            )
        assert not old.heartbeat("OLD", LATER)  # its lease is gone: the holder must stop
        [step] = store.steps(run.id)
        assert (step.status, step.attempts) == ("pending", 1)  # nothing of the old holder's
        assert store.events(run.id) == []
        current = store.run(run.id)
        assert current is not None and current.status == "validating"
        new = store.fenced("NEW")
        new.update_step(run.id, "s0000", status="deploying")  # the new holder writes

        store.unlock("T", "NEW", force=True, now_ts=T0_TS, stale_after_s=STALE_AFTER_S)
        with pytest.raises(LostLockError) as removed:
            new.update_step(run.id, "s0000", status="released")
        assert "to nobody" in str(removed.value) and "unlock --force" in str(removed.value)
    finally:
        store.close()


def test_unlock_refuses_a_live_lease_unless_forced(tmp_path: Path) -> None:
    store = store_at(tmp_path / "s.db")
    try:
        here = lease("LIVE", host=this_host(), pid=os.getpid())  # this very process: alive
        store.acquire(resources(2), here, stale_after_s=STALE_AFTER_S, now_ts=T0_TS)
        with pytest.raises(LockHeldError) as refused:
            store.unlock("T", "LIVE", force=False, now_ts=T0_TS + 1e6, stale_after_s=1)
        assert refused.value.exit_code == EXIT_NOT_NOW and "--force" in str(refused.value)
        assert len(store.locks("T")) == 3
        removed = store.unlock("T", "LIVE", force=True, now_ts=T0_TS, stale_after_s=1)
        assert len(removed) == 3 and store.locks("T") == []

        store.acquire(resources(2), lease("ELSEWHERE"), stale_after_s=60, now_ts=T0_TS)
        with pytest.raises(LockHeldError):  # a fresh heartbeat from another host: live
            store.unlock("T", "ELSEWHERE", force=False, now_ts=T0_TS + 10, stale_after_s=60)
        store.unlock("T", "ELSEWHERE", force=False, now_ts=T0_TS + 61, stale_after_s=60)
        assert store.locks() == []
    finally:
        store.close()


def test_the_unlock_command_exits_3_for_a_live_lease_and_removes_it_with_force(
    tmp_path: Path, run_cli, sample_root: Path
) -> None:
    db = tmp_path / "s.db"
    store = store_at(db)
    try:
        here = lease("LIVE", host=this_host(), pid=os.getpid())
        store.acquire(resources(1), here, stale_after_s=STALE_AFTER_S, now_ts=T0_TS)
    finally:
        store.close()
    args = ("--root", sample_root, "--state", db, "unlock", "T", "LIVE")
    refused = run_cli(*args)
    assert refused.code == EXIT_NOT_NOW and "is live" in refused.err, refused
    forced = run_cli(*args, "--force", "--json")
    assert forced.code == 0, forced
    store = store_at(db)
    try:
        assert store.locks() == []
    finally:
        store.close()


def test_the_host_name_can_be_overridden(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELEASE_TRAINS_HOST", "build-agent-7")
    assert this_host() == "build-agent-7"
