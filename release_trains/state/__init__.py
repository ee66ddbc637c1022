"""The state store: train runs, one row per service step, deployed versions, leases, events.

`open_store` opens the store `--state` names (the embedded default is SQLite under
`analysis/state/`: WAL so readers never block the executor, one transaction per state change,
a busy timeout). A new store appears complete or not at all, a file that is not a store is
refused unwritten (exit 2), and a store of another schema version is handled as schema.py
says. Everything the executor, monitoring and rollback need goes through the methods of
`Store`, grouped by what they hold: runs.py (runs, steps, the one status writer
`transition`), locks.py (leases and fencing), history.py (events, versions), chain.py (the
audit chain), tokens.py (API tokens), trains.py (trains defined through the API), deploys.py
(external pipelines' deploy reports), jobs.py (the queue of work for workers), freezes.py
(platform-wide freezes), approvals.py (votes on approval gates), outbox.py (notifications to
deliver).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import InputError
from . import chain, schema
from .approvals import ApprovalsMixin
from .db import DEFAULT_BUSY_TIMEOUT_S, Database, SQLiteDatabase, create_sqlite
from .deploys import DeployReport, DeploysMixin
from .freezes import FreezesMixin
from .history import HistoryMixin
from .jobs import Job, JobsMixin, Worker
from .locks import LocksMixin, is_stale, pid_alive, this_host
from .outbox import OutboxMixin
from .records import STEP_COLUMNS, AuditEntry, AuditRecord, Event, Lock, Run, Step
from .runs import Latest, RunsMixin
from .schema import SCHEMA_VERSION, Migration, MigrationInput
from .tokens import TokenRecord, TokensMixin
from .trains import ApiTrain, TrainsMixin
from .url import default_path, path_from_url
from .url import parse as parse_url

if TYPE_CHECKING:
    from .postgres import PostgresDatabase

__all__ = [
    "DEFAULT_BUSY_TIMEOUT_S",
    "SCHEMA_VERSION",
    "ApiTrain",
    "AuditEntry",
    "AuditRecord",
    "DeployReport",
    "Event",
    "Job",
    "Latest",
    "Lock",
    "Migration",
    "Run",
    "Step",
    "Store",
    "TokenRecord",
    "Worker",
    "default_path",
    "is_stale",
    "migrate_store",
    "open_database",
    "open_store",
    "parse_url",
    "path_from_url",
    "pid_alive",
    "this_host",
]


class Store(
    RunsMixin,
    LocksMixin,
    HistoryMixin,
    TokensMixin,
    TrainsMixin,
    DeploysMixin,
    JobsMixin,
    FreezesMixin,
    ApprovalsMixin,
    OutboxMixin,
):
    """One open state store (see the modules of its parts)."""


def open_store(
    url: str | None, root: Path, *, create: bool, busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S
) -> Store | None:
    """The state store, or None when there is none yet and `create` is false (reads only).

    A reader sees either no store or a complete one, never a half-made one: a new store is
    built in a temporary file beside its path and linked into place (db.create_sqlite), and a
    SQLite file without any table yet (a creation that was killed, or one built in place where
    the file system has no hard links) counts as no store. A file that is not a release-trains
    store (not SQLite, or tables of another shape) is bad input (exit 2) naming the file, and
    nothing is written to it. A store of a newer schema is refused (exit 3); one of an older
    schema opens for reading, and a writer (`create`) is refused (exit 3: state migrate).
    """
    db = open_database(url, root, create=create, busy_timeout_s=busy_timeout_s)
    if db is None:
        return None
    try:
        with db.tx(write=False) as tx:
            shape = schema.inspect(db, tx)  # before anything is written: see above
        if shape.blank and not create:
            db.close()
            return None
        if shape.version > SCHEMA_VERSION:
            raise schema.refuse_newer(db.where, shape.version)
        if create and shape.version < SCHEMA_VERSION:
            raise schema.refuse_older(db.where, shape.version)
        if create:
            db.prepare_for_writing()
        if shape.blank:
            with db.tx() as tx:  # one transaction: a reader sees every table or none
                if schema.inspect(db, tx).blank:  # another writer may have built it meanwhile
                    schema.create(db, tx)
            with db.tx(write=False) as tx:
                shape = schema.inspect(db, tx)
        db.finish_open()
        return _store(db, shape)
    except BaseException:
        db.close()
        raise


def migrate_store(
    url: str | None,
    root: Path,
    *,
    busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S,
    force: bool = False,
    host: str | None = None,
) -> Migration:
    """Bring the store `url` names to SCHEMA_VERSION (`release-trains state migrate`); the
    audit.log under `root` (this machine's, on `host`) is imported into the store's audit
    chain when the store has none yet (schema._import_audit_log)."""
    db = open_database(url, root, create=False, busy_timeout_s=busy_timeout_s)
    if db is None:
        return Migration(parse_url(url, root).shown, None, None)
    try:
        log = root / "analysis" / "reports" / "audit.log"
        origin = chain.origin(log, host=host if host is not None else this_host())
        given = MigrationInput(audit_log=log, origin=origin, force=force)
        return schema.migrate(db, force=force, given=given)
    finally:
        db.close()


def _store(db: Database, shape: schema.Shape) -> Store:
    step_columns = STEP_COLUMNS
    read_only = None
    if shape.version < SCHEMA_VERSION:
        with db.tx(write=False) as tx:
            have = db.columns(tx, "steps") if "steps" in shape.tables else set(STEP_COLUMNS)
        step_columns = tuple(c for c in STEP_COLUMNS if c in have)
        read_only = str(schema.refuse_older(db.where, shape.version))
    return Store(
        db,
        version=shape.version,
        tables=shape.tables,
        step_columns=step_columns,
        read_only=read_only,
    )


def open_database(
    url: str | None, root: Path, *, create: bool, busy_timeout_s: float
) -> SQLiteDatabase | PostgresDatabase | None:
    """The Database `url` names (url.py), None when it is a SQLite file that does not exist
    and `create` is false. A PostgreSQL database must exist (its tables are made by the first
    writer, in one transaction under the store's write lock: see open_store); psycopg is
    imported only here, for a postgresql:// URL."""
    parsed = parse_url(url, root)
    if parsed.kind == "postgresql":
        from .postgres import PostgresDatabase

        return PostgresDatabase(parsed, busy_timeout_s=busy_timeout_s)
    assert parsed.path is not None
    path = parsed.path
    if path.is_dir():
        raise InputError(
            f"{path} is a directory, not a release-trains state store; "
            "--state / RELEASE_TRAINS_STATE names the database file"
        )
    if not path.exists():
        if not create:
            return None
        create_sqlite(path)
    return SQLiteDatabase(path, busy_timeout_s=busy_timeout_s)
