"""leases.Lease in-process: renewed on a timer, marked lost once another holder took it over
(or it was forced off), every write through its store then refused, and nothing released
that it no longer holds."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from helpers import wait_until

from release_trains.errors import LostLockError
from release_trains.leases import Lease, renewal_interval
from release_trains.state import Store, open_store

TRAIN = "T"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(str(tmp_path / "state.db"), tmp_path, create=True)
    assert opened is not None
    yield opened
    opened.close()


def _utc() -> datetime:
    return datetime.now(timezone.utc)


def _lease(store: Store, tmp_path: Path, *, host: str, stale_after_s: float = 120) -> Lease:
    return Lease(
        store=store,
        train=TRAIN,
        services=["a", "b"],
        holder=f"tester@{host}",
        host=host,
        pid=os.getpid(),
        stale_after_s=stale_after_s,
        clock=_utc,
        audit_root=tmp_path,
    )


def test_renewals_come_every_quarter_of_the_stale_time_at_most_once_a_second() -> None:
    assert renewal_interval(120) == 30
    assert renewal_interval(2) == 1.0


def test_the_timer_renews_the_lease_while_the_holder_does_nothing(
    store: Store, tmp_path: Path
) -> None:
    with _lease(store, tmp_path, host="here", stale_after_s=4) as lease:
        first = {lk.heartbeat_at for lk in store.locks(TRAIN)}
        wait_until(
            lambda: {lk.heartbeat_at for lk in store.locks(TRAIN)} != first,
            timeout_s=10,
            what="a renewal",
        )
        assert not lease.lost
    assert store.locks(TRAIN) == []  # released on exit


def test_a_lease_taken_over_is_lost_and_its_writes_are_refused(
    store: Store, tmp_path: Path
) -> None:
    old = _lease(store, tmp_path, host="host-a", stale_after_s=1)
    with old:
        run = old.store.create_run(
            train=TRAIN, status="planning", actor="t", plan="{}", max_parallel=1, now="x"
        )
        # another host, a minute later: the old lease looks stale and is taken over
        later = _utc() + timedelta(minutes=1)
        new = Lease(
            store=store,
            train=TRAIN,
            services=["a", "b"],
            holder="tester@host-b",
            host="host-b",
            pid=os.getpid(),
            stale_after_s=1,
            clock=lambda: later,
            audit_root=tmp_path,
        )
        with new:
            assert old.renew() is False
            assert old.lost
            with pytest.raises(LostLockError, match=f"lost the lock on {TRAIN} to tester@host-b"):
                old.check()
            with pytest.raises(LostLockError, match=f"lost the lock on {TRAIN}"):
                old.store.update_step(run.id, "a", status="deploying")
            with pytest.raises(LostLockError):
                old.store.add_event(run.id, ts="x", kind="deploy", service="a", message="m")
            assert store.events(run.id) == []
        assert store.locks(TRAIN) == []
    assert store.locks(TRAIN) == []  # the old holder released nothing (it held nothing)


def test_a_lease_removed_by_unlock_force_is_lost(store: Store, tmp_path: Path) -> None:
    with _lease(store, tmp_path, host="here") as lease:
        store.unlock(TRAIN, lease.lock_id, force=True, now_ts=_utc().timestamp(), stale_after_s=1)
        assert not lease.renew()
        with pytest.raises(LostLockError, match="to nobody"):
            lease.check()
