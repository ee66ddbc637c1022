"""The notification outbox: one row per (notification, channel) to deliver, written in the
same transaction as the event it announces, kept until delivered or given up, so a crash
loses none. `key` is the idempotency key sent with every attempt (`Idempotency-Key` for
webhooks), so a retry after a crash is recognisable by a receiver that honours it."""

from __future__ import annotations

from .db import StoreBase

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
    last_error TEXT,
    created_at TEXT NOT NULL,
    sent_at TEXT
)"""
OUTBOX_INDEX = "CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (status, next_attempt_at)"


class OutboxMixin(StoreBase):
    """The store's notification outbox (methods arrive with the notifications work, issue 14)."""
