"""The append-only audit log: one JSON object per line, each chained to the line before, the
chain anchored in the state store.

`prev` is the sha256 of the previous line's exact bytes ("" for the first). A chain alone
cannot tell that its last line was edited (the next append would hash the edited line and so
bless it) or that lines were cut off the end. So the state store keeps the anchor: the hash of
the last line written and the number of lines. Each append chains to the anchor, not to what
the file holds now, and moves the anchor on in the same critical section (under the file's
exclusive lock, which also keeps concurrent processes from interleaving or forking the chain).
`verify` then checks every line against the one before and the file's end against the anchor:
an edit, removal or reordering anywhere, the last line included, and a cut-off end are named.

What the anchor cannot see: someone who rewrites both the file and the anchor in the state
store (whoever can write both can rewrite history), and lines written before the store had an
anchor (an older release, or a new state store) up to the first append that adopts the file.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from .errors import InputError

READ_BACK = 64 * 1024  # enough to hold the last line; records are small
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


class AnchorStore(Protocol):
    """Where the anchor lives: the state store (release_trains.state.Store)."""

    def audit_anchor(self) -> tuple[str, int] | None: ...

    def set_audit_anchor(self, *, last_hash: str, count: int, now: str) -> None: ...


class AuditLogError(InputError):
    """The audit log holds a line that is not an audit record (exit 2: bad input)."""


def path_for(root: Path) -> Path:
    return root / "analysis" / "reports" / "audit.log"


def digest(line: bytes | str) -> str:
    data = line.encode("utf-8") if isinstance(line, str) else line
    return hashlib.sha256(data).hexdigest()


def append(
    path: Path,
    *,
    store: AnchorStore,
    ts: str,
    actor: str,
    action: str,
    train: str,
    service: str | None,
    detail: Any,
) -> None:
    """Write one record chained to the anchor, and move the anchor on to it.

    The record is written even when the file no longer matches its anchor (an audit record is
    never lost); its `prev` is then the anchor's hash, so the break stays where `verify` finds
    it instead of being blessed."""
    record = {
        "ts": ts,
        "actor": actor,
        "action": action,
        "train": train,
        "service": service,
        "detail": detail,
        "prev": "",
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            anchor = store.audit_anchor()
            # No anchor yet (a log of an older release, or a new state store): adopt the file.
            prev, count = anchor if anchor is not None else _file_end(f)
            record["prev"] = prev
            line = json.dumps(record, ensure_ascii=False).encode("utf-8")
            size = f.seek(0, os.SEEK_END)
            # A last line cut mid-way keeps its own line, so it shows as broken, not merged.
            lead = b"\n" if size and _last_byte(f, size) != b"\n" else b""
            f.write(lead + line + b"\n")
            f.flush()
            try:
                store.set_audit_anchor(last_hash=digest(line), count=count + 1, now=ts)
            except BaseException:
                # The anchor could not move (store busy): take the line back, so file and
                # anchor stay in step and the caller's error says what happened.
                f.truncate(size)
                raise
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _last_byte(f: Any, size: int) -> bytes:
    f.seek(size - 1)
    last: bytes = f.read(1)
    f.seek(0, os.SEEK_END)
    return last


def _file_end(f: Any) -> tuple[str, int]:
    """The digest of the file's last line and its number of lines ("", 0 when empty)."""
    f.seek(0)
    count, last = 0, b""
    for raw in f:
        count += 1
        last = raw.rstrip(b"\n")
    return (digest(last) if count else ""), count


@dataclass(frozen=True)
class Verification:
    ok: bool
    lines: int
    bad_line: int | None = None
    message: str = ""
    anchored: bool = False  # the state store held an anchor to check the end against


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    with open(path, "rb") as f:
        for number, raw in enumerate(f, start=1):
            yield number, raw.rstrip(b"\n")


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


def verify(path: Path, *, anchor: tuple[str, int] | None) -> Verification:
    """Check every line's `prev` against the line before it, and the end against the anchor."""
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
            message=f"{path}: {count} records, chain intact (not anchored: the state store "
            "holds no anchor yet, so lines cut off the end cannot be detected until the "
            "next record is written)",
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
        True, count, message=f"{path}: {count} records, chain intact and anchored", anchored=True
    )


def read(path: Path) -> list[dict[str, Any]]:
    """Every record, oldest first; AuditLogError (exit 2) naming the first line that is not
    a record. Blank lines are skipped."""
    if not path.exists():
        return []
    records = []
    for number, raw in _lines(path):
        if not raw.strip():
            continue
        record, why = parse_line(raw)
        if record is None:
            raise AuditLogError(
                f"{path}:{number}: not an audit record: {why}; "
                "check the log with: release-trains audit --verify"
            )
        records.append(record)
    return records
