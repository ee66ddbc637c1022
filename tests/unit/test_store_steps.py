"""The steps table: the deployer command in flight is recorded with its step, and a store made
before those columns existed gets them without losing a row."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from helpers import schema_0_1_0

from release_trains.state import SCHEMA_VERSION, Step, migrate_store, open_store

# A store as release 0.1.0 created it (no deploy_* columns), with one step left deploying.
OLD_STEPS = (
    schema_0_1_0()
    + """
INSERT INTO steps (run_id, service, position, status, from_version, to_version)
VALUES (1, 'a', 0, 'deploying', '1.0.0', '2.0.0');
"""
)


def test_an_old_store_gets_the_in_flight_columns_and_keeps_its_steps(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    con = sqlite3.connect(path)
    con.executescript(OLD_STEPS)
    con.close()

    reader = open_store(str(path), tmp_path, create=False)  # a reader changes nothing ...
    assert reader is not None
    try:
        [step] = reader.steps(1)
        assert (step.service, step.status, step.deploy_pgid) == ("a", "deploying", None)
        assert reader.deploys_in_flight(["a"]) == []  # no column: nothing recorded in flight
    finally:
        reader.close()

    assert (
        migrate_store(str(path), tmp_path, host="h").from_version == 1
    )  # ... the migration adds them
    store = open_store(str(path), tmp_path, create=True)
    assert store is not None
    try:
        [step] = store.steps(1)
        assert (step.from_version, step.to_version) == ("1.0.0", "2.0.0")
        store.update_step(1, "a", deploy_pgid=4242, deploy_host="h", deploy_started_at="t")
        [in_flight] = store.deploys_in_flight(["a", "b"])
        assert (in_flight.deploy_pgid, in_flight.deploy_host) == (4242, "h")
        assert store.deploys_in_flight(["b"]) == []
        assert store.deploys_in_flight([]) == []
    finally:
        store.close()
    again = migrate_store(str(path), tmp_path, host="h")  # migrating again changes nothing
    assert (again.from_version, again.to_version, again.changed) == (
        SCHEMA_VERSION,
        SCHEMA_VERSION,
        False,
    )


def test_a_cleared_record_is_no_longer_in_flight(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "s.db"), tmp_path, create=True, busy_timeout_s=5)
    assert store is not None
    try:
        run = store.create_run(
            train="T", status="executing", actor="me", plan="{}", max_parallel=1, now="t"
        )
        store.add_steps([Step(run.id, "a", 0, "pending", "1.0.0", "2.0.0")])
        store.update_step(run.id, "a", deploy_pgid=7, deploy_host="h", deploy_started_at="t")
        assert [s.service for s in store.deploys_in_flight(["a"])] == ["a"]
        store.update_step(run.id, "a", deploy_pgid=None, deploy_host=None, deploy_started_at=None)
        assert store.deploys_in_flight(["a"]) == []
    finally:
        store.close()
