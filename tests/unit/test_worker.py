"""The worker in-process (release_trains/worker.py, submit.py): a queued execute, resume and
rollback are carried out with the requester as the actor; refusals come at enqueue time; a job
taken over after its run already ended is done with that run; `worker --once` with nothing
queued writes nothing."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml

from release_trains.catalog import load_catalog
from release_trains.errors import InputError, LockHeldError, TransitionError
from release_trains.executor import Executor, Settings
from release_trains.state import Store, Worker, default_path, open_store
from release_trains.submit import submit
from release_trains.worker import JobWorker


def now() -> datetime:
    return datetime.now(timezone.utc)


def _root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    files: dict[str, Any] = {
        "catalog/service-index.yaml": {
            "services": [
                {"name": n, "version": "1.0.0", "quality": {"score": 90, "open_critical_vulns": 0}}
                for n in ("a", "b")
            ]
        },
        "catalog/release-trains.yaml": {
            "trains": [{"name": "T", "target_version": "2.0.0", "participants": ["a", "b"]}]
        },
        "config/upgrade-policies.yaml": {
            "release_trains": {"environment": "test", "deployer": {"type": "local"}}
        },
    }
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return root


def _store(root: Path) -> Store:
    store = open_store(str(default_path(root)), root, create=True, busy_timeout_s=5)
    assert store is not None
    return store


def _worker(root: Path) -> JobWorker:
    return JobWorker(
        root=root, state_url=None, clock=now, name="w@host", host="host", pid=12345, poll_s=0.01
    )


def test_queued_execute_and_rollback_are_carried_out_as_the_requester(tmp_path: Path) -> None:
    root = _root(tmp_path)
    catalog = load_catalog(root)
    store = _store(root)
    try:
        job = submit(catalog, store, "T", kind="execute", params={}, who="token:ci", clock=now)
        assert job.status == "queued" and job.run_id is None
        with pytest.raises(LockHeldError, match="already has job"):
            submit(catalog, store, "T", kind="execute", params={}, who="token:ci", clock=now)
        [done] = _worker(root).run(once=True)
        assert done.id == job.id and done.status == "done"
        assert done.to_json()["outcome"]["status"] == "completed"
        run = store.latest_run("T")
        assert run is not None and run.status == "completed" and run.actor == "token:ci"
        assert done.run_id == run.id
        with pytest.raises(TransitionError):  # completed: refused now, as the CLI refuses it
            submit(catalog, store, "T", kind="execute", params={}, who="token:ci", clock=now)
        with pytest.raises(InputError, match="reason"):
            submit(catalog, store, "T", kind="rollback", params={}, who="token:ci", clock=now)
        back = submit(
            catalog, store, "T", kind="rollback", params={"reason": "bad"}, who="token:ops",
            clock=now,
        )  # fmt: skip
        assert back.run_id == run.id
        [rolled] = _worker(root).run(once=True)
        assert rolled.status == "done", rolled.error
        latest = store.latest_run("T")
        assert latest is not None and latest.status == "rolled_back"
    finally:
        store.close()


def test_a_refused_job_ends_failed_with_the_message(tmp_path: Path) -> None:
    root = _root(tmp_path)
    store = _store(root)
    try:
        job = store.enqueue(
            kind="resume",
            train="T",
            params={},
            requested_by="token:ci",
            now="2026-01-01T00:00:00",
            base_run_id=None,
        )  # fmt: skip  (queued directly: submit would refuse a train that is not paused)
        [ended] = _worker(root).run(once=True)
        assert ended.id == job.id and ended.status == "failed"
        assert ended.error and "resume" in ended.error
        assert ended.to_json()["outcome"]["exit_code"] == 3
    finally:
        store.close()


def test_a_job_taken_over_after_its_run_ended_is_done_with_that_run(tmp_path: Path) -> None:
    root = _root(tmp_path)
    catalog = load_catalog(root)
    store = _store(root)
    try:
        submit(catalog, store, "T", kind="execute", params={}, who="token:ci", clock=now)
        # a worker on another host claims it, and "dies" after the run completed
        gone = Worker(lease_id="gone", name="x@elsewhere", host="elsewhere", pid=1)
        t = now()
        claimed = store.take(
            gone, now=t.isoformat(timespec="milliseconds"), now_ts=t.timestamp(), stale_after_s=60
        )
        assert claimed is not None
        Executor(
            catalog=catalog, store=store, train="T", settings=Settings(clock=now, who="token:ci")
        ).execute()
        with store.db.tx() as tx:  # its heartbeat is old now: the next worker takes the job
            tx.execute("UPDATE jobs SET heartbeat_at = '2000-01-01T00:00:00.000+00:00'")
        [done] = _worker(root).run(once=True)
        assert done.status == "done" and done.attempts == 2
        assert done.to_json()["outcome"]["status"] == "completed"
        assert len(store.runs("T")) == 1  # not released again
    finally:
        store.close()


def test_worker_once_with_nothing_queued_writes_nothing(tmp_path: Path, run_cli: Any) -> None:
    root = _root(tmp_path)
    r = run_cli("--root", root, "worker", "--once", "--json")
    assert r.code == 0, r
    assert '"jobs": []' in r.out
    assert not (root / "analysis").exists()


def test_a_woken_worker_takes_a_job_queued_in_its_process_before_its_next_poll(
    tmp_path: Path,
) -> None:
    # serve's routes set the wake event after queueing: the worker must not sit out its poll
    # (here an hour, so only the wake-up can get the job done before the deadline)
    root = _root(tmp_path)
    store = _store(root)
    wake, stopping = threading.Event(), threading.Event()
    worker = JobWorker(
        root=root, state_url=None, clock=now, name="w@host", host="host", pid=12345,
        poll_s=3600, wake=wake, stopping=stopping,
    )  # fmt: skip
    thread = threading.Thread(target=worker.run, daemon=True)
    try:
        thread.start()
        job = submit(load_catalog(root), store, "T", kind="execute", params={}, who="t", clock=now)
        wake.set()
        deadline = time.monotonic() + 60
        while (seen := store.job(job.id)) is not None and seen.status != "done":
            assert time.monotonic() < deadline, f"job still {seen.status}: the wake-up was missed"
            time.sleep(0.01)
    finally:
        stopping.set()
        wake.set()  # as Pool.pause does: the idle worker sees `stopping` at once
        thread.join(timeout=60)
        store.close()
    assert not thread.is_alive()
