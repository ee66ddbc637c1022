"""Opening and creating the state store: a reader sees no store or a complete one, never a
half-made one; a file that is not a release-trains store is bad input naming the file."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from release_trains.errors import EXIT_INPUT, EXIT_NOT_NOW, ReleaseTrainError
from release_trains.state import migrate_store, open_store

NOW = "2026-01-05T09:00:00.000+00:00"


def db_path(root: Path) -> Path:
    return root / "analysis" / "state" / "release-trains.db"


# --- creation is atomic ------------------------------------------------------------------------


def test_concurrent_create_and_read_never_fail(tmp_path: Path) -> None:
    """A reader polling while the first writer creates the store sees either no store (None)
    or a complete one: never "no such table" (issue 10: about 1 in 15 `status` calls)."""
    create_while_reading(tmp_path)


def create_while_reading(tmp_path: Path, *, rounds: int = 25) -> None:
    """`rounds` fresh stores, each created by a writer while two readers poll it."""
    errors: list[BaseException] = []
    for i in range(rounds):
        root = tmp_path / f"r{i}"
        created = threading.Event()

        def create(root: Path = root, created: threading.Event = created) -> None:
            try:
                store = open_store(None, root, create=True)
                assert store is not None
                store.create_run(
                    train="T", status="planning", actor="a@h", plan="{}", max_parallel=1, now=NOW
                )
                store.close()
            except BaseException as e:  # reported below, with the iteration
                errors.append(e)
            finally:
                created.set()

        def read(root: Path = root, created: threading.Event = created) -> None:
            try:
                while True:
                    done = created.is_set()  # read once more after the writer finished
                    store = open_store(None, root, create=False)
                    if store is not None:
                        store.latest_run("T")
                        store.steps(1)
                        store.close()
                    if done:
                        return
            except BaseException as e:
                errors.append(e)

        readers = [threading.Thread(target=read) for _ in range(2)]
        for t in readers:
            t.start()
        writer = threading.Thread(target=create)
        writer.start()
        for t in (writer, *readers):
            t.join(timeout=30)
            assert not t.is_alive()
        assert not errors, f"iteration {i}: {errors[0]!r}"
    leftovers = [p.name for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []  # no temporary file is left behind


def test_a_store_left_without_tables_is_no_state_yet_and_a_writer_completes_it(
    tmp_path: Path,
) -> None:
    """A creation killed before its schema was written (release 0.1.0 created the file first)
    leaves an empty SQLite file: readers see no state yet; the next writer builds the schema."""
    path = db_path(tmp_path)
    path.parent.mkdir(parents=True)
    sqlite3.connect(path).close()  # an empty database: no tables
    assert open_store(None, tmp_path, create=False) is None
    path.write_bytes(b"")  # zero bytes is an empty SQLite database too
    assert open_store(None, tmp_path, create=False) is None

    store = open_store(None, tmp_path, create=True)
    assert store is not None
    store.create_run(train="T", status="planning", actor="a@h", plan="{}", max_parallel=1, now=NOW)
    store.close()
    reader = open_store(None, tmp_path, create=False)
    assert reader is not None and reader.latest_run("T") is not None
    reader.close()


def test_an_existing_store_keeps_its_data_when_opened_for_writing(tmp_path: Path) -> None:
    store = open_store(None, tmp_path, create=True)
    assert store is not None
    store.create_run(train="T", status="planning", actor="a@h", plan="{}", max_parallel=1, now=NOW)
    store.close()
    again = open_store(None, tmp_path, create=True)
    assert again is not None
    run = again.latest_run("T")
    assert run is not None and run.id == 1
    assert again.integrity_ok()
    again.close()


# --- a file that is not a state store ------------------------------------------------------


def not_a_store(path: Path) -> str:
    """The error opening `path` gives, for readers and writers alike (and the file unchanged)."""
    before = path.read_bytes()
    messages = []
    for create in (False, True):
        with pytest.raises(ReleaseTrainError) as e:
            open_store(str(path), path.parent, create=create)
        assert e.value.exit_code == EXIT_INPUT
        messages.append(str(e.value))
    assert messages[0] == messages[1]
    assert path.read_bytes() == before  # nothing written
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no -wal, -shm, tmp
    assert str(path) in messages[0] and "is not a release-trains state store" in messages[0]
    return messages[0]


def test_a_text_file_is_not_a_state_store(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("these are my notes, not a database\n" * 10, encoding="utf-8")
    assert "not a SQLite database" in not_a_store(path)


def test_a_sqlite_file_of_another_shape_is_not_a_state_store(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    con.commit()
    con.close()
    message = not_a_store(path)
    assert "no table runs" in message and "customers" in message


def test_a_runs_table_with_other_columns_is_not_a_state_store(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE runs (id INTEGER PRIMARY KEY, what TEXT)")
    con.commit()
    con.close()
    message = not_a_store(path)
    assert "table runs lacks the columns" in message and "train" in message


def test_a_directory_is_not_a_state_store(tmp_path: Path) -> None:
    folder = tmp_path / "state.db"
    folder.mkdir()
    for create in (False, True):
        with pytest.raises(ReleaseTrainError) as e:
            open_store(str(folder), tmp_path, create=create)
        assert e.value.exit_code == EXIT_INPUT and str(folder) in str(e.value)
        assert "directory" in str(e.value)


def test_without_hard_links_the_store_is_built_in_place_and_readers_still_never_fail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Some file systems have no hard links: the writer then creates an empty file and builds
    the schema in one transaction; a reader takes the empty file for no store yet."""
    import errno

    def no_links(src: object, dst: object) -> None:
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr("release_trains.state.db.os.link", no_links)
    create_while_reading(tmp_path)
    store = open_store(None, tmp_path / "r0", create=False)
    assert store is not None and store.latest_run("T") is not None
    store.close()


def test_a_migration_adds_the_tables_an_older_store_lacks(tmp_path: Path) -> None:
    store = open_store(None, tmp_path, create=True)
    assert store is not None
    store.close()
    con = sqlite3.connect(db_path(tmp_path))
    con.execute("DROP TABLE events")  # as if written by a release before events existed
    con.execute("DROP TABLE meta")  # ... which recorded no schema version
    con.commit()
    con.close()
    reader = open_store(None, tmp_path, create=False)
    assert reader is not None  # still a store: only the runs table identifies one
    reader.close()
    with pytest.raises(ReleaseTrainError) as refused:  # a writer does not change it silently
        open_store(None, tmp_path, create=True)
    assert refused.value.exit_code == EXIT_NOT_NOW and "state migrate" in str(refused.value)
    assert migrate_store(None, tmp_path, host="h").from_version == 1
    writer = open_store(None, tmp_path, create=True)
    assert writer is not None
    assert writer.events(1) == []
    writer.close()
