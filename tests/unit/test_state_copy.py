"""state/copy.py: a whole store into an empty one, either way between SQLite and PostgreSQL;
ids kept (and PostgreSQL's identities moved past them), leases left behind, a destination
holding anything refused (exit 3) with nothing written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from release_trains.lifecycle import RunStatus
from release_trains.state import AuditEntry, Lock, Step, open_store
from release_trains.state.copy import DestinationNotEmpty, copy_store

NOW = "2026-01-01T00:00:00.000+00:00"


def open_(url: str) -> Any:
    store = open_store(url, Path("."), create=True)
    assert store is not None
    return store


def fill(store: Any) -> None:
    """Two runs (the first with a gap after it: ids are kept, not renumbered), steps, events,
    versions, audit records and a live lease."""
    first = store.create_run(
        train="T", status=RunStatus.PLANNING, actor="me", plan="{}", max_parallel=1, now=NOW
    )
    store.add_steps(
        [
            Step(
                run_id=first.id,
                service="a",
                position=0,
                status="pending",
                from_version=None,
                to_version="2.0.0",
            )
        ]
    )
    store.update_step(first.id, "a", status="released", attempts=1, health="healthy")
    store.add_event(first.id, ts=NOW, kind="note", service="a", message="100% done")
    with store.db.tx() as tx:  # a run id the sequence never handed out
        tx.execute(
            "INSERT INTO runs (id, train, status, started_at, updated_at, actor, plan)"
            " VALUES (7, 'U', 'failed', ?, ?, 'me', '{}')",
            (NOW, NOW),
        )
    store.set_deployed_version("local", "a", "2.0.0", now=NOW)
    for i in range(3):
        store.append_audit(
            AuditEntry(NOW, "me@h", "note", "T", None, {"n": i, "text": "ü 100%"}), origin="h:/x"
        )
    lock = Lock(
        resource="train:T",
        lock_id="L1",
        train="T",
        holder="me@h",
        host="h",
        pid=1,
        started_at=NOW,
        heartbeat_at=NOW,
    )
    store.acquire(["train:T", "service:a"], lock, stale_after_s=60, now_ts=0)


def dump(store: Any) -> dict[str, Any]:
    runs = store.runs()
    return {
        "runs": runs,
        "steps": {r.id: store.steps(r.id) for r in runs},
        "events": {r.id: store.events(r.id) for r in runs},
        "deployed": store.deployed_everywhere("a"),
        "audit": store.audit_chain(),
    }


@pytest.mark.parametrize("direction", ["sqlite->postgresql", "postgresql->sqlite"])
def test_copy_keeps_everything_but_leases(
    direction: str, postgres_db_url: str, tmp_path: Path
) -> None:
    sqlite_url = str(tmp_path / "state.db")
    src_url, dst_url = (
        (sqlite_url, postgres_db_url)
        if direction.startswith("sqlite")
        else (postgres_db_url, sqlite_url)
    )
    src, dst = open_(src_url), open_(dst_url)
    try:
        fill(src)
        result = copy_store(src.db, dst.db)
        assert result.copied["runs"] == 2 and result.copied["steps"] == 1
        assert result.copied["events"] == 1 and result.copied["audit_records"] == 3
        assert set(result.not_copied) == {"leases", "locks"}
        assert dump(dst) == dump(src)
        assert [r.id for r in dst.runs()] == [1, 7]
        assert src.locks() and dst.locks() == []  # the lease stays with its store
        # the next run gets the next id on either backend (PostgreSQL: identity advanced)
        after = dst.create_run(
            train="V", status=RunStatus.PLANNING, actor="me", plan="{}", max_parallel=1, now=NOW
        )
        assert after.id == 8
        # the next audit record extends the copied chain, with the next id
        added = dst.append_audit(AuditEntry(NOW, "me@h", "note", "V", None, "x"), origin="h:/x")
        chain = dst.audit_chain()
        assert added.id == 4 and added.prev == chain[-2].hash and chain[-1] == added
        with dst.db.tx(write=False) as tx:
            assert tx.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    finally:
        src.close()
        dst.close()


def test_copy_into_a_store_holding_anything_is_exit_3_and_writes_nothing(
    postgres_db_url: str, tmp_path: Path
) -> None:
    src, dst = open_(str(tmp_path / "state.db")), open_(postgres_db_url)
    try:
        fill(src)
        dst.set_deployed_version("local", "z", "9.9.9", now=NOW)  # not a run, still not empty
        with pytest.raises(DestinationNotEmpty) as caught:
            copy_store(src.db, dst.db)
        assert caught.value.exit_code == 3
        assert f"DST {postgres_db_url} is not empty" in str(caught.value)
        assert dst.runs() == [] and dst.deployed_everywhere("a") == {}
    finally:
        src.close()
        dst.close()
