"""The audit chain in the store (table audit_records): one chain for every machine that shares
the store. See audit.py for what it guarantees and how audit.log files are checked against it.

Appending is one write transaction (serialised store-wide by the backend): read the last
record's hash, insert the new record with `prev` = that hash and `hash` = sha256 of its
canonical line. Two machines appending at once therefore extend one chain, one after the other.

Adopting a file: a store whose chain is still empty takes over the records of this machine's
audit.log (a log of an older release, or one kept beside a new store) as they are, prev and
hash included, as far as the file's own chain is intact: from the first line that is not a
record release-trains wrote, or that breaks the chain, nothing more is taken.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .db import CHAIN_MOVED, Tx
from .records import (
    AUDIT_COLUMNS,
    AuditEntry,
    AuditRecord,
    audit_line,
    audit_record_of,
    detail_json,
    digest,
)

# Every record has these keys; the values of all but `detail` have these types.
FIELDS: dict[str, tuple[type, ...]] = {
    "ts": (str,),
    "actor": (str,),
    "action": (str,),
    "train": (str,),
    "service": (str, type(None)),
    "detail": (object,),
    "prev": (str,),
}
SELECT = f"SELECT {', '.join(AUDIT_COLUMNS)} FROM audit_records"
_INSERT = (
    "INSERT INTO audit_records (ts, actor, action, train, service, detail, prev, hash, origin)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id"
)


def parse_line(raw: bytes) -> tuple[dict[str, Any] | None, str]:
    """The record on one line, or None and what is wrong with it."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        return None, f"not UTF-8 text (byte {e.start + 1})"
    try:
        record = json.loads(text)
    except ValueError:  # JSONDecodeError, and numbers too large to convert
        return None, "not a JSON record"
    if not isinstance(record, dict):
        return None, f"a JSON {type(record).__name__}, not a record (an object)"
    for key, types in FIELDS.items():
        if key not in record:
            return None, f"no {key!r}"
        if not isinstance(record[key], types):
            return None, f"{key!r} is {json.dumps(record[key])[:40]}, not a text"
    return record, ""


@dataclass(frozen=True)
class Adoption:
    """The records of a file, as far as its chain is intact, and what stopped it (if anything)."""

    records: list[dict[str, Any]] = field(default_factory=list)
    problem: str | None = None  # "LINE: why", None: the whole file is an intact chain
    line: int | None = None


def intact(lines: Iterable[bytes], *, anchor: tuple[str, int] | None = None) -> Adoption:
    """Walk a file's lines (without their newlines): each must be a record release-trains
    wrote (its canonical line), chained to the one before; with an issue-10 anchor (hash of
    the last line, count), the file must also end where the anchor says."""
    records: list[dict[str, Any]] = []
    prev = ""
    hashes: list[str] = []
    for number, raw in enumerate(lines, start=1):
        record, why = parse_line(raw)
        if record is not None and line_of(record) != raw:
            record, why = None, "not the line release-trains writes for this record"
        if record is None:
            return Adoption(records, f"line {number}: {why}", number)
        if record["prev"] != prev:
            return Adoption(
                records,
                f"line {number}: chain broken (the line before was edited, or lines were "
                "removed or reordered)",
                number,
            )
        prev = digest(raw)
        hashes.append(prev)
        records.append(record)
    if anchor is not None:
        want_hash, want_count = anchor
        if len(hashes) < want_count:
            return Adoption(
                records,
                f"line {len(hashes) + 1}: cut off the end (the store's anchor records "
                f"{want_count} lines, the file has {len(hashes)})",
                len(hashes) + 1,
            )
        if want_count and hashes[want_count - 1] != want_hash:
            return Adoption(
                records[: want_count - 1],
                f"line {want_count}: edited (it is not the line the store's anchor records)",
                want_count,
            )
        if len(hashes) > want_count:
            return Adoption(
                records[:want_count],
                f"line {want_count + 1}: not anchored (the store's anchor records {want_count} "
                f"lines, the file has {len(hashes)}: written by something else, or a process "
                "was killed between writing it and anchoring it)",
                want_count + 1,
            )
    return Adoption(records)


def line_of(record: dict[str, Any]) -> bytes:
    return audit_line(
        ts=record["ts"],
        actor=record["actor"],
        action=record["action"],
        train=record["train"],
        service=record["service"],
        detail_json=detail_json(record["detail"]),
        prev=record["prev"],
    )


# Fails inside the server (a text that is no integer: ChainMoved) unless the chain's last
# record has the hash given: a writer that knows the head need not read it first.
_HEAD_IS = (
    "SELECT CAST(CASE WHEN (SELECT hash FROM audit_records ORDER BY id DESC LIMIT 1) = ?"
    f" THEN '1' ELSE '{CHAIN_MOVED}' END AS integer)"
)


def head(tx: Tx) -> str:
    """The hash of the chain's last record ("" when the chain is empty)."""
    row = tx.execute("SELECT hash FROM audit_records ORDER BY id DESC LIMIT 1").fetchone()
    return str(row[0]) if row else ""


def insert_adopted(tx: Tx, records: list[dict[str, Any]], *, origin: str | None) -> None:
    """A file's intact records as found (prev and hash kept), into an empty chain."""
    tx.executemany(
        "INSERT INTO audit_records (ts, actor, action, train, service, detail, prev, hash,"
        " origin) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                r["ts"],
                r["actor"],
                r["action"],
                r["train"],
                r["service"],
                detail_json(r["detail"]),
                r["prev"],
                digest(line_of(r)),
                origin,
            )
            for r in records
        ],
    )


def append(
    tx: Tx,
    entry: AuditEntry,
    *,
    origin: str | None,
    adopt: Callable[[], Adoption] | None = None,
) -> AuditRecord:
    """One record at the end of the chain, inside the caller's write transaction."""
    return append_later(tx, entry, origin=origin, adopt=adopt)()


def append_later(
    tx: Tx,
    entry: AuditEntry,
    *,
    origin: str | None,
    adopt: Callable[[], Adoption] | None = None,
    late: bool = False,
    expected_head: str | None = None,
) -> Callable[[], AuditRecord]:
    """`append`; with `late`, the record's id is read only when the returned function is
    called: called after the transaction has committed, the id arrives with the COMMIT's
    answer (one round trip less on PostgreSQL, whose transactions are pipelined: see
    postgres.py). With `expected_head` (PostgreSQL only), the record is chained to that
    hash, which the server checks is still the last one (ChainMoved otherwise, and nothing
    is written), instead of reading the head first: one round trip less again."""
    if expected_head:
        tx.execute(_HEAD_IS, (expected_head,))
        prev = expected_head
    else:
        prev = head(tx)
    if not prev and adopt is not None:
        adopted = adopt()
        if adopted.records:
            insert_adopted(tx, adopted.records, origin=origin)
            prev = head(tx)
    detail = detail_json(entry.detail)
    line = audit_line(
        ts=entry.ts,
        actor=entry.actor,
        action=entry.action,
        train=entry.train,
        service=entry.service,
        detail_json=detail,
        prev=prev,
    )
    values = (entry.ts, entry.actor, entry.action, entry.train, entry.service, detail, prev)
    hashed = digest(line)
    cursor = tx.execute(_INSERT, (*values, hashed, origin))
    if not late:  # SQLite commits only once the statement has given its rows
        record = AuditRecord(int(cursor.fetchone()[0]), *values, hashed, origin)
        return lambda: record
    return lambda: AuditRecord(int(cursor.fetchone()[0]), *values, hashed, origin)


def records(tx: Tx, *, train: str | None = None) -> list[AuditRecord]:
    if train is None:
        rows = tx.execute(f"{SELECT} ORDER BY id").fetchall()
    else:
        rows = tx.execute(f"{SELECT} WHERE train = ? ORDER BY id", (train,)).fetchall()
    return [audit_record_of(r) for r in rows]


def written_after(tx: Tx, *, origin: str, after_hash: str, limit: int) -> list[AuditRecord]:
    """The records of `origin` after the record whose hash is `after_hash`, in chain order (at
    most `limit`); none when no record has that hash."""
    rows = tx.execute(
        f"{SELECT} WHERE origin = ? AND id > (SELECT id FROM audit_records WHERE hash = ?)"
        " ORDER BY id LIMIT ?",
        (origin, after_hash, limit),
    ).fetchall()
    return [audit_record_of(r) for r in rows]


def legacy_anchor(tx: Tx, tables: Iterable[str]) -> tuple[str, int] | None:
    """The issue-10 anchor of a version-1 store (hash of the last line, count), if any."""
    if "audit_anchor" not in set(tables):
        return None
    row = tx.execute("SELECT last_hash, count FROM audit_anchor WHERE id = 1").fetchone()
    return (str(row[0]), int(row[1])) if row else None


def origin(path: Path, *, host: str) -> str:
    """The origin of the records written to the audit.log at `path` on `host`."""
    return f"{host}:{path.absolute()}"
