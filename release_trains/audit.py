"""The audit trail: one chain of records in the state store, shared by every machine, and on
each machine the file analysis/reports/audit.log holding a copy of the records written there.

The chain (state/chain.py, table audit_records): each record's `hash` is the sha256 of its
canonical line (the JSON object of the contract: ts, actor, action, train, service, detail,
prev) and its `prev` the hash of the record before it ("" for the first). Appending is one write
transaction, serialised store-wide, that reads the last hash and inserts the record after it,
so two machines writing at once extend one chain. The line this machine writes to its
audit.log is that very record (same bytes, same prev), appended under the file's exclusive lock
after the store committed; the file is a copy, not the truth. On one machine alone, each line's
prev is the hash of the line before, as in every earlier release.

`verify` (audit --verify) checks, with a store:
- the store's chain: every record's hash recomputed from what it says, and every prev equal to
  the hash of the record before it: an edited, removed or reordered record is named by id;
- this machine's audit.log against the chain: every line must be a record of the chain (found
  by its hash), in chain order, and every record written to this file (its `origin`, "host:
  path") must be there: an edited line, one added by hand, a removed or reordered line and lines
  cut off the end (the last line included) are named by file and line.
Without a store (nothing ran yet) or with a store of schema 1 not migrated, the file is checked
as a chain on its own, against the issue-10 anchor where that store has one.

Old logs: `state migrate` (schema 1 -> 2) imports this machine's audit.log into the empty chain
as found (prev and hash kept), so it verifies afterwards; a log whose own chain is broken (an
edited, removed or reordered line, or against its issue-10 anchor an edited last line or a cut
end) is refused with exit 2 naming the line, unless --force, which imports the records before
the break (verify then names that line). A store whose chain is empty adopts the file the same
way at its first record (a log kept beside a new store), without refusing: a record is never
lost.

What the chain cannot see: someone who can write to the database and rewrites the chain from
some record on (each hash recomputed) or removes its last records. The machine that wrote the
rewritten records still holds the original lines in its audit.log and its verify names them;
other machines cannot tell. Records of another machine missing from its own file are that
machine's to find. And a machine's file write that failed after the store committed (a full
disk, a process killed in between) shows as a cut line on that machine until the next command
that writes there appends it from the store (`catch_up`).
"""

from __future__ import annotations

import bisect
import fcntl
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from .errors import InputError
from .identity import host as this_host
from .state.chain import FIELDS, Adoption, intact, parse_line
from .state.chain import origin as chain_origin
from .state.records import AuditEntry, AuditRecord, digest

__all__ = ["FIELDS", "AuditEntry", "AuditRecord", "digest", "parse_line"]


class ChainStore(Protocol):
    """Where the chain lives: the state store (release_trains.state.Store)."""

    def append_audit(
        self,
        entry: AuditEntry,
        *,
        origin: str | None,
        adopt: Callable[[], Adoption] | None = None,
    ) -> AuditRecord: ...


class TailStore(Protocol):
    """What catch_up reads of the chain (release_trains.state.Store)."""

    def audit_written_after(
        self, *, origin: str, after_hash: str, limit: int
    ) -> list[AuditRecord]: ...


class AuditLogError(InputError):
    """The audit log holds a line that is not an audit record (exit 2: bad input)."""


def path_for(root: Path) -> Path:
    return root / "analysis" / "reports" / "audit.log"


def origin_for(root: Path, *, host: str) -> str:
    """The origin of the records this machine (`host`) writes to the audit.log under `root`."""
    return chain_origin(path_for(root), host=host)


Commit = Callable[[Callable[[], Adoption]], AuditRecord | None]


def write(path: Path, commit: Commit) -> AuditRecord | None:
    """Under the file's exclusive lock: `commit` the record in the store (given how to adopt
    this file into an empty chain), then append the committed record's line to the file.

    The lock keeps this machine's processes appending in chain order. A commit that fails
    (store busy, a lost lock) writes nothing to the file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            record = commit(lambda: _adoption(f))
            if record is None:
                return None
            _append_lines(f, [record])
            return record
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


# A process killed between the store's commit and the file's append leaves one record out;
# more than this many missing is no crash's doing, and is left for `audit --verify` to name.
CATCH_UP_MAX = 100
_TAIL_READ_MAX = 1 << 20  # the last line is looked for in the file's last MiB at most


def catch_up(path: Path, store: TailStore, *, host: str | None = None) -> int:
    """Append to this machine's audit.log the records written to it that the store committed
    after its last line: what a process killed between the store's commit and the file's
    append (`write`) left out. The line is the record's own bytes, so the file ends as that
    process would have left it. Nothing is done without a file, or when its last line is not a
    record of the chain (an edit `audit --verify` names). How many lines were appended."""
    if not path.exists():
        return 0
    origin = chain_origin(path, host=host if host is not None else this_host())
    with open(path, "r+b") as f:
        fcntl.flock(f, fcntl.LOCK_EX)  # a live writer finishes its append first
        try:
            last = _last_line(f, f.seek(0, os.SEEK_END))
            if last is None:
                return 0
            missing = store.audit_written_after(
                origin=origin, after_hash=digest(last), limit=CATCH_UP_MAX + 1
            )
            if not missing or len(missing) > CATCH_UP_MAX:
                return 0
            _append_lines(f, missing)
            return len(missing)
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _last_line(f: Any, size: int) -> bytes | None:
    """The file's last non-empty line (without its newline): read from the end, 64 KiB and
    then twice as much each time, up to _TAIL_READ_MAX (a longer line is left to verify)."""
    window = 1 << 16
    try:
        while True:
            start = max(0, size - window)
            f.seek(start)
            tail = f.read(size - start).rstrip(b"\n")
            cut = tail.rfind(b"\n")
            if cut >= 0 or start == 0:
                return tail[cut + 1 :] or None
            if window >= _TAIL_READ_MAX:
                return None
            window *= 2
    finally:
        f.seek(0, os.SEEK_END)


def _append_lines(f: Any, records: Sequence[AuditRecord]) -> None:
    """The records' lines at the end of the file. A last line cut mid-way keeps its own line,
    so it shows as broken, not merged."""
    size = f.seek(0, os.SEEK_END)
    lead = b"\n" if size and _last_byte(f, size) != b"\n" else b""
    f.write(lead + b"".join(r.line() + b"\n" for r in records))
    f.flush()


def append(
    path: Path,
    *,
    store: ChainStore,
    host: str | None = None,
    ts: str,
    actor: str,
    action: str,
    train: str,
    service: str | None,
    detail: Any,
) -> AuditRecord:
    """One record at the end of the store's chain, and its line in this machine's file
    (`host`: this machine as the records' origin names it; None: identity.host())."""
    entry = AuditEntry(ts, actor, action, train, service, detail)
    origin = chain_origin(path, host=host if host is not None else this_host())
    record = write(path, lambda adopt: store.append_audit(entry, origin=origin, adopt=adopt))
    assert record is not None
    return record


def _adoption(f: Any) -> Adoption:
    f.seek(0)
    found = intact(raw.rstrip(b"\n") for raw in f)
    f.seek(0, os.SEEK_END)
    return found


def _last_byte(f: Any, size: int) -> bytes:
    f.seek(size - 1)
    last: bytes = f.read(1)
    f.seek(0, os.SEEK_END)
    return last


@dataclass(frozen=True)
class Verification:
    ok: bool
    lines: int
    bad_line: int | None = None
    message: str = ""
    anchored: bool = False  # checked against the store (its chain, or an issue-10 anchor)
    records: int = 0  # records in the store's chain
    bad_record: int | None = None  # the id of the first bad record in the store


def verify(path: Path, *, chain: Sequence[AuditRecord], origin: str, where: str) -> Verification:
    """The store's chain, then this machine's file against it (see the module's text). An
    empty chain (a store nothing was audited in yet) leaves the file to verify_file."""
    if not chain:
        found = verify_file(path, anchor=None)
        if not found.ok or not found.lines:
            return found
        return Verification(
            True,
            found.lines,
            message=f"{path}: {found.lines} records, chain intact (not in the state store yet: "
            "its first record adopts this file)",
        )
    count = len(chain)
    prev = ""
    for r in chain:
        why = ""
        if digest(r.line()) != r.hash:
            why = "edited in the store: its hash is not that of what it says"
        elif r.prev != prev:
            why = (
                "chain broken: the record before it was edited, or records were removed or "
                "reordered here"
            )
        if why:
            message = f"{where}: audit record {r.id}: {why}"
            return Verification(False, 0, None, message, True, count, r.id)
        prev = r.hash
    return _against(path, chain, origin=origin, where=where)


def _against(path: Path, chain: Sequence[AuditRecord], *, origin: str, where: str) -> Verification:
    """This machine's file against the (intact) chain of the store."""
    count = len(chain)
    place = {r.hash: i for i, r in enumerate(chain)}
    mine = [i for i, r in enumerate(chain) if r.origin == origin]  # written to this file

    def broken(line: int, lines: int, why: str) -> Verification:
        return Verification(False, lines, line, f"{path}:{line}: {why}", True, count)

    def described(i: int) -> str:
        r = chain[i]
        return f"record {r.id} ({r.ts} {r.action} {r.train})"

    if not path.exists():
        if mine:
            return broken(
                1,
                0,
                f"the audit log is missing; the store {where} holds {len(mine)} records "
                "written to it",
            )
        return Verification(
            True,
            0,
            message=f"{path}: no audit log on this machine; {where}: {count} records, chain intact",
            anchored=True,
            records=count,
        )
    last = -1
    lines = 0
    for lines, raw in _lines(path):
        i = place.get(digest(raw))
        if i is None:
            record, why = parse_line(raw)
            if record is None:
                return broken(lines, lines, f"{why}: edited, or not written by release-trains")
            return broken(
                lines,
                lines,
                f"edited, or not written by release-trains: the store {where} holds no such "
                "record"
                + (" (or it was written before this machine used this store)" if last < 0 else ""),
            )
        if i <= last:
            return broken(
                lines,
                lines,
                f"out of order: the store has this record before line {lines - 1}'s "
                "(lines were reordered)",
            )
        skipped = bisect.bisect_right(mine, last)
        if skipped < len(mine) and mine[skipped] < i:
            return broken(
                lines,
                lines,
                f"a line before it was removed or moved: {described(mine[skipped])}, written "
                "to this file, is not there",
            )
        last = i
    tail = len(mine) - bisect.bisect_right(mine, last)
    if tail:
        first = lines + 1
        cut = f"line {first} was" if tail == 1 else f"lines {first} to {lines + tail} were"
        return broken(
            first,
            lines,
            f"{cut} cut off the end: the store {where} holds {tail} more records written to "
            f"this file, from {described(mine[len(mine) - tail])}",
        )
    return Verification(
        True,
        lines,
        message=f"{path}: {lines} records, each in the store's chain; {where}: {count} records, "
        "chain intact",
        anchored=True,
        records=count,
    )


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    with open(path, "rb") as f:
        for number, raw in enumerate(f, start=1):
            yield number, raw.rstrip(b"\n")


def verify_file(path: Path, *, anchor: tuple[str, int] | None) -> Verification:
    """The file alone (no store, or one of schema 1): every line's `prev` against the line
    before it, and the end against the issue-10 anchor if there is one."""
    anchored = anchor is not None
    want_hash, want_count = anchor if anchor is not None else ("", 0)

    def broken(line: int, count: int, why: str) -> Verification:
        return Verification(False, count, line, f"{path}:{line}: {why}", anchored)

    if not path.exists():
        if want_count:
            why = f"the audit log is missing; the state store's anchor records {want_count} lines"
            return broken(1, 0, why)
        return Verification(True, 0, message=f"{path}: no audit log yet", anchored=anchored)
    prev = ""
    count = 0
    at_anchor = ""  # the digest of line `want_count`, compared with the anchor's hash
    for count, raw in _lines(path):
        record, why = parse_line(raw)
        if record is None:
            return broken(count, count, f"{why}: edited, or not written by release-trains")
        if record["prev"] != prev:
            return broken(
                count,
                count,
                f"chain broken: the line before (line {count - 1}) was edited, or lines were "
                "removed or reordered here"
                if count > 1
                else "chain broken: lines before this one were removed",
            )
        prev = digest(raw)
        if count == want_count:
            at_anchor = prev
    if not anchored:
        return Verification(
            True,
            count,
            message=f"{path}: {count} records, chain intact (not in a state store, so lines "
            "cut off the end cannot be detected until the next record is written)",
        )
    if count < want_count:
        cut = (
            f"line {want_count} was"
            if count + 1 == want_count
            else (f"lines {count + 1} to {want_count} were")
        )
        return broken(
            count + 1,
            count,
            f"{cut} cut off the end: the file has {count} lines, the state store's anchor "
            f"records {want_count}",
        )
    if want_count and at_anchor != want_hash:
        return broken(want_count, count, "edited: it is not the line release-trains wrote")
    if count > want_count:
        return broken(
            want_count + 1,
            count,
            f"written by something other than release-trains: the state store's anchor "
            f"records {want_count} lines, the file has {count} (or a process was killed "
            "between writing this line and anchoring it)",
        )
    return Verification(
        True,
        count,
        message=f"{path}: {count} records, chain intact and anchored (a store of schema 1: run "
        "`release-trains state migrate`)",
        anchored=True,
    )


def from_store(records: Sequence[AuditRecord], *, where: str) -> list[dict[str, Any]]:
    """The store's records as audit.log's objects; AuditLogError (exit 2) naming the first
    record whose detail is not JSON (edited in the database)."""
    out = []
    for r in records:
        try:
            out.append(r.fields())
        except ValueError:
            raise AuditLogError(
                f"{where}: audit record {r.id}: its detail is not JSON, so it is not a record "
                "release-trains wrote; check the chain with: release-trains audit --verify"
            ) from None
    return out


def read(path: Path, *, prefilter: str | None = None) -> list[dict[str, Any]]:
    """Every record, oldest first; AuditLogError (exit 2) naming the first line that is not
    a record. Blank lines are skipped, and with `prefilter` (a report's `"train": NAME`) every
    line that names a train but not with that text: parsing the records a report drops costs
    the most. A line that names no train is still parsed, and refused if it is no record."""
    if not path.exists():
        return []
    needle = prefilter.encode() if prefilter is not None else None
    records = []
    for number, raw in _lines(path):
        if not raw.strip() or (needle is not None and b'"train": ' in raw and needle not in raw):
            continue
        record, why = parse_line(raw)
        if record is None:
            raise AuditLogError(
                f"{path}:{number}: not an audit record: {why}; "
                "check the log with: release-trains audit --verify"
            )
        records.append(record)
    return records
