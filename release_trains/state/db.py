"""The Database interface every backend implements, and the embedded SQLite backend.

Every store module (runs, locks, history, schema) talks to a `Database` only: one transaction
at a time through `tx()`, SQL written once in the subset SQLite and PostgreSQL share (`?`
placeholders, ON CONFLICT, RETURNING, CASE WHEN; no PRAGMA outside this backend). Write
transactions are serialised store-wide (SQLite: BEGIN IMMEDIATE), so a read-check-write inside
one write transaction is atomic. Driver errors become StateBusyError (exit 3) or StateError
(exit 4) naming the store, or InputError (exit 2) when the file is not a store at all.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, Protocol

from ..errors import InputError, LostLockError, StateBusyError, StateError

DEFAULT_BUSY_TIMEOUT_S = 10.0


class Cursor(Protocol):
    """What `Tx.execute` returns: rows support row["col"] and row[0]."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class Tx(Protocol):
    """One open transaction (what `Database.tx` yields)."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor: ...

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None: ...


class Database(Protocol):
    """One connection (or pool) to one store."""

    kind: str  # "sqlite" | "postgresql"
    where: str  # for messages: a path, or the URL without any password

    def tx(self, *, write: bool = True) -> AbstractContextManager[Tx]: ...

    def select(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """The rows of ONE read statement, run on its own (no transaction around it: a single
        statement always reads one consistent snapshot); one round trip on PostgreSQL where a
        read transaction takes three statements."""
        ...

    def change_mark(self) -> object:
        """A value that differs from the last one this connection gave whenever anyone has
        committed to the store since, and only then: what a reader keys answers on that
        stay true while nothing changed (server/unchanged.py). Meaningful on a connection
        that never writes, compared with earlier values of the same connection."""
        ...

    def close(self) -> None: ...

    # Introspection for schema.py (identity checks and migrations), inside a transaction.
    def tables(self, tx: Tx) -> set[str]: ...

    def columns(self, tx: Tx, table: str) -> set[str]: ...

    def integrity_ok(self) -> bool: ...


# What the server says when the audit chain's head is not the one a writer expected (chain.py)
CHAIN_MOVED = "release-trains: the audit chain moved"


class ChainMoved(Exception):
    """Raised by a backend whose check of the expected audit chain head failed inside the
    server (postgres.py): the transaction was rolled back; the writer reads the head and
    writes again (RunsMixin.record)."""


class FenceBroken(Exception):
    """Raised by a backend whose fence check fails inside the server (postgres.py): the
    transaction was rolled back; StoreBase._write turns it into LostLockError."""


def not_a_store(where: str, why: str) -> InputError:
    return InputError(
        f"{where} is not a release-trains state store ({why}); point --state (or "
        "RELEASE_TRAINS_STATE) at one, or move this file away (the default store is "
        "analysis/state/release-trains.db under --root, made by the first execute)"
    )


class _SQLiteTx:
    """sqlite3's connection already is a Tx (execute, executemany); this narrows it."""

    def __init__(self, con: sqlite3.Connection) -> None:
        self._con = con

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        return self._con.execute(sql, tuple(params))

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self._con.executemany(sql, (tuple(r) for r in rows))


class SQLiteDatabase:
    """A SQLite file (which exists: opening never creates one; see create_sqlite)."""

    kind = "sqlite"

    def __init__(self, path: Path, *, busy_timeout_s: float) -> None:
        self.path = path
        self.where = str(path)
        self.busy_timeout_s = busy_timeout_s
        self._mutex = threading.RLock()  # one connection, shared by the executor's threads
        try:
            # mode=rw: opening never creates a file (only create_sqlite does, atomically)
            self._con = sqlite3.connect(
                f"{path.absolute().as_uri()}?mode=rw",
                uri=True,
                timeout=busy_timeout_s,
                isolation_level=None,
                check_same_thread=False,
            )
        except sqlite3.Error as e:
            raise StateError(f"cannot open the state store {path}: {e}") from None
        self._con.row_factory = sqlite3.Row
        self._tx = _SQLiteTx(self._con)
        try:
            self._con.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
        except sqlite3.DatabaseError as e:
            self._con.close()
            raise self.translate(e) from None

    def prepare_for_writing(self) -> None:
        """WAL, so readers never block the executor. Called once the file is known to be a
        store: a file of another kind is left untouched."""
        self._pragma("PRAGMA journal_mode = WAL")

    def finish_open(self) -> None:
        # WAL + FULL (SQLite's own default): a commit is on the disk when it returns, as with
        # PostgreSQL's default, so the intent recorded before a deploy survives a power cut
        # and a resumed run never deploys again what it had started. NORMAL would survive a
        # killed process only, for one fsync less per commit (~0.2-0.3 ms here, B3).
        self._pragma("PRAGMA synchronous = FULL")

    def _pragma(self, sql: str) -> None:
        with self._mutex:
            try:
                self._con.execute(sql)
            except sqlite3.DatabaseError as e:
                raise self.translate(e) from None

    @contextmanager
    def tx(self, *, write: bool = True) -> Iterator[Tx]:
        with self._mutex:
            try:
                self._con.execute("BEGIN IMMEDIATE" if write else "BEGIN")
                try:
                    yield self._tx
                except BaseException:
                    self._con.execute("ROLLBACK")
                    raise
                self._con.execute("COMMIT")
            except sqlite3.DatabaseError as e:
                if self._con.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        self._con.execute("ROLLBACK")
                raise self.translate(e) from None

    def select(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._mutex:
            try:
                return self._con.execute(sql, tuple(params)).fetchall()
            except sqlite3.DatabaseError as e:
                raise self.translate(e) from None

    def change_mark(self) -> object:
        # SQLite's own counter: it moves when another connection commits (this one never
        # writes where it is asked); values of two connections are not comparable
        rows = self.select("PRAGMA data_version")
        return int(rows[0][0])

    def tables(self, tx: Tx) -> set[str]:
        rows = tx.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        ).fetchall()
        return {str(r[0]) for r in rows}

    def columns(self, tx: Tx, table: str) -> set[str]:
        return {str(r[1]) for r in tx.execute(f"PRAGMA table_info({table})").fetchall()}

    def integrity_ok(self) -> bool:
        with self._mutex:
            try:
                return bool(self._con.execute("PRAGMA integrity_check").fetchone()[0] == "ok")
            except sqlite3.DatabaseError as e:
                raise self.translate(e) from None

    def close(self) -> None:
        with self._mutex:
            self._con.close()

    def translate(self, e: sqlite3.DatabaseError) -> Exception:
        text = str(e)
        if "not a database" in text or "encrypted" in text:  # not SQLite, or replaced under us
            return not_a_store(self.where, "not a SQLite database")
        if "malformed" in text:
            return StateError(
                f"the state store {self.where} is damaged ({text}); restore it from a backup"
            )
        if "locked" in text or "busy" in text:
            return StateBusyError(
                f"the state store {self.where} stayed locked by another process for more than "
                f"{self.busy_timeout_s:g} s; try again when it is free"
            )
        if "readonly" in text or "unable to open" in text or "disk I/O" in text:
            return StateError(
                f"cannot write the state store {self.where}: {text} (check permissions)"
            )
        return StateError(f"state store {self.where}: {text}")


def create_sqlite(path: Path) -> None:
    """Make a new, empty store at `path` so that it appears complete or not at all.

    The schema is built in a temporary file in the same folder, then hard-linked to `path`:
    a link never replaces a file, so when another process created the store first, its store
    (perhaps already holding a run) is kept and ours is dropped; os.replace would overwrite
    it. Where the file system has no hard links, an empty file is made instead and the
    writer's open_store builds the schema in one transaction, readers taking the empty file
    for no store yet.
    """
    from . import schema

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.close(fd)
    except OSError as e:
        raise StateError(f"cannot create the state store {path}: {e.strerror or e}") from None
    tmp = Path(name)
    try:
        db = SQLiteDatabase(tmp, busy_timeout_s=DEFAULT_BUSY_TIMEOUT_S)
        try:
            with db.tx() as tx:
                schema.create(db, tx)
            # set here, so the store is in WAL mode from the moment anyone can open it; the
            # WAL file is empty and removed at close, so the linked file holds everything
            db.prepare_for_writing()
        finally:
            db.close()
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process made it first: use theirs
        except OSError:
            with contextlib.suppress(FileExistsError), open(path, "xb"):
                pass  # no hard links here: open_store(create=True) builds the schema in place
    except OSError as e:
        raise StateError(f"cannot create the state store {path}: {e.strerror or e}") from None
    finally:
        for leftover in (tmp, *(Path(f"{tmp}{x}") for x in ("-journal", "-wal", "-shm"))):
            with contextlib.suppress(OSError):
                leftover.unlink(missing_ok=True)


class StoreBase:
    """What every part of Store (runs.py, locks.py, history.py) builds on: the Database, the
    shape it was opened with, and the fence that guards every write transaction."""

    def __init__(
        self,
        db: Database,
        *,
        version: int,
        tables: frozenset[str],
        step_columns: tuple[str, ...],
        read_only: str | None = None,
    ) -> None:
        self.db = db
        self.version = version  # the store's schema version (older: readable, not writable)
        self.tables = tables
        self.step_columns = step_columns  # those an older store lacks read as their default
        self._read_only = read_only  # why writes are refused (an older schema), if they are
        self._fence: tuple[str, str] | None = None  # (lock id, train) every write must hold
        self._together = threading.local()  # .tx: the read transaction of read_together
        # the hash of the last audit record this store appended: on PostgreSQL the next one is
        # chained to it without reading the head first (checked in the server: chain.py)
        self._chain_head: str | None = None

    @property
    def where(self) -> str:
        return self.db.where

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def _write(self, *, fenced: bool = True) -> Iterator[Tx]:
        """One write transaction; on a fenced store it first checks the lease still holds the
        train (a lease taken over or removed: LostLockError, and nothing is written)."""
        if self._read_only is not None:
            from ..errors import SchemaVersionError

            raise SchemaVersionError(self._read_only)
        fence = self._fence if fenced else None
        try:
            with self.db.tx() as tx:
                if fence is not None:
                    self._check_fence(tx, fence[0], train=fence[1])
                yield tx
        except FenceBroken:
            assert fence is not None
            self._lost(fence[0], train=fence[1])
            raise  # _lost always raises

    @contextmanager
    def read_together(self) -> Iterator[None]:
        """Every read this thread makes inside sees the same state of the store: one read
        transaction instead of one per read. A status document is a dozen reads; apart, a
        commit between two of them could show a step released under a run not yet started,
        and each transaction is a round trip (PostgreSQL) or a turn at the GIL (SQLite)."""
        if getattr(self._together, "tx", None) is not None:
            yield  # already inside one
            return
        with self.db.tx(write=False) as tx:
            self._together.tx = tx
            try:
                yield
            finally:
                self._together.tx = None

    def _read(self) -> AbstractContextManager[Tx]:
        held = getattr(self._together, "tx", None)
        return contextlib.nullcontext(held) if held is not None else self.db.tx(write=False)

    def _select(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """One read statement on its own (Database.select), or in read_together's."""
        held = getattr(self._together, "tx", None)
        if held is not None:
            return list(held.execute(sql, params).fetchall())
        return self.db.select(sql, params)

    def _lost(self, lock_id: str, *, train: str) -> None:
        """Raise the LostLockError of a fence the server found broken. locks.LocksMixin, which
        every Store has, overrides it to name who holds `train` now (it reads the leases)."""
        raise LostLockError(f"lost the lock on {train}: lock {lock_id} no longer holds it")

    def _check_fence(self, tx: Tx, lock_id: str, *, train: str) -> None:
        """Overridden by locks.LocksMixin, which every Store has (it lives there, beside the
        leases it reads; this base cannot import it without a cycle)."""
