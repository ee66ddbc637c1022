"""The append-only audit log: one JSON object per line, each chained to the line before.

`prev` is the sha256 of the previous line's exact text ("" for the first), so an edited,
removed or reordered line breaks the chain at the line after it and `verify` names it.
Appends take an exclusive file lock, so concurrent processes never interleave or fork the
chain. (A chain cannot tell that lines were cut off the end; SECURITY.md says so.)
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

READ_BACK = 64 * 1024  # enough to hold the last line; records are small


def path_for(root: Path) -> Path:
    return root / "analysis" / "reports" / "audit.log"


def digest(line: str) -> str:
    return hashlib.sha256(line.encode("utf-8")).hexdigest()


def append(
    path: Path, *, ts: str, actor: str, action: str, train: str, service: str | None, detail: Any
) -> None:
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
            record["prev"] = _last_line_digest(f)
            f.seek(0, os.SEEK_END)
            f.write((json.dumps(record, ensure_ascii=False, sort_keys=False) + "\n").encode())
            f.flush()
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _last_line_digest(f: Any) -> str:
    end = f.seek(0, os.SEEK_END)
    if end == 0:
        return ""
    start = max(0, end - READ_BACK)
    f.seek(start)
    tail = f.read(end - start)
    lines = tail.rstrip(b"\n").split(b"\n")
    if start > 0 and len(lines) < 2:  # one line longer than READ_BACK: read it whole
        f.seek(0)
        lines = f.read().rstrip(b"\n").split(b"\n")
    return digest(lines[-1].decode("utf-8"))


@dataclass(frozen=True)
class Verification:
    ok: bool
    lines: int
    bad_line: int | None = None
    message: str = ""


def verify(path: Path) -> Verification:
    """Check every line's `prev` against the line before it."""
    if not path.exists():
        return Verification(True, 0, message=f"{path}: no audit log yet")
    prev = ""
    count = 0
    with open(path, encoding="utf-8") as f:
        for count, raw in enumerate(f, start=1):
            line = raw.rstrip("\n")
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                return Verification(False, count, count, f"{path}:{count}: not a JSON record")
            if not isinstance(record, dict) or record.get("prev") != prev:
                return Verification(
                    False,
                    count,
                    count,
                    f"{path}:{count}: chain broken: "
                    "the line before was edited, removed or reordered",
                )
            prev = digest(line)
    return Verification(True, count, message=f"{path}: {count} records, chain intact")


def read(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]
