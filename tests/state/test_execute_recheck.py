"""Execute re-checks the train under its lock: a train completed by another process between
this execute's first look and its lock is refused (exit 3), and no second run is created."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml

from release_trains.catalog import load_catalog
from release_trains.errors import EXIT_NOT_NOW, TransitionError
from release_trains.executor import Executor, Settings
from release_trains.state import Store, default_path, open_store


def make_root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    files: dict[str, Any] = {
        "catalog/service-index.yaml": {
            "services": [
                {
                    "name": "a",
                    "version": "1.0.0",
                    "quality": {"score": 90, "open_critical_vulns": 0},
                }
            ]
        },
        "catalog/release-trains.yaml": {
            "trains": [{"name": "T", "target_version": "2.0.0", "participants": ["a"]}]
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


def executor(root: Path) -> tuple[Store, Executor]:
    store = open_store(str(default_path(root)), root, create=True, busy_timeout_s=5)
    assert store is not None
    settings = Settings(clock=lambda: datetime.now(timezone.utc), who="tester@host")
    return store, Executor(catalog=load_catalog(root), store=store, train="T", settings=settings)


def test_a_train_completed_while_execute_waited_for_its_lock_is_refused(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    store, late = executor(root)
    take = store.acquire

    def completed_meanwhile(*args: Any, **kwargs: Any) -> Any:
        # another execute runs the whole train between this one's first look and its lock
        other_store, other = executor(root)
        try:
            assert other.execute().status == "completed"
        finally:
            other_store.close()
        return take(*args, **kwargs)

    store.acquire = completed_meanwhile  # type: ignore[method-assign]
    try:
        with pytest.raises(TransitionError) as refused:
            late.execute()
        assert refused.value.exit_code == EXIT_NOT_NOW
        assert "it is completed" in str(refused.value)
        assert [(r.id, r.status) for r in store.runs("T")] == [(1, "completed")]
        assert store.locks() == []
    finally:
        store.close()
