"""What `status` shows of a run's notifications: `{event, channel, outcome, detail, ts}` per
outbox row, oldest first (outcome: sent, failed, or pending while it is still being tried)."""

from __future__ import annotations

from typing import Any

from ..state.outbox import OutboxItem


def outcome_of(item: OutboxItem) -> dict[str, Any]:
    if item.status == "sent":
        detail = item.detail or "delivered"
        ts = item.sent_at
    elif item.attempts:
        detail = item.last_error or "not delivered"
        ts = item.next_attempt_at if item.status == "failed" else item.created_at
    else:
        detail = "queued, not tried yet"
        ts = item.created_at
    return {
        "event": item.event,
        "channel": item.channel,
        "outcome": item.status,
        "detail": detail,
        "attempts": item.attempts,
        "ts": ts,
    }


def outcomes(items: list[OutboxItem]) -> tuple[dict[str, Any], ...]:
    return tuple(outcome_of(i) for i in items)
