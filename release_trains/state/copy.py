"""`release-trains state copy SRC DST`: a whole store into an empty one (SQLite -> PostgreSQL, or
any other pair), so a team can move its state to a shared server.

What is copied: every table of the schema in order (runs before the steps that refer to them),
rows as they are, ids included, so run ids, event ids and everything that names them (reports,
the audit log's records) stay valid; on PostgreSQL the identity sequences are then moved past
the copied ids, so the next run gets the next id. Tables added to the schema later (tokens,
approvals) are copied the same way without a change here.

What is not copied:
- leases and locks: a lease belongs to a live process working on the *source* store; in the
  destination it would lock a train for a holder that never heartbeats there (it would turn
  stale and be taken over, or block until `unlock --force`). A copy is meant to be made with
  nothing running; a train whose run was active in the source shows there as it does in the
  source once its holder is gone (resume takes it on).
- the schema version in `meta`: the destination records its own (the copy requires both at
  the same version, so they agree); any other `meta` key is copied unless the destination
  has written that key for itself already.
- the audit log files: `analysis/reports/audit.log` is each machine's copy of the records it
  wrote; the store's audit chain (audit_records, ids, prev and hash as they are) is copied, so
  `audit --verify` with the destination passes on every machine as it did with the source.

The source is read in one snapshot (a read transaction); the destination is written in one
write transaction, which first checks it is empty: a destination holding any row (a run, an
event, a deployed version, an audit record, a lease) is refused (exit 3) and nothing is written. A
copy killed half-way leaves the destination empty.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..errors import InputError, NotNowError, SchemaVersionError
from . import schema
from .db import Database, Tx

# tables never copied (see the module's text), and meta keys the destination writes itself
NOT_COPIED = ("leases", "locks")
OWN_META_KEYS = ("schema_version",)


class DestinationNotEmpty(NotNowError):
    """`state copy` into a store that already holds something."""


@dataclass(frozen=True)
class CopyResult:
    source: str  # the stores as shown (no password)
    destination: str
    copied: dict[str, int]  # table -> rows copied
    not_copied: tuple[str, ...]

    def doc(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "destination": self.destination,
            "copied": dict(self.copied),
            "not_copied": list(self.not_copied),
        }


def table_order() -> list[str]:
    """The schema's tables in the order their CREATE statements come (referenced first)."""
    names = []
    for statement in schema.TABLES["sqlite"]:
        match = re.match(r"CREATE TABLE IF NOT EXISTS (\w+)", statement)
        if match:
            names.append(match.group(1))
    return names


def copy_store(src: Database, dst: Database) -> CopyResult:
    """Copy every row of `src` into the empty `dst` (both at this release's schema)."""
    if src.where == dst.where and src.kind == dst.kind:
        raise InputError(f"SRC and DST are the same store {src.where}")
    order = [t for t in table_order() if t not in NOT_COPIED]
    with src.tx(write=False) as tx:
        shape = schema.inspect(src, tx)
        if shape.blank:
            raise InputError(f"SRC {src.where} holds no state store yet: nothing to copy")
        check_version("SRC", src.where, shape.version)
        rows = {t: _read(src, tx, t) for t in order if t in shape.tables}
    copied: dict[str, int] = {}
    with dst.tx() as tx:
        shape = schema.inspect(dst, tx)
        if shape.blank:
            schema.create(dst, tx)
            shape = schema.inspect(dst, tx)
        check_version("DST", dst.where, shape.version)
        # meta is the store's own description (its version), not state: not a reason to refuse
        _check_empty(dst, tx, [t for t in (*order, *NOT_COPIED) if t != "meta"])
        for table in order:
            columns, values = rows.get(table, ([], []))
            if table == "meta":
                values = [v for v in values if v[0] not in OWN_META_KEYS]
            if values:
                marks = ", ".join("?" * len(columns))
                # meta: a key the destination has already written for itself is kept
                theirs = " ON CONFLICT DO NOTHING" if table == "meta" else ""
                tx.executemany(
                    f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks}){theirs}", values
                )
            copied[table] = len(values)
        if dst.kind == "postgresql":
            from .postgres import advance_identities

            advance_identities(tx)
    return CopyResult(source=src.where, destination=dst.where, copied=copied, not_copied=NOT_COPIED)


def _read(db: Database, tx: Tx, table: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """A table's columns (the source's, in a stable order) and every row, in key order."""
    columns = sorted(db.columns(tx, table))
    if table == "meta":  # key first: the meta filter above reads it as v[0]
        columns.remove("key")
        columns.insert(0, "key")
    found = tx.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY 1").fetchall()
    return columns, [tuple(row) for row in found]


def check_version(which: str, where: str, version: int) -> None:
    if version > schema.SCHEMA_VERSION:
        raise schema.refuse_newer(where, version)
    if version < schema.SCHEMA_VERSION:
        raise SchemaVersionError(
            f"{which} {where} has schema {version}, older than this release-trains writes "
            f"({schema.SCHEMA_VERSION}): run `release-trains state migrate --state {where}` "
            "first (take a backup)"
        )


def _check_empty(db: Database, tx: Tx, tables: list[str]) -> None:
    have = db.tables(tx)
    held = []
    for table in tables:
        if table not in have:
            continue
        n = int(tx.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
        if n:
            held.append(f"{n} {table}")
    if held:
        raise DestinationNotEmpty(
            f"DST {db.where} is not empty (it holds {', '.join(held)}); state copy only fills "
            "an empty store: name a new file or an empty database"
        )
