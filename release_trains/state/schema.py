"""The store's tables per backend, its schema version, and the migrations between versions.

Versions: 1 is every store written before versions were recorded (release 0.1.0 and the
releases up to issue 10: no `meta` table); 2 adds `meta`, the step columns of in-flight
deploys, the audit chain (`audit_records`, with the records of this machine's audit.log
imported by the migration: see _import_audit_log), and leases (`leases` holds one row per
lock holder, `locks` one row per locked resource pointing at its lease, so a heartbeat writes
one row); 3 adds `tokens` (the API's tokens, only hashes of their secrets), `api_trains`
(trains defined through the API), `deploy_reports` (what external pipelines reported) and
`jobs` (the work queued for workers); 4 adds `freezes` (platform-wide stop-the-line
freezes), `approvals` (votes on approval gates) and `outbox` (notifications to deliver).

What opening a store of another version does, chosen for a store that several machines and
releases share, where a schema change must be a decision and never a side effect:
- newer than SCHEMA_VERSION (written by a newer release-trains): refused, readers and writers
  alike (exit 3), because this release cannot know what the new columns mean;
- older: readers still work (status, monitor, report, audit read what the old shape has; what
  it lacks reads as unknown/none), writers are refused (exit 3) with "run release-trains state
  migrate". A writer that migrated silently would change the store under every other machine
  and release still using it, and a migration is the moment to take a backup.
- `release-trains state migrate` refuses (exit 3) while locks are held in the old shape: the
  release-trains holding them is older, would go on writing the old shape, and fail; without
  `--force` an operator first lets those runs finish (or knows they are dead).
- `release-trains state migrate` applies MIGRATIONS in order inside one write transaction
  (DDL is transactional on SQLite and PostgreSQL): a migration killed half-way leaves the old
  version, and two migrations at once run one after the other, the second finding nothing to
  do.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError, LockHeldError, SchemaVersionError, StateError
from . import chain
from .approvals import APPROVALS_TABLE
from .db import Database, Tx, not_a_store
from .deploys import DEPLOY_REPORTS_INDEX, DEPLOY_REPORTS_TABLE
from .freezes import FREEZES_TABLE
from .jobs import JOBS_INDEX, JOBS_TABLE
from .outbox import OUTBOX_INDEX, OUTBOX_RUN_INDEX, OUTBOX_TABLE
from .tokens import TOKENS_TABLE
from .trains import API_TRAINS_TABLE

SCHEMA_VERSION = 4

# Only the CREATE TABLE statements differ per backend (the id columns); indexes are shared.
_SQLITE_TABLES = """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
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
CREATE TABLE IF NOT EXISTS leases (
    lock_id TEXT PRIMARY KEY,        -- one per holder: its heartbeat renews this row only
    train TEXT NOT NULL,
    holder TEXT NOT NULL,            -- user@host
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    started_at TEXT NOT NULL,
    heartbeat_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS locks (
    resource TEXT PRIMARY KEY,       -- "train:<name>" or "service:<name>"
    lock_id TEXT NOT NULL            -- the lease holding it (no lease: the resource is free)
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id INTEGER NOT NULL,
    ts TEXT NOT NULL,
    kind TEXT NOT NULL,
    service TEXT,
    message TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS audit_records (  -- the audit chain, one for every machine (audit.py)
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    train TEXT NOT NULL,
    service TEXT,
    detail TEXT NOT NULL,            -- JSON text
    prev TEXT NOT NULL,              -- hash of the record before it ("" for the first)
    hash TEXT NOT NULL UNIQUE,       -- sha256 of this record's canonical line
    origin TEXT                      -- "host:path" of the audit.log it was written to
)
"""

INDEXES = (
    "CREATE INDEX IF NOT EXISTS runs_train ON runs (train, id)",
    "CREATE INDEX IF NOT EXISTS events_run ON events (run_id, id)",
    "CREATE INDEX IF NOT EXISTS leases_train ON leases (train)",
    "CREATE INDEX IF NOT EXISTS locks_lease ON locks (lock_id)",
    "CREATE INDEX IF NOT EXISTS audit_train ON audit_records (train, id)",
    DEPLOY_REPORTS_INDEX,
    JOBS_INDEX,
    OUTBOX_INDEX,
    OUTBOX_RUN_INDEX,
)


def _statements(script: str) -> tuple[str, ...]:
    without_comments = re.sub(r"--[^\n]*", "", script)
    return tuple(s.strip() for s in without_comments.split(";") if s.strip())


def _postgres_tables(sqlite: str) -> str:
    """PostgreSQL's CREATE TABLE statements: SQLite's with three substitutions, so the two can
    never hold different tables or columns (test_state_postgres_open.py compares them):
    - ids made by the store: BIGINT GENERATED BY DEFAULT AS IDENTITY (BY DEFAULT: `state copy`
      writes the ids it copies), and the run ids that refer to them BIGINT;
    - every TEXT column COLLATE "C": byte order, as SQLite compares text, so ORDER BY, `<`
      and `=` give the same answers on both backends whatever the server's locale.
    """
    text = sqlite.replace(
        "INTEGER PRIMARY KEY AUTOINCREMENT", "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"
    )
    text = re.sub(r"\brun_id INTEGER\b", "run_id BIGINT", text)
    return re.sub(r"\bTEXT\b", 'TEXT COLLATE "C"', text)


# backend kind -> its CREATE TABLE statements
# The tables of versions 3 and 4 (tokens.py, trains.py, deploys.py, jobs.py; freezes.py,
# approvals.py, outbox.py) keep their statements beside their methods.
V3_TABLES = (TOKENS_TABLE, API_TRAINS_TABLE, DEPLOY_REPORTS_TABLE, JOBS_TABLE)
V3_INDEXES = (DEPLOY_REPORTS_INDEX, JOBS_INDEX)
V4_TABLES = (FREEZES_TABLE, APPROVALS_TABLE, OUTBOX_TABLE)
V4_INDEXES = (OUTBOX_INDEX, OUTBOX_RUN_INDEX)
TABLES: dict[str, tuple[str, ...]] = {
    "sqlite": (*_statements(_SQLITE_TABLES), *V3_TABLES, *V4_TABLES),
    "postgresql": (
        *_statements(_postgres_tables(_SQLITE_TABLES)),
        *(_postgres_tables(t) for t in (*V3_TABLES, *V4_TABLES)),
    ),
}

# The tables and columns that make a store a release-trains store: those every version has
# had since 0.1.0 (later columns arrive by migration, so an older store still qualifies). A
# table may be missing (a migration creates it), but one that exists must have these columns.
IDENTITY: dict[str, frozenset[str]] = {
    "runs": frozenset(
        {"id", "train", "status", "started_at", "updated_at", "finished_at", "reason"}
        | {"actor", "plan"}
    ),
    "steps": frozenset({"run_id", "service", "position", "status", "from_version", "to_version"}),
    "locks": frozenset({"resource", "lock_id"}),
    "events": frozenset({"id", "run_id", "ts", "kind", "service", "message"}),
    "deployed": frozenset({"environment", "service", "version"}),
}


@dataclass(frozen=True)
class Shape:
    """What an open store holds: its tables (none: no store yet) and its schema version."""

    tables: frozenset[str]
    version: int

    @property
    def blank(self) -> bool:
        return not self.tables


def inspect(db: Database, tx: Tx) -> Shape:
    """The store's shape; InputError (exit 2) when its tables are not those of a store."""
    tables = frozenset(db.tables(tx))
    if not tables:
        return Shape(tables, SCHEMA_VERSION)
    if "runs" not in tables:
        found = ", ".join(sorted(tables))
        raise not_a_store(db.where, f"no table runs; it holds the tables {found}")
    for table, wanted in IDENTITY.items():
        if table not in tables:
            continue
        missing = ", ".join(sorted(wanted - db.columns(tx, table)))
        if missing:
            raise not_a_store(db.where, f"table {table} lacks the columns {missing}")
    return Shape(tables, _version(db, tx, tables))


def _version(db: Database, tx: Tx, tables: frozenset[str]) -> int:
    if "meta" not in tables:
        return 1  # written before versions were recorded
    row = tx.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    if row is None:
        return 1
    try:
        return int(row[0])
    except ValueError:
        raise StateError(
            f"the state store {db.where} records the schema version {row[0]!r}, which is not a "
            "number; restore it from a backup"
        ) from None


def refuse_newer(where: str, version: int) -> SchemaVersionError:
    return SchemaVersionError(
        f"the state store {where} has schema {version}, written by a newer release-trains; "
        f"this one knows up to {SCHEMA_VERSION}: upgrade release-trains"
    )


def refuse_older(where: str, version: int) -> SchemaVersionError:
    return SchemaVersionError(
        f"the state store {where} has schema {version}, older than this release-trains writes "
        f"({SCHEMA_VERSION}): run `release-trains state migrate` (take a backup first; every "
        "release-trains sharing the store must be this release or newer)"
    )


def create(db: Database, tx: Tx) -> None:
    """Every table and index of SCHEMA_VERSION, in an empty store, and the version itself."""
    for statement in (*TABLES[db.kind], *INDEXES):
        tx.execute(statement)
    _set_version(tx, SCHEMA_VERSION)


def _set_version(tx: Tx, version: int) -> None:
    tx.execute(
        "INSERT INTO meta (key, value) VALUES ('schema_version', ?)"
        " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (str(version),),
    )


# --- migrations: MIGRATIONS[i] takes a store from version i + 1 to version i + 2 ----------------


@dataclass(frozen=True)
class MigrationInput:
    """What a migration needs besides the store: this machine's audit.log (imported into the
    store's audit chain) and the origin its records get; `force` takes a broken log's intact
    part instead of refusing."""

    audit_log: Path | None = None
    origin: str | None = None
    force: bool = False


def _v1_to_v2(db: Database, tx: Tx, given: MigrationInput) -> None:
    """Leases, the in-flight deploy columns, the audit chain and meta. A version-1 store may
    already have some of them (the releases before issue 11 added columns on open), so each
    part is applied only where it is missing."""
    tables = db.tables(tx)
    if "locks" in tables and "holder" in db.columns(tx, "locks"):
        # one row per resource, each repeating its holder -> one lease per lock id
        tx.execute(_table(db, "leases"))
        tx.execute(
            "INSERT INTO leases (lock_id, train, holder, host, pid, started_at, heartbeat_at)"
            " SELECT lock_id, MAX(train), MAX(holder), MAX(host), MAX(pid), MIN(started_at),"
            " MAX(heartbeat_at) FROM locks GROUP BY lock_id"
        )
        tx.execute("ALTER TABLE locks RENAME TO locks_v1")
        tx.execute(_table(db, "locks"))
        tx.execute("INSERT INTO locks (resource, lock_id) SELECT resource, lock_id FROM locks_v1")
        tx.execute("DROP TABLE locks_v1")
    if "steps" in tables:
        have = db.columns(tx, "steps")
        for name, kind in (
            ("deploy_pgid", "INTEGER"),
            ("deploy_host", "TEXT"),
            ("deploy_started_at", "TEXT"),
        ):
            if name not in have:
                tx.execute(f"ALTER TABLE steps ADD COLUMN {name} {kind}")
    anchor = chain.legacy_anchor(tx, tables)
    for statement in (*TABLES[db.kind], *INDEXES):  # every table still missing, and indexes
        tx.execute(statement)
    _import_audit_log(tx, given, anchor=anchor)
    tx.execute("DROP TABLE IF EXISTS audit_anchor")  # the chain in the store replaces it


def _import_audit_log(tx: Tx, given: MigrationInput, *, anchor: tuple[str, int] | None) -> None:
    """This machine's audit.log into the (empty) chain, prev and hash as found, so the file
    verifies against the store afterwards. A file whose chain is broken (an edited, removed or
    reordered line, or, with an issue-10 anchor, an edited last line or a cut end) is refused
    (InputError, exit 2, naming file and line; nothing migrated) unless `force`, which imports
    the records before the break: `audit --verify` then names the first line not imported."""
    path = given.audit_log
    if path is None or not path.exists() or chain.head(tx):
        return
    with open(path, "rb") as f:
        adoption = chain.intact((raw.rstrip(b"\n") for raw in f), anchor=anchor)
    if adoption.problem is not None and not given.force:
        raise InputError(
            f"{path}:{adoption.problem}; the migration imports this machine's audit log into "
            "the store's audit chain and would import a broken one as the truth. Restore the "
            "log from a backup, or run `release-trains state migrate --force` to import the "
            f"{len(adoption.records)} records before that line (audit --verify will then name "
            "it)"
        )
    chain.insert_adopted(tx, adoption.records, origin=given.origin)


def _table(db: Database, name: str) -> str:
    return next(s for s in TABLES[db.kind] if re.match(rf"CREATE TABLE IF NOT EXISTS {name}\b", s))


def _refuse_old_locks(db: Database, tx: Tx) -> None:
    if "locks" not in db.tables(tx) or "holder" not in db.columns(tx, "locks"):
        return
    rows = tx.execute(
        "SELECT train, holder, lock_id FROM locks GROUP BY train, holder, lock_id"
        " ORDER BY train, lock_id"
    ).fetchall()
    if rows:
        held = "; ".join(f"train {r[0]} by {r[1]} (lock {r[2]})" for r in rows)
        raise LockHeldError(
            f"the state store {db.where} holds locks written by an older release-trains: "
            f"{held}. A run holding them would fail on the migrated store: let it finish, then "
            "run `release-trains state migrate` again (--force: migrate anyway, when you know "
            "those runs are dead; their locks become leases)"
        )


def _v2_to_v3(db: Database, tx: Tx, given: MigrationInput) -> None:
    """The server's tables: API tokens (`release-trains token create`), trains defined through
    the API, external pipelines' deploy reports and the queue of jobs for workers; new tables
    only, nothing else changes."""
    for table in V3_TABLES:
        tx.execute(_postgres_tables(table) if db.kind == "postgresql" else table)
    for index in V3_INDEXES:
        tx.execute(index)


def _v3_to_v4(db: Database, tx: Tx, given: MigrationInput) -> None:
    """Freezes, approval votes and the notification outbox: new tables only."""
    for table in V4_TABLES:
        tx.execute(_postgres_tables(table) if db.kind == "postgresql" else table)
    for index in V4_INDEXES:
        tx.execute(index)


MIGRATIONS: tuple[Callable[[Database, Tx, MigrationInput], None], ...] = (
    _v1_to_v2,
    _v2_to_v3,
    _v3_to_v4,
)
assert len(MIGRATIONS) == SCHEMA_VERSION - 1


@dataclass(frozen=True)
class Migration:
    where: str
    from_version: int | None  # None: there was no store (nothing to migrate)
    to_version: int | None

    @property
    def changed(self) -> bool:
        return self.from_version != self.to_version


def migrate(db: Database, *, force: bool = False, given: MigrationInput | None = None) -> Migration:
    """Bring the store to SCHEMA_VERSION in one write transaction (see the module's text)."""
    with db.tx() as tx:
        shape = inspect(db, tx)  # under the write lock: a concurrent migration has finished
        if shape.blank:
            return Migration(db.where, None, None)
        if shape.version > SCHEMA_VERSION:
            raise refuse_newer(db.where, shape.version)
        if shape.version < SCHEMA_VERSION and not force:
            _refuse_old_locks(db, tx)
        for step in MIGRATIONS[shape.version - 1 :]:
            step(db, tx, given or MigrationInput(force=force))
        _set_version(tx, SCHEMA_VERSION)
    return Migration(db.where, shape.version, SCHEMA_VERSION)
