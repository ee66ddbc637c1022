"""Platform-wide freezes ("stop the line"): `release-trains freeze --reason R [--until T]`,
`unfreeze`, and the API's `/api/v1/freeze`. One row per freeze ever declared; the one in force
is the latest whose `lifted_at` is NULL and whose `until` (if any) has not passed. Config
freeze windows (`release_trains.freeze_windows`) are not stored: they are read from the
config (release_trains/freezes.py combines both)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .db import StoreBase, Tx

FREEZES_TABLE = """CREATE TABLE IF NOT EXISTS freezes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    reason TEXT NOT NULL,
    actor TEXT NOT NULL,
    started_at TEXT NOT NULL,
    until TEXT,                      -- NULL: until `unfreeze`
    lifted_at TEXT,
    lifted_by TEXT
)"""


_COLUMNS = ("id", "reason", "actor", "started_at", "until", "lifted_at", "lifted_by")
_SELECT = f"SELECT {', '.join(_COLUMNS)} FROM freezes"


@dataclass(frozen=True)
class FreezeRecord:
    """One declared freeze. Times are UTC ISO 8601 with milliseconds, so text order is time
    order (schedule.iso)."""

    id: int
    reason: str
    actor: str
    started_at: str
    until: str | None
    lifted_at: str | None
    lifted_by: str | None

    def in_force(self, now: str) -> bool:
        return self.lifted_at is None and (self.until is None or now < self.until)


def in_force_at(unlifted: Sequence[FreezeRecord], now: str) -> FreezeRecord | None:
    """The freeze of `unlifted` in force at `now`: the latest declared one not expired."""
    found = [f for f in unlifted if f.in_force(now)]
    return found[-1] if found else None


def _record(row: Any) -> FreezeRecord:
    return FreezeRecord(*(row[i] for i in range(len(_COLUMNS))))


def _unlifted(tx: Tx) -> list[FreezeRecord]:
    rows = tx.execute(f"{_SELECT} WHERE lifted_at IS NULL ORDER BY id").fetchall()
    return [_record(r) for r in rows]


class FreezesMixin(StoreBase):
    """The store's platform-wide freezes; the one writer is release_trains/freezes.py."""

    def add_freeze(self, *, reason: str, actor: str, now: str, until: str | None) -> FreezeRecord:
        with self._write(fenced=False) as tx:
            row = tx.execute(
                "INSERT INTO freezes (reason, actor, started_at, until) VALUES (?, ?, ?, ?)"
                " RETURNING id",
                (reason, actor, now, until),
            ).fetchone()
        assert row is not None
        return FreezeRecord(int(row[0]), reason, actor, now, until, None, None)

    def stop_requests(self, run_id: int) -> tuple[str | None, list[FreezeRecord]]:
        """What may hold a running executor before its next service, in one statement (one
        round trip on PostgreSQL, where the two reads were three): the run's pause request
        and every platform freeze not lifted."""
        f_columns = ", ".join(f"f.{c}" for c in _COLUMNS)
        rows = self._select(
            f"SELECT r.pause_requested, {f_columns} FROM runs r"
            " LEFT JOIN freezes f ON f.lifted_at IS NULL WHERE r.id = ? ORDER BY f.id",
            (run_id,),
        )
        if not rows:
            return None, []
        width = range(1, 1 + len(_COLUMNS))
        freezes = [FreezeRecord(*(row[i] for i in width)) for row in rows if row[1] is not None]
        return rows[0][0], freezes

    def unlifted_freezes(self) -> list[FreezeRecord]:
        """Every declared freeze not lifted (expired ones too), oldest first."""
        if "freezes" not in self.tables:
            return []  # an older store (read only) has never been frozen
        rows = self._select(f"{_SELECT} WHERE lifted_at IS NULL ORDER BY id")
        return [_record(r) for r in rows]

    def lift_freezes(self, *, who: str, now: str) -> list[FreezeRecord]:
        """Lift every freeze in force at `now`, in one transaction; the ones lifted (none: no
        freeze was in force)."""
        with self._write(fenced=False) as tx:
            lifting = [f for f in _unlifted(tx) if f.in_force(now)]
            for f in lifting:
                tx.execute(
                    "UPDATE freezes SET lifted_at = ?, lifted_by = ? WHERE id = ?",
                    (now, who, f.id),
                )
        return lifting

    def freezes(self) -> list[FreezeRecord]:
        """Every freeze ever declared, oldest first."""
        if "freezes" not in self.tables:
            return []
        with self._read() as tx:
            rows = tx.execute(f"{_SELECT} ORDER BY id").fetchall()
        return [_record(r) for r in rows]
