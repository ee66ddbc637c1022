"""State persistence: train runs, one row per service step, deployed versions, locks, events.

The embedded default is SQLite under `analysis/state/` (WAL so readers never block the
executor, one transaction per state change, a busy timeout). A new store appears complete or
not at all, and a file that is not a store is refused unwritten (open_store). Everything the
executor, monitoring and rollback need goes through the methods of `Store`, so a server
database can be added behind the same methods later without touching them.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sqlite3
import tempfile
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from . import identity
from .errors import InputError, LockHeldError, StateBusyError, StateError

DEFAULT_BUSY_TIMEOUT_S = 10.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    train TEXT NOT NULL,
    status TEXT NOT NULL,
    started_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    finished_at TEXT,
    reason TEXT,
    actor TEXT NOT NULL,
    plan TEXT NOT NULL,
    max_parallel INTEGER NOT NULL DEFAULT 1,
    pause_requested TEXT,            -- "actor: reason" when someone asked the executor to stop
    phase_started_at TEXT
);
CREATE INDEX IF NOT EXISTS runs_train ON runs (train, id);
CREATE TABLE IF NOT EXISTS steps (
    run_id INTEGER NOT NULL REFERENCES runs (id),
    service TEXT NOT NULL,
    position INTEGER NOT NULL,
    status TEXT NOT NULL,
    from_version TEXT,               -- the rollback point recorded at staging; NULL: first install
    to_version TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    started_at TEXT,
    finished_at TEXT,
    error TEXT,
    health TEXT NOT NULL DEFAULT 'not verified',
    health_detail TEXT,
    rollback_started_at TEXT,
    rollback_finished_at TEXT,
    deploy_pgid INTEGER,             -- process group of the deployer command in flight, if any
    deploy_host TEXT,                -- the host it runs on (a group id means nothing elsewhere)
    deploy_started_at TEXT,          -- when that command started
    PRIMARY KEY (run_id, service)
);
CREATE TABLE IF NOT EXISTS deployed (
    environment TEXT NOT NULL,
    service TEXT NOT NULL,
    version TEXT,                    -- NULL: undeployed
    updated_at TEXT NOT NULL,
    PRIMARY KEY (environment, service)
);
CREATE TABLE IF NOT EXISTS locks (
    resource TEXT PRIMARY KEY,       -- "train:<name>" or "service:<name>"
    lock_id TEXT NOT NULL,
    train TEXT NOT NULL,
    holder TEXT NOT NULL,            -- user@host
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    started_at TEXT NOT NULL,
    heartbeat_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id INTEGER NOT NULL,
    ts TEXT NOT NULL,
    kind TEXT NOT NULL,
    service TEXT,
    message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_run ON events (run_id, id);
CREATE TABLE IF NOT EXISTS audit_anchor (   -- the audit log's end, as release-trains wrote it
    id INTEGER PRIMARY KEY CHECK (id = 1),  -- one row: one audit log per state store
    last_hash TEXT NOT NULL,         -- sha256 of the last line appended
    count INTEGER NOT NULL,          -- lines in the log after that append
    updated_at TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class Run:
    id: int
    train: str
    status: str
    started_at: str
    updated_at: str
    finished_at: str | None
    reason: str | None
    actor: str
    plan: str  # the plan document (JSON text) the run executes
    max_parallel: int
    pause_requested: str | None
    phase_started_at: str | None

    def plan_doc(self) -> dict[str, Any]:
        doc: dict[str, Any] = json.loads(self.plan)
        return doc


@dataclass(frozen=True)
class Step:
    run_id: int
    service: str
    position: int
    status: str
    from_version: str | None
    to_version: str | None
    attempts: int = 0
    started_at: str | None = None
    finished_at: str | None = None
    error: str | None = None
    health: str = "not verified"
    health_detail: str | None = None
    rollback_started_at: str | None = None
    rollback_finished_at: str | None = None
    # The deployer command in flight for this step (None once it has ended): a process killed
    # mid-deploy leaves its command running in its own session, and the next run must not
    # start another deploy of the service beside it (executor.await_deploys_in_flight).
    deploy_pgid: int | None = None
    deploy_host: str | None = None
    deploy_started_at: str | None = None


# Step columns added after the first release, with their SQL types: a store created before
# them gets them on its next write open (ALTER TABLE ... ADD COLUMN keeps every row).
_ADDED_STEP_COLUMNS = (
    ("deploy_pgid", "INTEGER"),
    ("deploy_host", "TEXT"),
    ("deploy_started_at", "TEXT"),
)


@dataclass(frozen=True)
class Lock:
    resource: str
    lock_id: str
    train: str
    holder: str
    host: str
    pid: int
    started_at: str
    heartbeat_at: str

    def describe(self) -> str:
        return (
            f"{self.holder} (pid {self.pid}, lock {self.lock_id}, since {self.started_at}, "
            f"last heartbeat {self.heartbeat_at})"
        )


@dataclass(frozen=True)
class Event:
    id: int
    run_id: int
    ts: str
    kind: str
    service: str | None
    message: str


def default_path(root: Path) -> Path:
    return root / "analysis" / "state" / "release-trains.db"


def path_from_url(url: str | None, root: Path) -> Path:
    """`--state` accepts a path or `sqlite:///path`; other schemes are not built yet."""
    if not url:
        return default_path(root)
    if url.startswith("sqlite:///"):
        return Path(url.removeprefix("sqlite://"))
    if url.startswith("sqlite://"):
        return Path(url.removeprefix("sqlite://"))
    if "://" in url:
        raise InputError(f"state URL {url!r}: only sqlite:///PATH (or a plain path) is supported")
    return Path(url)


def open_store(
    url: str | None, root: Path, *, create: bool, busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S
) -> Store | None:
    """The state store, or None when there is none yet and `create` is false (reads only).

    A reader sees either no store or a complete one, never a half-made one: a new store is
    built in a temporary file beside its path and linked into place (`_create`), and a SQLite
    file without any table yet (a creation that was killed, or one built in place where the
    file system has no hard links) counts as no store. A file that is not a release-trains
    store (not SQLite, or tables of another shape) is bad input (exit 2) naming the file, and
    nothing is written to it.
    """
    path = path_from_url(url, root)
    if path.is_dir():
        raise InputError(
            f"{path} is a directory, not a release-trains state store; "
            "--state / RELEASE_TRAINS_STATE names the database file"
        )
    if not path.exists():
        if not create:
            return None
        _create(path)
    store = Store(path, busy_timeout_s=busy_timeout_s, create=create)
    if store.blank and not create:
        store.close()
        return None
    return store


# every table and index _SCHEMA makes: a store holding all of them needs no schema transaction
_SCHEMA_NAMES = frozenset(re.findall(r"CREATE (?:TABLE|INDEX) IF NOT EXISTS (\w+)", _SCHEMA))

# The tables and columns that make a file a release-trains store: those every release has had
# since 0.1.0. Columns added later arrive by migration, so an older store still qualifies; a
# table may be missing (a writer creates it), but one that exists must have these columns.
_IDENTITY: dict[str, frozenset[str]] = {
    "runs": frozenset(
        [
            "id",
            "train",
            "status",
            "started_at",
            "updated_at",
            "finished_at",
            "reason",
            "actor",
            "plan",
        ]
    ),
    "steps": frozenset({"run_id", "service", "position", "status", "from_version", "to_version"}),
    "locks": frozenset({"resource", "lock_id", "train", "holder", "host", "pid", "heartbeat_at"}),
    "events": frozenset({"id", "run_id", "ts", "kind", "service", "message"}),
    "deployed": frozenset({"environment", "service", "version"}),
}


def _not_a_store(path: Path, why: str) -> InputError:
    return InputError(
        f"{path} is not a release-trains state store ({why}); point --state (or "
        "RELEASE_TRAINS_STATE) at one, or move this file away (the default store is "
        "analysis/state/release-trains.db under --root, made by the first execute)"
    )


def _create(path: Path) -> None:
    """Make a new, empty store at `path` so that it appears complete or not at all.

    The schema is built in a temporary file in the same folder, then hard-linked to `path`:
    a link never replaces a file, so when another process created the store first, its store
    (perhaps already holding a run) is kept and ours is dropped; os.replace would overwrite
    it. Where the file system has no hard links, an empty file is made instead and the
    writer's Store builds the schema in one transaction, readers taking the empty file for no
    store yet.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.close(fd)
    except OSError as e:
        raise StateError(f"cannot create the state store {path}: {e.strerror or e}") from None
    tmp = Path(name)
    try:
        con = sqlite3.connect(tmp, isolation_level=None)
        try:
            con.executescript(f"BEGIN;\n{_SCHEMA}\nCOMMIT;")
            # set here, so the store is in WAL mode from the moment anyone can open it; the
            # WAL file is empty and removed at close, so the linked file holds everything
            con.execute("PRAGMA journal_mode = WAL")
        finally:
            con.close()
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process made it first: use theirs
        except OSError:
            with contextlib.suppress(FileExistsError), open(path, "xb"):
                pass  # no hard links here: Store(create=True) builds the schema in place
    except sqlite3.Error as e:
        raise StateError(f"cannot create the state store {path}: {e}") from None
    except OSError as e:
        raise StateError(f"cannot create the state store {path}: {e.strerror or e}") from None
    finally:
        for leftover in (tmp, *(Path(f"{tmp}{x}") for x in ("-journal", "-wal", "-shm"))):
            with contextlib.suppress(OSError):
                leftover.unlink(missing_ok=True)


class Store:
    def __init__(self, path: Path, *, busy_timeout_s: float, create: bool) -> None:
        """Open the store at `path` (which exists: see open_store). A writer (`create`) adds
        the tables a store of an older release lacks, in one transaction."""
        self.path = path
        self.busy_timeout_s = busy_timeout_s
        self._mutex = threading.RLock()  # one connection, shared by the executor's threads
        try:
            # mode=rw: opening never creates a file (only _create does, atomically)
            self._db = sqlite3.connect(
                f"{path.absolute().as_uri()}?mode=rw",
                uri=True,
                timeout=busy_timeout_s,
                isolation_level=None,
                check_same_thread=False,
            )
        except sqlite3.Error as e:
            raise StateError(f"cannot open the state store {path}: {e}") from None
        self._db.row_factory = sqlite3.Row
        try:
            self._db.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
            # checked before anything is written: a file of another kind is left untouched
            self.blank = not self._check_shape()  # no table at all: no store yet
            if create:
                self._db.execute("PRAGMA journal_mode = WAL")  # readers never block the executor
            if create and not self._names() >= _SCHEMA_NAMES:
                # one transaction: a reader sees every table or none (see open_store); skipped
                # when all are there, so opening a store in use takes no write lock
                self._db.executescript(f"BEGIN IMMEDIATE;\n{_SCHEMA}\nCOMMIT;")
                self.blank = False
            if create:
                self._add_step_columns()
            # WAL + NORMAL: a commit survives a killed process; power loss may lose the last one
            self._db.execute("PRAGMA synchronous = NORMAL")
        except sqlite3.DatabaseError as e:
            self._db.close()
            raise self._translate(e) from None
        except InputError:
            self._db.close()
            raise

    def _names(self) -> set[str]:
        """Every table and index in the store."""
        return {str(r[0]) for r in self._db.execute("SELECT name FROM sqlite_master")}

    def _check_shape(self) -> set[str]:
        """The store's tables; InputError when they are not those of a release-trains store."""
        try:
            rows = self._db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            ).fetchall()
        except sqlite3.DatabaseError as e:
            if "not a database" in str(e) or "encrypted" in str(e):
                raise _not_a_store(self.path, "not a SQLite database") from None
            raise
        tables = {str(r[0]) for r in rows}
        if not tables:
            return tables
        if "runs" not in tables:
            found = ", ".join(sorted(tables))
            raise _not_a_store(self.path, f"no table runs; it holds the tables {found}")
        for table, wanted in _IDENTITY.items():
            if table not in tables:
                continue
            have = {str(r[1]) for r in self._db.execute(f"PRAGMA table_info({table})")}
            missing = ", ".join(sorted(wanted - have))
            if missing:
                raise _not_a_store(self.path, f"table {table} lacks the columns {missing}")
        return tables

    def _add_step_columns(self) -> None:
        """Give a store made by an older release the step columns added since (a store that has
        them all takes no write lock)."""
        have = {row[1] for row in self._db.execute("PRAGMA table_info(steps)")}
        if all(name in have for name, _ in _ADDED_STEP_COLUMNS):
            return
        with self._tx() as db:
            have = {row[1] for row in db.execute("PRAGMA table_info(steps)")}
            for name, kind in _ADDED_STEP_COLUMNS:
                if name not in have:
                    db.execute(f"ALTER TABLE steps ADD COLUMN {name} {kind}")

    def close(self) -> None:
        with self._mutex:
            self._db.close()

    @contextmanager
    def _tx(self, *, write: bool = True) -> Iterator[sqlite3.Connection]:
        """One transaction; SQLite's lock errors become exit-3/exit-4 errors with a clear text."""
        with self._mutex:
            try:
                self._db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
                try:
                    yield self._db
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            except sqlite3.OperationalError as e:
                raise self._translate(e) from None

    def _translate(self, e: sqlite3.DatabaseError) -> Exception:
        text = str(e)
        if "not a database" in text:  # a file replaced under us by something else
            return _not_a_store(self.path, "not a SQLite database")
        if "malformed" in text:
            return StateError(
                f"the state store {self.path} is damaged ({text}); restore it from a backup"
            )
        if "locked" in text or "busy" in text:
            return StateBusyError(
                f"the state store {self.path} stayed locked by another process for more than "
                f"{self.busy_timeout_s:g} s; try again when it is free"
            )
        if "readonly" in text or "unable to open" in text or "disk I/O" in text:
            return StateError(
                f"cannot write the state store {self.path}: {text} (check permissions)"
            )
        return StateError(f"state store {self.path}: {text}")

    # --- runs ------------------------------------------------------------------------------

    def create_run(
        self, *, train: str, status: str, actor: str, plan: str, max_parallel: int, now: str
    ) -> Run:
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO runs (train, status, started_at, updated_at, actor, plan,"
                " max_parallel,"
                " phase_started_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (train, status, now, now, actor, plan, max_parallel, now),
            )
            run_id = cur.lastrowid
        run = self.run(int(run_id or 0))
        assert run is not None
        return run

    def run(self, run_id: int) -> Run | None:
        with self._tx(write=False) as db:
            row = db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        return Run(**dict(row)) if row else None

    def latest_run(self, train: str) -> Run | None:
        with self._tx(write=False) as db:
            row = db.execute(
                "SELECT * FROM runs WHERE train = ? ORDER BY id DESC LIMIT 1", (train,)
            ).fetchone()
        return Run(**dict(row)) if row else None

    def latest_run_and_locks(self, train: str) -> tuple[Run | None, list[Lock]]:
        """The train's latest run and the locks held for the train, read in one transaction:
        an executor records its final status before it lets its lock go, so a run seen active
        beside no lock is one that nobody drives, never one that has just ended."""
        with self._tx(write=False) as db:
            row = db.execute(
                "SELECT * FROM runs WHERE train = ? ORDER BY id DESC LIMIT 1", (train,)
            ).fetchone()
            locks = db.execute(
                "SELECT * FROM locks WHERE train = ? ORDER BY resource", (train,)
            ).fetchall()
        return (Run(**dict(row)) if row else None), [Lock(**dict(r)) for r in locks]

    def runs(self, train: str | None = None) -> list[Run]:
        with self._tx(write=False) as db:
            if train is None:
                rows = db.execute("SELECT * FROM runs ORDER BY id").fetchall()
            else:
                rows = db.execute(
                    "SELECT * FROM runs WHERE train = ? ORDER BY id", (train,)
                ).fetchall()
        return [Run(**dict(r)) for r in rows]

    def set_run_status(
        self, run_id: int, status: str, *, now: str, reason: str | None = None, final: bool = False
    ) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE runs SET status = ?, updated_at = ?, phase_started_at = ?,"
                " reason = COALESCE(?, reason), finished_at = ? WHERE id = ?",
                (status, now, now, reason, now if final else None, run_id),
            )

    def set_run_plan(self, run_id: int, plan: str, *, max_parallel: int, now: str) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE runs SET plan = ?, max_parallel = ?, updated_at = ?, reason = NULL"
                " WHERE id = ?",
                (plan, max_parallel, now, run_id),
            )

    def update_plan(self, run_id: int, plan: str) -> None:
        """Replace the run's plan document (gate results evaluated during and after release)."""
        with self._tx() as db:
            db.execute("UPDATE runs SET plan = ? WHERE id = ?", (plan, run_id))

    def request_pause(self, run_id: int, request: str | None) -> None:
        """Ask the running executor to stop before its next service (None clears the request)."""
        with self._tx() as db:
            db.execute("UPDATE runs SET pause_requested = ? WHERE id = ?", (request, run_id))

    def pause_request(self, run_id: int) -> str | None:
        with self._tx(write=False) as db:
            row = db.execute("SELECT pause_requested FROM runs WHERE id = ?", (run_id,)).fetchone()
        return row[0] if row else None

    # --- steps -----------------------------------------------------------------------------

    def add_steps(self, steps: Sequence[Step]) -> None:
        with self._tx() as db:
            db.executemany(
                "INSERT OR IGNORE INTO steps (run_id, service, position, status, from_version,"
                " to_version) VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (s.run_id, s.service, s.position, s.status, s.from_version, s.to_version)
                    for s in steps
                ],
            )

    def steps(self, run_id: int) -> list[Step]:
        with self._tx(write=False) as db:
            rows = db.execute(
                "SELECT * FROM steps WHERE run_id = ? ORDER BY position", (run_id,)
            ).fetchall()
        return [Step(**dict(r)) for r in rows]

    def update_step(self, run_id: int, service: str, **changes: Any) -> None:
        allowed = {f.name for f in fields(Step)} - {"run_id", "service", "position"}
        unknown = set(changes) - allowed
        if unknown:
            raise ValueError(f"unknown step fields {unknown}")
        sets = ", ".join(f"{k} = ?" for k in changes)
        with self._tx() as db:
            db.execute(
                f"UPDATE steps SET {sets} WHERE run_id = ? AND service = ?",
                (*changes.values(), run_id, service),
            )

    def deploys_in_flight(self, services: Sequence[str]) -> list[Step]:
        """Steps of any run whose deployer command for one of `services` may still run."""
        if not services:
            return []
        marks = ",".join("?" * len(services))
        with self._tx(write=False) as db:
            rows = db.execute(
                f"SELECT * FROM steps WHERE deploy_pgid IS NOT NULL AND service IN ({marks})"
                " ORDER BY run_id, position",
                tuple(services),
            ).fetchall()
        return [Step(**dict(r)) for r in rows]

    def record_release(
        self, run_id: int, service: str, *, environment: str, version: str, now: str, **changes: Any
    ) -> None:
        """A step's new status and the environment's deployed version, in one transaction."""
        sets = ", ".join(f"{k} = ?" for k in changes)
        with self._tx() as db:
            db.execute(
                f"UPDATE steps SET {sets} WHERE run_id = ? AND service = ?",
                (*changes.values(), run_id, service),
            )
            self._set_deployed(db, environment, service, version, now)

    # --- deployed versions (the embedded `local` environment, and what others reported) ----

    def deployed_version(self, environment: str, service: str) -> str | None:
        with self._tx(write=False) as db:
            row = db.execute(
                "SELECT version FROM deployed WHERE environment = ? AND service = ?",
                (environment, service),
            ).fetchone()
        return row[0] if row else None

    def deployed_versions(self, environment: str) -> dict[str, str]:
        with self._tx(write=False) as db:
            rows = db.execute(
                "SELECT service, version FROM deployed"
                " WHERE environment = ? AND version IS NOT NULL",
                (environment,),
            ).fetchall()
        return {r[0]: r[1] for r in rows}

    def set_deployed_version(self, environment: str, service: str, version: str | None) -> None:
        from datetime import datetime, timezone

        now = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
        with self._tx() as db:
            self._set_deployed(db, environment, service, version, now)

    @staticmethod
    def _set_deployed(
        db: sqlite3.Connection, environment: str, service: str, version: str | None, now: str
    ) -> None:
        db.execute(
            "INSERT INTO deployed (environment, service, version, updated_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (environment, service) DO UPDATE SET version = excluded.version,"
            " updated_at = excluded.updated_at",
            (environment, service, version, now),
        )

    # --- locks -----------------------------------------------------------------------------

    def acquire(
        self, resources: Sequence[str], lock: Lock, *, stale_after_s: float, now_ts: float
    ) -> list[Lock]:
        """Take every resource or none. Returns the stale locks that were taken over.

        A lock whose process is gone on this host, or (another host) whose heartbeat is older
        than `stale_after_s`, is stale and taken over; any other holder refuses with exit 3.
        """
        from datetime import datetime

        taken_over: list[Lock] = []
        with self._tx() as db:
            marks = ",".join("?" * len(resources))
            rows = db.execute(
                f"SELECT * FROM locks WHERE resource IN ({marks})", tuple(resources)
            ).fetchall()
            for row in rows:
                held = Lock(**dict(row))
                if held.lock_id == lock.lock_id:
                    continue
                age = now_ts - datetime.fromisoformat(held.heartbeat_at).timestamp()
                if _is_stale(held, age=age, stale_after_s=stale_after_s):
                    taken_over.append(held)
                    continue
                what = held.resource.replace(":", " ", 1)
                raise LockHeldError(
                    f"{what} is locked by train {held.train!r} run by {held.describe()}; "
                    "wait for it, or if that run is dead: "
                    f"release-trains unlock {held.train} {held.lock_id}"
                )
            db.execute(f"DELETE FROM locks WHERE resource IN ({marks})", tuple(resources))
            db.executemany(
                "INSERT INTO locks VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        r,
                        lock.lock_id,
                        lock.train,
                        lock.holder,
                        lock.host,
                        lock.pid,
                        lock.started_at,
                        lock.heartbeat_at,
                    )
                    for r in resources
                ],
            )
        return taken_over

    def heartbeat(self, lock_id: str, now: str) -> bool:
        with self._tx() as db:
            cur = db.execute("UPDATE locks SET heartbeat_at = ? WHERE lock_id = ?", (now, lock_id))
        return cur.rowcount > 0

    def fenced(self, lock_id: str) -> Store:
        """Placeholder until the state package's fencing lands (branch wR)."""
        return self

    def release(self, lock_id: str) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM locks WHERE lock_id = ?", (lock_id,))

    def locks(self, train: str | None = None) -> list[Lock]:
        with self._tx(write=False) as db:
            rows = db.execute("SELECT * FROM locks ORDER BY resource").fetchall()
        found = [Lock(**dict(r)) for r in rows]
        return [lk for lk in found if train is None or lk.train == train]

    # --- events ----------------------------------------------------------------------------

    def add_event(
        self, run_id: int, *, ts: str, kind: str, service: str | None, message: str
    ) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO events (run_id, ts, kind, service, message) VALUES (?, ?, ?, ?, ?)",
                (run_id, ts, kind, service, message),
            )

    def events(self, run_id: int, *, limit: int | None = None) -> list[Event]:
        with self._tx(write=False) as db:
            if limit is None:
                rows = db.execute(
                    "SELECT * FROM events WHERE run_id = ? ORDER BY id", (run_id,)
                ).fetchall()
            else:
                rows = db.execute(
                    "SELECT * FROM (SELECT * FROM events WHERE run_id = ? ORDER BY id DESC LIMIT ?)"
                    " ORDER BY id",
                    (run_id, limit),
                ).fetchall()
        return [Event(**dict(r)) for r in rows]

    def step_counts(self, train: str) -> dict[int, tuple[int, int]]:
        """run id -> (released steps, all steps) for every run of `train`, in one query."""
        with self._tx(write=False) as db:
            rows = db.execute(
                "SELECT s.run_id, SUM(s.status = 'released'), COUNT(*) FROM steps s"
                " JOIN runs r ON r.id = s.run_id WHERE r.train = ? GROUP BY s.run_id",
                (train,),
            ).fetchall()
        return {r[0]: (int(r[1]), int(r[2])) for r in rows}

    def train_events(self, train: str, kinds: Sequence[str]) -> list[Event]:
        """Every event of the given kinds in any run of `train`, oldest first."""
        marks = ",".join("?" * len(kinds))
        with self._tx(write=False) as db:
            rows = db.execute(
                f"SELECT e.* FROM events e JOIN runs r ON r.id = e.run_id"
                f" WHERE r.train = ? AND e.kind IN ({marks}) ORDER BY e.id",
                (train, *kinds),
            ).fetchall()
        return [Event(**dict(r)) for r in rows]

    # --- the audit log's anchor (see audit.py) ----------------------------------------------

    def audit_anchor(self) -> tuple[str, int] | None:
        """(hash of the audit log's last line, its number of lines), or None before the first
        anchored append (a store of an older release has no table yet: also None)."""
        with self._tx(write=False) as db:
            try:
                row = db.execute(
                    "SELECT last_hash, count FROM audit_anchor WHERE id = 1"
                ).fetchone()
            except sqlite3.OperationalError as e:
                if "no such table" in str(e):
                    return None
                raise
        return (str(row[0]), int(row[1])) if row else None

    def set_audit_anchor(self, *, last_hash: str, count: int, now: str) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO audit_anchor (id, last_hash, count, updated_at) VALUES (1, ?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET last_hash = excluded.last_hash,"
                " count = excluded.count, updated_at = excluded.updated_at",
                (last_hash, count, now),
            )

    def integrity_ok(self) -> bool:
        with self._mutex:
            return bool(self._db.execute("PRAGMA integrity_check").fetchone()[0] == "ok")

    # --- read-only queries for reports (monitoring and reporting) -------------------------

    def deployed_everywhere(self, service: str) -> dict[str, str | None]:
        """environment -> the version recorded for `service` there (None: undeployed)."""
        with self._tx(write=False) as db:
            rows = db.execute(
                "SELECT environment, version FROM deployed WHERE service = ? ORDER BY environment",
                (service,),
            ).fetchall()
        return {r[0]: r[1] for r in rows}

    def service_steps(self, service: str) -> list[Step]:
        """`service`'s step in every run that had one, oldest run first."""
        with self._tx(write=False) as db:
            rows = db.execute(
                "SELECT * FROM steps WHERE service = ? ORDER BY run_id", (service,)
            ).fetchall()
        return [Step(**dict(r)) for r in rows]

    def service_events(self, service: str) -> list[Event]:
        """Every event about `service`, in every run, oldest first."""
        with self._tx(write=False) as db:
            rows = db.execute(
                "SELECT * FROM events WHERE service = ? ORDER BY id", (service,)
            ).fetchall()
        return [Event(**dict(r)) for r in rows]


def is_stale(lock: Lock, *, now_ts: float, stale_after_s: float) -> bool:
    """A lock whose holder is gone: its process on this host, or its heartbeat elsewhere."""
    from datetime import datetime

    age = now_ts - datetime.fromisoformat(lock.heartbeat_at).timestamp()
    return _is_stale(lock, age=age, stale_after_s=stale_after_s)


def _is_stale(lock: Lock, *, age: float, stale_after_s: float) -> bool:
    if lock.host == identity.host():
        return not pid_alive(lock.pid)
    return age > stale_after_s


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
