"""The notification outbox: one row per (notification, channel) to deliver, written in the
same transaction as the event it announces, kept until delivered or given up, so a crash
loses none. `key` is the idempotency key sent with every attempt (`Idempotency-Key` for
webhooks), so a retry after a crash is recognisable by a receiver that honours it.

A sender claims a row (`claimed_by`, `claimed_until`) in one compare-and-set before it sends,
so two senders never send one row at once; a claim expires at `claimed_until`, or at once when
its sender ran on this host and its process is gone (a SIGKILLed executor's claim)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .db import StoreBase, Tx
from .history import add_event

OUTBOX_TABLE = """CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,        -- idempotency key
    run_id BIGINT,                   -- NULL: not about a run (a freeze, `notify test`)
    train TEXT,
    event TEXT NOT NULL,
    channel TEXT NOT NULL,
    payload TEXT NOT NULL,           -- JSON: the message's facts, never a secret
    status TEXT NOT NULL,            -- pending | sent | failed
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    claimed_by TEXT,                 -- the sender delivering it now, and until when
    claimed_until TEXT,
    last_error TEXT,                 -- why the last attempt failed (redacted)
    detail TEXT,                     -- what the receiver said when it was delivered
    created_at TEXT NOT NULL,
    sent_at TEXT
)"""
OUTBOX_INDEX = "CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (status, next_attempt_at)"
OUTBOX_RUN_INDEX = "CREATE INDEX IF NOT EXISTS outbox_run ON outbox (run_id)"
NOTIFICATION_EVENT = "notification"  # the run's event recording each delivery outcome

_COLUMNS = (
    "id, key, run_id, train, event, channel, payload, status, attempts, next_attempt_at, "
    "claimed_by, claimed_until, last_error, detail, created_at, sent_at"
)


@dataclass(frozen=True)
class OutboxRow:
    """A notification to queue for one channel."""

    key: str
    run_id: int | None
    train: str | None
    event: str
    channel: str
    payload: str
    created_at: str


@dataclass(frozen=True)
class OutboxItem:
    id: int
    key: str
    run_id: int | None
    train: str | None
    event: str
    channel: str
    payload: str
    status: str
    attempts: int
    next_attempt_at: str
    claimed_by: str | None
    claimed_until: str | None
    last_error: str | None
    detail: str | None
    created_at: str
    sent_at: str | None


def _item(row: Any) -> OutboxItem:
    return OutboxItem(*(row[i] for i in range(16)))


def insert_outbox(tx: Tx, rows: Sequence[OutboxRow]) -> None:
    """Queue `rows` inside the caller's transaction (the event's: see Store.record)."""
    tx.executemany(
        "INSERT INTO outbox (key, run_id, train, event, channel, payload, status, attempts,"
        " next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?)"
        " ON CONFLICT (key) DO NOTHING",
        [
            (r.key, r.run_id, r.train, r.event, r.channel, r.payload, r.created_at, r.created_at)
            for r in rows
        ],
    )


class OutboxMixin(StoreBase):
    """The store's notification outbox."""

    def queue_notifications(self, rows: Sequence[OutboxRow]) -> None:
        """Queue notifications that announce no run event (a freeze), in one transaction."""
        if rows:
            with self._write(fenced=False) as tx:
                insert_outbox(tx, rows)

    def claim_notifications(
        self,
        *,
        claimer: str,
        now: str,
        until: str,
        abandoned: Callable[[str], bool],
        limit: int = 20,
    ) -> list[OutboxItem]:
        """Pending rows due by `now`, claimed for `claimer` until `until`; a row another
        sender holds is skipped unless its claim expired or `abandoned(claimed_by)` says its
        sender is gone."""
        with self._read() as tx:
            rows = tx.execute(
                f"SELECT {_COLUMNS} FROM outbox WHERE status = 'pending' AND next_attempt_at <= ?"
                " ORDER BY id LIMIT ?",
                (now, limit * 4),
            ).fetchall()
        claimed: list[OutboxItem] = []
        for row in rows:
            item = _item(row)
            held = item.claimed_by is not None and item.claimed_by != claimer
            if held and (item.claimed_until or "") > now and not abandoned(item.claimed_by or ""):
                continue
            with self._write(fenced=False) as tx:
                won = tx.execute(
                    "UPDATE outbox SET claimed_by = ?, claimed_until = ? WHERE id = ?"
                    " AND status = 'pending' AND attempts = ?"
                    " AND (claimed_by IS NULL OR claimed_by = ?)",
                    (claimer, until, item.id, item.attempts, item.claimed_by or claimer),
                ).rowcount
            if won:
                claimed.append(item)
            if len(claimed) >= limit:
                break
        return claimed

    def settle_notification(
        self,
        item: OutboxItem,
        *,
        claimer: str,
        status: str,
        now: str,
        next_attempt_at: str,
        error: str | None,
        detail: str | None,
        message: str | None,
    ) -> bool:
        """Record one attempt's outcome (and, with `message`, the run's event saying it), if
        `claimer` still holds the row; False when it lost it."""
        sent = ", sent_at = ?" if status == "sent" else ""
        with self._write(fenced=False) as tx:
            done = tx.execute(
                "UPDATE outbox SET status = ?, attempts = attempts + 1, next_attempt_at = ?,"
                f" claimed_by = NULL, claimed_until = NULL, last_error = ?, detail = ?{sent}"
                " WHERE id = ? AND claimed_by = ? AND status = 'pending'",
                (
                    status,
                    next_attempt_at,
                    error,
                    detail,
                    *((now,) if sent else ()),
                    item.id,
                    claimer,
                ),
            ).rowcount
            if done and message is not None and item.run_id is not None:
                add_event(
                    tx, item.run_id, ts=now, kind=NOTIFICATION_EVENT, service=None, message=message
                )
        return bool(done)

    def release_notifications(self, claimer: str) -> None:
        """Give back what `claimer` holds and did not try (a sender that stops)."""
        with self._write(fenced=False) as tx:
            tx.execute(
                "UPDATE outbox SET claimed_by = NULL, claimed_until = NULL"
                " WHERE claimed_by = ? AND status = 'pending'",
                (claimer,),
            )

    def notifications(self, run_id: int) -> list[OutboxItem]:
        """Every notification of a run, oldest first (status --json `notifications`)."""
        if "outbox" not in self.tables:  # an older store, opened for reading
            return []
        with self._read() as tx:
            rows = tx.execute(
                f"SELECT {_COLUMNS} FROM outbox WHERE run_id = ? ORDER BY id", (run_id,)
            ).fetchall()
        return [_item(r) for r in rows]

    def pending_notifications(self, *, keys: Sequence[str] | None = None) -> int:
        """How many rows are still to deliver (of `keys`, if given)."""
        with self._read() as tx:
            if keys is None:
                row = tx.execute("SELECT COUNT(*) FROM outbox WHERE status = 'pending'").fetchone()
            elif not keys:
                return 0
            else:
                marks = ",".join("?" * len(keys))
                row = tx.execute(
                    f"SELECT COUNT(*) FROM outbox WHERE status = 'pending' AND key IN ({marks})",
                    tuple(keys),
                ).fetchone()
        return int(row[0])
