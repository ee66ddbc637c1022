"""open_store on a PostgreSQL database: made by the first writer in one transaction (a reader
never sees half a store), no tables yet reads as "no state yet", a database of something else
refused unwritten (exit 2), the tables and columns those of SQLite."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from release_trains.errors import InputError
from release_trains.state import SCHEMA_VERSION, open_database, open_store, schema


def tables_of(url: str) -> dict[str, set[str]]:
    db = open_database(url, Path("."), create=False, busy_timeout_s=10)
    assert db is not None
    try:
        with db.tx(write=False) as tx:
            return {t: db.columns(tx, t) for t in db.tables(tx)}
    finally:
        db.close()


def test_reader_sees_no_store_writer_makes_it_whole(postgres_db_url: str) -> None:
    assert open_store(postgres_db_url, Path("."), create=False) is None
    assert tables_of(postgres_db_url) == {}  # the reader created nothing
    store = open_store(postgres_db_url, Path("."), create=True)
    assert store is not None
    try:
        assert store.version == SCHEMA_VERSION
        assert store.where == postgres_db_url
    finally:
        store.close()
    reader = open_store(postgres_db_url, Path("."), create=False)
    assert reader is not None
    reader.close()


def test_same_tables_and_columns_as_sqlite(postgres_db_url: str, tmp_path: Path) -> None:
    for url in (postgres_db_url, str(tmp_path / "s.db")):
        store = open_store(url, Path("."), create=True)
        assert store is not None
        store.close()
    assert tables_of(postgres_db_url) == tables_of(str(tmp_path / "s.db"))


def test_half_made_store_is_never_seen(postgres_db_url: str) -> None:
    db = open_database(postgres_db_url, Path("."), create=True, busy_timeout_s=10)
    assert db is not None
    try:
        with db.tx() as tx:
            schema.create(db, tx)
            # the tables exist in this transaction only: another session sees no store
            assert open_store(postgres_db_url, Path("."), create=False) is None
        reader = open_store(postgres_db_url, Path("."), create=False)
        assert reader is not None
        reader.close()
    finally:
        db.close()


def test_writers_creating_at_once_make_one_store(postgres_db_url: str) -> None:
    errors: list[BaseException] = []
    stores: list[Any] = []

    def writer() -> None:
        try:
            stores.append(open_store(postgres_db_url, Path("."), create=True))
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=writer) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    for store in stores:
        store.close()
    assert "runs" in tables_of(postgres_db_url)


def test_database_of_something_else_is_refused_unwritten(postgres_db_url: str) -> None:
    db = open_database(postgres_db_url, Path("."), create=False, busy_timeout_s=10)
    assert db is not None
    with db.tx() as tx:
        tx.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, amount INTEGER)")
    db.close()
    for create in (False, True):
        with pytest.raises(InputError) as caught:
            open_store(postgres_db_url, Path("."), create=create)
        assert caught.value.exit_code == 2
        assert "not a release-trains state store" in str(caught.value)
        assert "invoices" in str(caught.value)
    assert tables_of(postgres_db_url) == {"invoices": {"id", "amount"}}


def test_store_api_round_trip_and_ids_from_identity(postgres_db_url: str) -> None:
    from release_trains.lifecycle import RunStatus

    store = open_store(postgres_db_url, Path("."), create=True)
    assert store is not None
    try:
        now = "2026-01-01T00:00:00.000+00:00"
        first = store.create_run(
            train="T", status=RunStatus.PLANNING, actor="me", plan="{}", max_parallel=1, now=now
        )
        second = store.create_run(
            train="U", status=RunStatus.PLANNING, actor="me", plan="{}", max_parallel=1, now=now
        )
        assert (first.id, second.id) == (1, 2)
        store.add_event(first.id, ts=now, kind="note", service=None, message="50% done?")
        assert [e.message for e in store.events(first.id)] == ["50% done?"]
        assert store.latest_run("T") == store.run(first.id)
    finally:
        store.close()
