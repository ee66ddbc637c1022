"""The PostgreSQL backend of the Database interface (state/db.py), for a store shared by a team.

psycopg 3, plain SQL, no SQLAlchemy: the store's SQL is written once in the subset SQLite and
PostgreSQL share, so all a backend has to do is connect, run transactions and turn `?` into
`%s`; SQLAlchemy Core would add its own imports on top of psycopg's (psycopg alone: ~0.1 s
here) to every command touching the store (start-up budget B1 of benchmarks/README.md) and a
second way of writing the same statements. psycopg is imported here only, and only when a
postgresql:// URL is opened: a command on a SQLite store (or none) never loads it.

Transactions (`tx`), each begun and ended explicitly (psycopg's autocommit is on only so that
it sends no BEGIN of its own), their statements sent in batches (PostgresTx): a statement is
queued, and the queue goes to the server in one round trip (psycopg's pipeline mode, each
statement with parameters as a prepared statement of the session) when a result is read and
with the COMMIT, so a transaction costs one round trip per read it waits for plus one. Behind
PgBouncer, use its session pooling, or 1.21 or later with `max_prepared_statements` set: its
transaction pooling would hand a session's prepared statements to another client.
One-statement reads (`select`) run on their own, without BEGIN/COMMIT: one round trip.
- write: READ COMMITTED, and `SELECT pg_advisory_xact_lock(ADVISORY_KEY)` first thing, so write
  transactions run one at a time store-wide, like SQLite's BEGIN IMMEDIATE. Each statement after
  the lock reads what every earlier writer committed (READ COMMITTED takes a snapshot per
  statement; REPEATABLE READ would freeze the snapshot taken before the lock was granted), so a
  read-check-write inside one write transaction is atomic. The lock is let go at COMMIT/ROLLBACK.
- read: REPEATABLE READ, READ ONLY: every statement of one read sees the same snapshot (a run and
  its locks read together are consistent), and a read never waits for a writer.
- waits: `lock_timeout` is the busy timeout; a wait past it is StateBusyError (exit 3), as are
  deadlocks and serialisation failures (a retry succeeds). `idle_in_transaction_session_timeout`
  ends a session stuck inside a transaction (a client stopped with SIGSTOP), so it cannot hold
  the store's write lock for ever.

Connection failures: a server that does not answer, refuses or cannot be resolved is
StateUnavailableError (exit 3, "not now": it is a condition of the moment, a retry later may
succeed, and nothing was done); a URL whose credentials or database are wrong is InputError
(exit 2, fix --state / RELEASE_TRAINS_STATE). Every message names the store by its URL without
the password (StateURL.shown), and a driver's text is scrubbed of the password before use.

The executor shares one store between its threads: one connection, used under a lock (as the
SQLite backend does). A connection the server dropped is replaced at the next transaction.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from ..errors import InputError, StateBusyError, StateError, StateUnavailableError
from .db import CHAIN_MOVED, ChainMoved, FenceBroken
from .url import StateURL

# The key of the store-wide write lock (pg_advisory_xact_lock): "rt-state" as a big-endian
# 64-bit integer, fixed so that every release-trains on every machine takes the same lock.
ADVISORY_KEY = int.from_bytes(b"rt-state", "big")
CONNECT_TIMEOUT_S = 10  # libpq's connect_timeout, unless the URL sets its own
KEEPALIVES = {
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
}
# A session idle inside a transaction this long is ended by the server: ours never wait on
# anything but the database inside one, so only a stopped or hung client gets there.
IDLE_IN_TX_TIMEOUT_S = 60
_BEGIN_WRITE = "BEGIN ISOLATION LEVEL READ COMMITTED"
_WRITE_LOCK = f"SELECT pg_advisory_xact_lock({ADVISORY_KEY})"
_BEGIN_READ = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"


class Row:
    """A result row read like sqlite3.Row: row["col"], row[0], dict(row), iteration over values."""

    __slots__ = ("_index", "_values")

    def __init__(self, index: dict[str, int], values: Sequence[Any]) -> None:
        self._index = index
        self._values = values

    def __getitem__(self, key: int | str) -> Any:
        if isinstance(key, str):
            return self._values[self._index[key]]
        return self._values[key]

    def keys(self) -> list[str]:
        return list(self._index)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Row({dict(zip(self._index, self._values, strict=True))!r})"


def _row_factory(cursor: Any) -> Any:
    # psycopg asks for a row maker for every result, a BEGIN's or a COMMIT's included: the
    # column names are read from the result itself (cursor.description builds a Column object
    # per column each time: a tenth of an execute's client time on this store)
    result = cursor.pgresult
    if result is None or not result.nfields:
        return tuple
    index = {result.fname(i).decode(): i for i in range(result.nfields)}
    return lambda values: Row(index, values)


@functools.lru_cache(maxsize=1024)
def _changes_schema(sql: str) -> bool:
    return sql.lstrip()[:6].upper() in ("CREATE", "ALTER", "DROP")


@functools.lru_cache(maxsize=1024)
def to_pyformat(sql: str) -> str:
    """The store's SQL (`?` placeholders) as psycopg wants it (`%s`, a literal `%` doubled).

    A `?` inside a quoted string or identifier is text, not a placeholder; a `%` is doubled
    everywhere, since psycopg reads `%` even inside literals when parameters are passed (and we
    always pass them, an empty tuple included).

    Parameters are bound by the server to the prepared statement, typed from where they stand:
    a parameter the server cannot type alone (`? IS NULL`, `SELECT ? + ?`: a text is sent
    untyped and a small int as smallint) must be given a type by its context or a CAST.
    """
    out: list[str] = []
    quote: str | None = None
    for ch in sql:
        if quote is not None:
            if ch == quote:
                quote = None  # a doubled quote ('') closes and reopens: same result
            out.append("%%" if ch == "%" else ch)
        elif ch in ("'", '"'):
            quote = ch
            out.append(ch)
        elif ch == "?":
            out.append("%s")
        elif ch == "%":
            out.append("%%")
        else:
            out.append(ch)
    return "".join(out)


class PostgresCursor:
    """A statement's result, read from the server only when asked for (fetch*, rowcount):
    asking sends every statement queued so far, this one included, in one round trip."""

    __slots__ = ("_rowcount", "_rows", "_tx")

    def __init__(self, tx: PostgresTx) -> None:
        self._tx = tx
        self._rows: list[Any] | None = None
        self._rowcount = -1

    def _done(self, rows: list[Any], rowcount: int) -> None:
        self._rows, self._rowcount = rows, rowcount

    def _result(self) -> list[Any]:
        if self._rows is None:
            self._tx.flush()
        assert self._rows is not None
        return self._rows

    @property
    def rowcount(self) -> int:
        self._result()
        return self._rowcount

    def fetchone(self) -> Any:
        rows = self._result()
        return rows.pop(0) if rows else None

    def fetchall(self) -> list[Any]:
        rows = self._result()
        self._rows = []
        return rows


class PostgresTx:
    """One transaction (what PostgresDatabase.tx yields), its statements sent in batches.

    `execute` only queues a statement; the queue goes to the server in one round trip, in
    psycopg's pipeline mode, when a result is read and at the end with the COMMIT. A write
    transaction that reads nothing (BEGIN, the write lock, the fence, its statements, COMMIT)
    is therefore one round trip, where one round trip per statement cost ~0.3-1 ms each on
    this machine. A statement with parameters goes as a prepared statement of the session
    (psycopg prepares it on first sight and keeps up to `prepared_max` of them), so the
    server parses and plans each of the store's few dozen statements once per session (and
    again after a ROLLBACK, after which psycopg starts its cache afresh), not once per run:
    the time a release's transactions wait for the server fell by ~40 % (B3 on PostgreSQL,
    benchmarks/README.md). A statement the server refuses aborts the transaction
    there: the server skips the rest of the batch, the error is raised where the batch was
    sent (at the latest for the COMMIT), and the caller rolls back: nothing is written, as
    when each statement went alone.
    """

    def __init__(self, conn: Any, error: type[Exception]) -> None:
        self._conn = conn
        self._error = error  # psycopg.Error (psycopg is imported by PostgresDatabase alone)
        self._queue: list[tuple[str, tuple[Any, ...] | None, bool, PostgresCursor | None]] = []
        # A CREATE, ALTER or DROP was sent: nothing after it is prepared, and the session
        # ends with the transaction (see tx()).
        self.changed_schema = False

    def execute(self, sql: str, params: Sequence[Any] = ()) -> PostgresCursor:
        cursor = PostgresCursor(self)
        # from a schema change on, nothing more is prepared in this session (see tx())
        self.changed_schema = self.changed_schema or _changes_schema(sql)
        self._queue.append((to_pyformat(sql), tuple(params), not self.changed_schema, cursor))
        return cursor

    def queue(self, sql: str) -> None:
        """A statement without parameters whose result nobody reads (BEGIN, COMMIT): sent as
        it is, never prepared."""
        self._queue.append((sql, None, False, None))

    def flush(self) -> None:
        queue, self._queue = self._queue, []
        if not queue:
            return
        conn = self._conn
        sent = []
        first: Exception | None = None  # the error that ended the batch: the one reported
        try:
            with conn.pipeline():  # on leaving: one sync, every result read
                for sql, params, prepare, _ in queue:
                    cur = conn.cursor()
                    try:
                        cur.execute(sql, params, prepare=prepare)
                    except self._error as e:
                        # a refusal read back while sending, or a value the driver cannot
                        # send: stop there and leave the block normally (leaving it on an
                        # exception makes psycopg log the statements it skipped to stderr)
                        first = e
                        break
                    sent.append(cur)
        except self._error as e:
            raise (first or e) from None
        if first is not None:
            raise first
        for cur, (_, _, _, target) in zip(sent, queue, strict=True):
            if target is not None:
                result = cur.pgresult  # rows only from a statement that returns them
                rows = cur.fetchall() if result is not None and result.nfields else []
                target._done(list(rows), cur.rowcount)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        rows = [tuple(r) for r in rows]
        if rows:
            self.flush()  # in order: what was queued goes first
            with self._conn.cursor() as cur:
                cur.executemany(to_pyformat(sql), rows)


class PostgresDatabase:
    """One connection to one PostgreSQL store."""

    kind = "postgresql"

    def __init__(self, url: StateURL, *, busy_timeout_s: float) -> None:
        assert url.kind == "postgresql" and url.conninfo is not None
        self.url = url
        self.where = url.shown
        self.busy_timeout_s = busy_timeout_s
        self._mutex = threading.RLock()
        import psycopg  # only here: see the module's docstring

        self._psycopg = psycopg
        self._conn: Any = None
        self._connect()

    # --- connection ----------------------------------------------------------------------

    def _connect(self) -> None:
        psycopg = self._psycopg
        conninfo = self.url.conninfo
        assert conninfo is not None
        try:
            given = psycopg.conninfo.conninfo_to_dict(conninfo)
        except psycopg.Error as e:
            raise InputError(
                f"--state / RELEASE_TRAINS_STATE {self.where!r} is not a usable PostgreSQL URL: "
                f"{self._text(e)}"
            ) from None
        extra: dict[str, Any] = {}
        if "connect_timeout" not in given:
            extra["connect_timeout"] = CONNECT_TIMEOUT_S
        if "application_name" not in given:
            extra["application_name"] = "release-trains"
        # TCP keepalives: a server that vanished (a partition, a host powered off) while we
        # wait for its answer is noticed in about 25 s instead of the system's ~2 hours; a
        # server merely busy (or a write waiting for the store's lock) answers the probes.
        for key, value in KEEPALIVES.items():
            if key not in given:
                extra[key] = value
        try:
            # autocommit in psycopg's sense only: tx() sends BEGIN itself, with the write lock
            # in the same round trip (psycopg's own BEGIN would cost one more per transaction);
            # every statement of the store runs inside one of those transactions.
            conn = psycopg.connect(conninfo, autocommit=True, row_factory=_row_factory, **extra)
        except psycopg.Error as e:
            raise self._connect_error(e) from None
        # lock_timeout 0 means "wait for ever" to PostgreSQL; a busy timeout of 0 means "do
        # not wait": the shortest wait it knows is 1 ms.
        wait_ms = max(1, int(self.busy_timeout_s * 1000))
        try:
            conn.execute(
                "SELECT set_config('lock_timeout', %s, false),"
                " set_config('idle_in_transaction_session_timeout', %s, false)",
                (f"{wait_ms}ms", f"{IDLE_IN_TX_TIMEOUT_S}s"),
            )
        except psycopg.Error as e:
            conn.close()
            raise self._error(e) from None
        self._conn = conn

    def _connect_error(self, e: Exception) -> Exception:
        text = self._text(e)
        wrong = (
            "password authentication failed",
            "no password supplied",
            "does not exist",
            "permission denied",
            "authentication failed",
            "invalid",  # libpq's "invalid URI query parameter", "invalid integer value", ...
        )
        if any(w in text for w in wrong):
            return InputError(
                f"cannot open the state store {self.where}: {text} (check --state / "
                "RELEASE_TRAINS_STATE, PGPASSWORD or ~/.pgpass)"
            )
        return StateUnavailableError(
            f"cannot reach the state store {self.where}: {text}; nothing was done, try again "
            "when the server answers"
        )

    def _text(self, e: BaseException) -> str:
        """A driver's message on one line, without the URL's password."""
        return " ".join(self.url.scrub(str(e)).split())

    def _error(self, e: Exception) -> Exception:
        errors = self._psycopg.errors
        text = self._text(e)
        if isinstance(e, errors.LockNotAvailable | errors.QueryCanceled):
            return StateBusyError(
                f"the state store {self.where} stayed locked by another process for more than "
                f"{self.busy_timeout_s:g} s; try again when it is free"
            )
        if isinstance(e, errors.DivisionByZero):
            return FenceBroken(text)  # the fence check (locks._FENCE_OR_ABORT) failed
        if isinstance(e, errors.InvalidTextRepresentation) and CHAIN_MOVED in str(e):
            return ChainMoved(text)  # the expected chain head (chain._HEAD_IS) was not it
        if isinstance(e, errors.SerializationFailure | errors.DeadlockDetected):
            return StateBusyError(
                f"the state store {self.where} was busy ({text}); nothing was written, try again"
            )
        if self._conn is None or self._conn.broken or self._conn.closed:
            return StateUnavailableError(
                f"lost the connection to the state store {self.where}: {text}; the last change "
                "was not written, try again when the server answers"
            )
        if isinstance(e, errors.InsufficientPrivilege):
            return StateError(f"cannot write the state store {self.where}: {text}")
        return StateError(f"state store {self.where}: {text}")

    def prepare_for_writing(self) -> None:
        """Nothing to prepare (SQLite's backend turns WAL on here)."""

    def finish_open(self) -> None:
        """Nothing to finish (SQLite's backend sets its synchronous mode here)."""

    def close(self) -> None:
        with self._mutex:
            if self._conn is not None:
                self._conn.close()

    # --- transactions --------------------------------------------------------------------

    @contextmanager
    def tx(self, *, write: bool = True) -> Iterator[PostgresTx]:
        psycopg = self._psycopg
        with self._mutex:
            if self._conn is None or self._conn.closed or self._conn.broken:
                self._connect()  # the server dropped us (a restart): a new session
            conn = self._conn
            tx = PostgresTx(conn, psycopg.Error)
            # the transaction and (a writer) the store's write lock go with its first batch
            tx.queue(_BEGIN_WRITE if write else _BEGIN_READ)
            if write:
                tx.queue(_WRITE_LOCK)
            try:
                yield tx
                tx.queue("COMMIT")
                tx.flush()  # the COMMIT's answer is awaited: a write is durable on return
            except psycopg.Error as e:
                self._rollback()
                raise self._error(e) from None
            except BaseException:
                self._rollback()
                raise
            finally:
                if tx.changed_schema:
                    # psycopg forgets its prepared statements when it sees a CREATE, ALTER or
                    # DROP and deallocates them with the next statement it sends, which in a
                    # pipeline may follow a statement just prepared: a new session starts clean
                    conn.close()

    def select(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        psycopg = self._psycopg
        with self._mutex:
            if self._conn is None or self._conn.closed or self._conn.broken:
                self._connect()
            try:
                # autocommit: the statement is its own transaction (see Database.select)
                return list(self._conn.execute(to_pyformat(sql), tuple(params)).fetchall())
            except psycopg.Error as e:
                raise self._error(e) from None

    def change_mark(self) -> object:
        # The server's snapshot (xmin:xmax:in-progress ids): any commit that assigned a
        # transaction id ends one listed or moves xmax, so an equal text means nothing was
        # committed in between (any database of the server: more changes seen, never fewer)
        return str(self.select("SELECT pg_current_snapshot()::text")[0][0])

    def _rollback(self) -> None:
        # a broken connection: the server rolled back already, we reconnect next time
        with contextlib.suppress(self._psycopg.Error):
            self._conn.execute("ROLLBACK")

    # --- introspection for schema.py -----------------------------------------------------

    def tables(self, tx: Any) -> set[str]:
        """The tables of the current schema (the first of the search_path: `public` unless the
        URL's options choose another), where the store's tables are made."""
        rows = tx.execute(
            "SELECT table_name FROM information_schema.tables"
            " WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
        ).fetchall()
        return {str(r[0]) for r in rows}

    def columns(self, tx: Any, table: str) -> set[str]:
        rows = tx.execute(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND table_name = ?",
            (table,),
        ).fetchall()
        return {str(r[0]) for r in rows}

    def integrity_ok(self) -> bool:
        """PostgreSQL checks its own pages and has no integrity_check: a store that answers a
        query is as sound as the server makes it."""
        with self.tx(write=False) as tx:
            return bool(tx.execute("SELECT 1").fetchone()[0] == 1)


def advance_identities(tx: Any) -> None:
    """Move every identity sequence of the current schema past the largest id its column holds:
    rows copied with their ids (state copy) do not advance it, and the next INSERT would
    otherwise be given an id already taken."""
    rows = tx.execute(
        "SELECT table_name, column_name FROM information_schema.columns"
        " WHERE table_schema = current_schema() AND is_identity = 'YES'"
    ).fetchall()
    for table, column in ((str(r[0]), str(r[1])) for r in rows):
        tx.execute(
            f'SELECT setval(pg_get_serial_sequence(?, ?), COALESCE(MAX("{column}"), 0) + 1,'
            f' false) FROM "{table}"',
            (table, column),
        )
