"""Whether an active run still has an executor: a run whose lock's holder is gone (its process
on this host, or a heartbeat older than `lock_stale_after` elsewhere), or that has no lock at
all, is shown as "executor gone", needs attention (exit 1) and ends `monitor --watch`. And a
run that has not stored its plan yet (killed in validating) is shown from the catalog."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from release_trains.catalog import load_catalog
from release_trains.monitoring import Snapshot, changes, follow, snapshot, summaries
from release_trains.state import Lock, Store, open_store

TRAIN = "Q4-curve-upgrade"
ORDER = ["curve-service", "backtesting-service", "scenario-service"]
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)
STAMP = T0.isoformat(timespec="milliseconds")
STALE_AFTER_S = 120  # the default executor.lock_stale_after


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def active_run(root: Path, *, status: str = "executing", plan: str = "{}") -> Store:
    store = open_store(None, root, create=True)
    assert store is not None
    store.create_run(train=TRAIN, status=status, actor="op@h", plan=plan, max_parallel=1, now=STAMP)
    return store


def lock(store: Store, *, pid: int, host: str | None = None, heartbeat: str = STAMP) -> Lock:
    held = Lock(
        resource="",
        lock_id="abc123",
        train=TRAIN,
        holder="op@h",
        host=host or socket.gethostname(),
        pid=pid,
        started_at=STAMP,
        heartbeat_at=heartbeat,
    )
    store.acquire([f"train:{TRAIN}", *(f"service:{s}" for s in ORDER)], held,
                  stale_after_s=STALE_AFTER_S, now_ts=T0.timestamp())  # fmt: skip
    return held


def read(root: Path, *, at: datetime = T0 + timedelta(seconds=5)) -> Snapshot:
    catalog = load_catalog(root)
    store = open_store(None, root, create=False)
    try:
        return snapshot(catalog, store, TRAIN, now=at)
    finally:
        if store:
            store.close()


def test_a_run_whose_executor_was_killed_is_gone_since_its_last_heartbeat(
    sample_root: Path,
) -> None:
    store = active_run(sample_root)
    lock(store, pid=dead_pid())
    store.close()
    snap = read(sample_root)
    assert snap.status == "executing"  # the status stays what the run recorded
    assert snap.executor is not None and snap.executor.gone
    assert snap.executor.since == STAMP
    assert snap.executor.describe() == f"executor gone since {STAMP}: run `execute` to resume"
    assert snap.exit_code == 1
    doc = snap.to_json()
    assert doc["executor"]["state"] == "gone" and doc["executor"]["since"] == STAMP
    assert doc["status"] == "executing" and "reason" in doc  # the existing keys stay
    # the watcher ends on it: nobody will move this run on
    assert [s.status for s in follow(lambda: snap, interval_s=0, sleep=lambda _: None)] == [
        "executing"
    ]
    head = changes(None, snap)[0]
    assert head.endswith(f": executor gone since {STAMP}: run `execute` to resume"), head


def test_a_run_whose_executor_lives_is_running(sample_root: Path) -> None:
    store = active_run(sample_root)
    lock(store, pid=os.getpid())  # this very process holds it: alive
    store.close()
    snap = read(sample_root, at=T0 + timedelta(hours=5))  # a long silence on this host: alive
    assert snap.executor is not None and snap.executor.state == "running"
    assert snap.exit_code == 0
    assert snap.to_json()["executor"]["pid"] == os.getpid()
    assert "gone" not in changes(None, snap)[0]


def test_an_active_run_with_no_lock_is_gone_since_its_last_update(sample_root: Path) -> None:
    store = active_run(sample_root, status="verifying")
    run = store.latest_run(TRAIN)
    assert run is not None
    later = (T0 + timedelta(seconds=3)).isoformat(timespec="milliseconds")
    store.add_event(run.id, ts=later, kind="note", service=None, message="still going")
    store.close()
    snap = read(sample_root)
    assert snap.executor is not None and snap.executor.gone
    assert snap.executor.since == later  # the newest thing the run recorded
    assert snap.exit_code == 1


@pytest.mark.parametrize(("age_s", "state"), [(STALE_AFTER_S + 1, "gone"), (30, "running")])
def test_a_lock_of_another_host_is_gone_once_its_heartbeat_is_stale(
    sample_root: Path, age_s: int, state: str
) -> None:
    store = active_run(sample_root)
    lock(store, pid=1, host="another-host.example")
    store.close()
    snap = read(sample_root, at=T0 + timedelta(seconds=age_s))
    assert snap.executor is not None and snap.executor.state == state
    assert snap.exit_code == (1 if state == "gone" else 0)


@pytest.mark.parametrize("status", ["paused", "completed", "failed"])
def test_a_run_that_is_not_active_expects_no_executor(sample_root: Path, status: str) -> None:
    active_run(sample_root, status=status).close()
    snap = read(sample_root)
    assert snap.executor is None and snap.to_json()["executor"] is None


def test_a_train_that_never_ran_expects_no_executor(sample_root: Path) -> None:
    snap = read(sample_root)
    assert snap.run_id is None and snap.executor is None and snap.exit_code == 0


def test_the_list_of_trains_says_which_executor_is_gone(sample_root: Path) -> None:
    store = active_run(sample_root)
    lock(store, pid=dead_pid())
    rows = {r.train: r for r in summaries(load_catalog(sample_root), store, now=T0)}
    store.close()
    row = rows[TRAIN]
    assert row.executor is not None and row.executor.gone and row.exit_code == 1
    assert row.to_json()["executor"]["state"] == "gone"
    assert all(r.executor is None and r.exit_code == 0 for n, r in rows.items() if n != TRAIN)


# --- a run that has not stored its plan yet ---------------------------------------------------


def test_a_run_killed_in_validating_is_shown_from_the_catalog(sample_root: Path) -> None:
    """Its plan is "{}" until validating writes it: the participants are resolved from the
    catalog and shown pending, with the gates and dependencies planned now."""
    active_run(sample_root, status="validating", plan="{}").close()
    snap = read(sample_root)
    assert (snap.status, snap.run_id) == ("validating", 1)
    assert [(s.service, s.status) for s in snap.services] == [(n, "pending") for n in ORDER]
    assert len(snap.gates) == 3 and len(snap.dependencies) == 1
    assert snap.executor is not None and snap.executor.gone and snap.exit_code == 1
