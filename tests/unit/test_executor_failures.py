"""The executor in-process, for what a subprocess cannot arrange: a deployer that raises.

A run that fails for an unexpected reason (an exception inside a phase) still ends in a final
status, `failed`, with the reason recorded, and its locks are released.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml

from release_trains.catalog import load_catalog
from release_trains.deployers.local import LocalDeployer
from release_trains.executor import Executor, Settings
from release_trains.state import Store, default_path, open_store


def _root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    files: dict[str, Any] = {
        "catalog/service-index.yaml": {
            "services": [
                {
                    "name": "a",
                    "version": "1.0.0",
                    "quality": {"score": 90, "open_critical_vulns": 0},
                },
                {
                    "name": "b",
                    "version": "1.0.0",
                    "dependencies": {"internal": ["a"]},
                    "quality": {"score": 90, "open_critical_vulns": 0},
                },
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


def _execute(root: Path) -> tuple[Store, Executor]:
    store = open_store(str(default_path(root)), root, create=True, busy_timeout_s=5)
    assert store is not None
    settings = Settings(clock=lambda: datetime.now(timezone.utc), who="tester@host")
    executor = Executor(catalog=load_catalog(root), store=store, train="T", settings=settings)
    return store, executor


def test_a_deployer_that_raises_ends_the_run_failed_with_the_reason_and_unlocked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _root(tmp_path)

    def explode(self: LocalDeployer, req: Any) -> Any:
        if req.service == "b":
            raise RuntimeError("deployer blew up")
        return original(self, req)

    original = LocalDeployer.deploy
    monkeypatch.setattr(LocalDeployer, "deploy", explode)
    store, executor = _execute(root)
    try:
        with pytest.raises(RuntimeError, match="deployer blew up"):
            executor.execute()
        run = store.latest_run("T")
        assert run is not None
        assert run.status == "failed"
        assert run.finished_at is not None
        assert run.reason and "RuntimeError: deployer blew up" in run.reason, run.reason
        assert "executing" in run.reason  # the phase it happened in
        assert store.locks() == []
        events = [e.message for e in store.events(run.id) if e.kind == "status"]
        assert events[-1].startswith("executing -> failed"), events
    finally:
        store.close()

    # The failed run can be executed again once the deployer works: a is not deployed twice.
    monkeypatch.setattr(LocalDeployer, "deploy", original)
    store, executor = _execute(root)
    try:
        outcome = executor.execute()
        assert outcome.status == "completed", outcome
        assert {s.service: s.attempts for s in outcome.steps} == {"a": 1, "b": 2}
    finally:
        store.close()


def test_an_error_before_the_run_exists_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _root(tmp_path)
    store, executor = _execute(root)

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("no journal today")

    monkeypatch.setattr("release_trains.executor.Journal", broken)
    try:
        with pytest.raises(RuntimeError, match="no journal today"):
            executor.execute()
        run = store.latest_run("T")
        assert run is not None and run.status == "planning"  # created, never started
        assert store.locks() == []
    finally:
        store.close()
