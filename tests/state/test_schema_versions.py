"""Schema versions: a store of release 0.1.0 (no recorded version) is read as it is, refused
to writers until `state migrate` upgrades it in place keeping every row (refused while an
older release holds locks, unless --force); a store written by a newer release is refused by
every command (exit 3)."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from pathlib import Path

import pytest
from helpers import OLD_STORE_SQL

from release_trains.errors import EXIT_NOT_NOW, ReleaseTrainError
from release_trains.state import SCHEMA_VERSION, Migration, migrate_store, open_store

NOW = "2026-01-07T09:00:00.000+00:00"


def old_store(path: Path) -> Path:
    """A store exactly as release 0.1.0 made it (its schema, copied from its store.py)."""
    con = sqlite3.connect(path)
    con.executescript(OLD_STORE_SQL.read_text())
    con.close()
    return path


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_0_1_0_store_is_readable_refused_to_writers_and_migrates_keeping_every_row(
    tmp_path: Path, run_cli, sample_root: Path
) -> None:
    db = old_store(tmp_path / "old.db")
    before = digest(db)

    reader = open_store(str(db), tmp_path, create=False)
    assert reader is not None and reader.version == 1
    try:
        runs = reader.runs()
        locks = reader.locks("U")
        steps = reader.steps(2)
        events = reader.events(1)
        assert [(r.train, r.status) for r in runs] == [("T", "completed"), ("U", "executing")]
        assert {lk.resource for lk in locks} == {"train:U", "service:b", "service:c"}
        assert {lk.holder for lk in locks} == {"ops@old-host"}
        assert [s.deploy_pgid for s in steps] == [None, None]  # no column yet: unknown
        assert reader.audit_chain() == [] and reader.legacy_audit_anchor() is None
        assert reader.deployed_versions("local") == {"a": "2.0.0"}
    finally:
        reader.close()
    assert digest(db) == before  # reading changed nothing

    with pytest.raises(ReleaseTrainError) as refused:
        open_store(str(db), tmp_path, create=True)
    assert refused.value.exit_code == EXIT_NOT_NOW
    assert "has schema 1" in str(refused.value) and "release-trains state migrate" in str(
        refused.value
    )
    assert digest(db) == before  # refusing changed nothing either
    execute = run_cli("--root", sample_root, "--state", db, "execute", "pricing-refresh")
    assert execute.code == EXIT_NOT_NOW and "state migrate" in execute.err, execute

    # the old release's run of U still holds its lock: it would fail on the migrated store
    busy = run_cli("--root", sample_root, "--state", db, "state", "migrate")
    assert busy.code == EXIT_NOT_NOW and "train U by ops@old-host" in busy.err, busy
    assert digest(db) == before
    done = run_cli("--root", sample_root, "--state", db, "state", "migrate", "--force", "--json")
    assert done.code == 0, done
    doc = json.loads(done.out)
    assert (doc["from_version"], doc["to_version"], doc["changed"]) == (1, SCHEMA_VERSION, True)

    store = open_store(str(db), tmp_path, create=True)
    assert store is not None and store.version == SCHEMA_VERSION
    try:
        assert store.runs() == runs and store.steps(2) == steps and store.events(1) == events
        assert store.locks("U") == locks  # the same locks, now held by one lease
        assert store.deployed_versions("local") == {"a": "2.0.0"}
        assert store.heartbeat("abc123def456", NOW)
        assert {lk.heartbeat_at for lk in store.locks("U")} == {NOW}
        store.update_step(2, "b", deploy_pgid=7, deploy_host="h", deploy_started_at=NOW)
        assert [s.service for s in store.deploys_in_flight(["b", "c"])] == ["b"]
    finally:
        store.close()
    con = sqlite3.connect(db)
    try:
        assert con.execute("SELECT COUNT(*) FROM leases").fetchone() == (1,)
        assert con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == (
            str(SCHEMA_VERSION),
        )
    finally:
        con.close()

    again = run_cli("--root", sample_root, "--state", db, "state", "migrate")
    assert again.code == 0 and "nothing to do" in again.out, again


def test_two_migrations_at_once_migrate_once(tmp_path: Path) -> None:
    db = old_store(tmp_path / "old.db")
    start = threading.Barrier(2)
    results: list[Migration | BaseException] = []

    def migrate() -> None:
        start.wait()
        try:
            results.append(migrate_store(str(db), tmp_path, force=True, host="h"))
        except BaseException as e:
            results.append(e)

    threads = [threading.Thread(target=migrate) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert all(isinstance(r, Migration) for r in results), results
    assert sorted(r.from_version for r in results if isinstance(r, Migration)) == [
        1,
        SCHEMA_VERSION,
    ]


def test_a_store_of_a_newer_schema_is_refused_by_every_command(
    tmp_path: Path, run_cli, sample_root: Path
) -> None:
    db = tmp_path / "new.db"
    store = open_store(str(db), tmp_path, create=True)
    assert store is not None
    store.close()
    con = sqlite3.connect(db)
    con.execute(
        "UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),)
    )
    con.commit()
    con.close()
    before = digest(db)

    for create in (False, True):
        with pytest.raises(ReleaseTrainError) as refused:
            open_store(str(db), tmp_path, create=create)
        assert refused.value.exit_code == EXIT_NOT_NOW
        assert str(refused.value) == (
            f"the state store {db} has schema {SCHEMA_VERSION + 1}, written by a newer "
            f"release-trains; this one knows up to {SCHEMA_VERSION}: upgrade release-trains"
        )
    for args in (("status",), ("state", "migrate"), ("execute", "pricing-refresh")):
        result = run_cli("--root", sample_root, "--state", db, *args)
        assert result.code == EXIT_NOT_NOW and "newer release-trains" in result.err, result
    assert digest(db) == before
