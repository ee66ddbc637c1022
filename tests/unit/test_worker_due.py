"""Workers start due trains by themselves (issue 15): three workers looking at once (pinned
clock, local deployer, one SQLite store) start a due train once, leave a train scheduled later
alone, and start nothing while a freeze is in force."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import yaml
from helpers import wait_until

from release_trains import audit
from release_trains.catalog import load_catalog
from release_trains.freezes import freeze_platform
from release_trains.state import Store, default_path, open_store
from release_trains.worker import JobWorker

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


def _root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    trains = [
        {
            "name": name,
            "target_version": "2.0.0",
            "participants": [service],
            "schedule": {"start_time": start.isoformat()},
        }
        for name, service, start in (
            ("due", "a", NOW - timedelta(minutes=1)),
            ("later", "b", NOW + timedelta(hours=1)),
        )
    ]
    files: dict[str, Any] = {
        "catalog/service-index.yaml": {
            "services": [
                {"name": n, "version": "1.0.0", "quality": {"score": 90, "open_critical_vulns": 0}}
                for n in ("a", "b")
            ]
        },
        "catalog/release-trains.yaml": {"trains": trains},
        "config/upgrade-policies.yaml": {"release_trains": {"environment": "test"}},
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


def _workers(root: Path, stopping: threading.Event, count: int) -> list[JobWorker]:
    return [
        JobWorker(
            root=root,
            state_url=None,
            clock=lambda: NOW,
            name=f"w{n}@host",
            host="host",
            pid=1000 + n,
            poll_s=0.01,
            stopping=stopping,
            due_every_s=0.01,
        )
        for n in range(count)
    ]


def _run_until(workers: list[JobWorker], stopping: threading.Event, done: Any) -> None:
    threads = [threading.Thread(target=w.run, daemon=True) for w in workers]
    for t in threads:
        t.start()
    try:
        wait_until(done, timeout_s=60, what="the workers' starts")
    finally:
        stopping.set()
        for t in threads:
            t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)


def test_three_workers_start_a_due_train_once_and_leave_a_later_one(tmp_path: Path) -> None:
    root = _root(tmp_path)
    store = _store(root)
    stopping = threading.Event()
    try:
        workers = _workers(root, stopping, 3)

        def completed() -> bool:
            run = store.latest_run("due")
            return run is not None and run.status == "completed"

        _run_until(workers, stopping, completed)
        # more looks after the run: it ran, so it is never due again
        assert len(store.runs("due")) == 1
        assert store.runs("later") == []
        assert store.latest_run("due").actor.startswith("w")  # type: ignore[union-attr]
    finally:
        store.close()


def test_workers_start_nothing_while_frozen(tmp_path: Path) -> None:
    root = _root(tmp_path)
    store = _store(root)
    config = load_catalog(root).config
    freeze_platform(
        config,
        store,
        reason="INC-9",
        until=None,
        who="op@host",
        now=NOW - timedelta(hours=1),
        audit_path=audit.path_for(root),
    )
    stopping = threading.Event()
    said: list[str] = []
    try:
        workers = _workers(root, stopping, 1)
        workers[0].echo = said.append
        _run_until(workers, stopping, lambda: any("frozen by platform freeze" in s for s in said))
        assert store.runs("due") == []
    finally:
        store.close()
