"""Which journal events are news, and the outbox rows that announce them.

The journal asks `Announcer.rows_for` for every event it writes; an event whose kind maps to a
notification event (see `notice_event`) gets one outbox row per channel the train's settings
choose, written by Store.record in the event's own transaction, with the idempotency key
`TRAIN/RUN/EVENT_ID/CHANNEL` (the event id is known only inside that transaction).
Freezes and other platform events that belong to no run go through `queue_platform_event`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from ..lifecycle import StepStatus
from ..state import Store
from ..state.outbox import OutboxRow
from .messages import Notice, cut, link_for
from .settings import Notifications

_STATUS = re.compile(r"^(\w+) -> (\w+)(?:: (.*))?$", re.DOTALL)
_SERVICE_FAILURES = frozenset({"deploy-failed", "health-failed", "unconfirmed"})
# Journal kinds that are their notification event (the hyphenated spelling too).
_NAMED = {"approval_requested": "approval_requested", "approval-requested": "approval_requested"}
# The status a run moves to -> the notification it is.
_FINAL = {"completed": "completed", "failed": "failed", "rolled_back": "rolled_back"}


def notice_event(kind: str, message: str) -> tuple[str, str | None, str | None] | None:
    """(notification event, reason, new status) for a journal event, None when it is no news."""
    if kind == "status":
        m = _STATUS.match(message)
        if not m:
            return None
        old, new, reason = m.group(1), m.group(2), m.group(3)
        if new == "validating":
            return ("resumed" if old == "paused" else "started"), None, new
        if new == "paused" and reason:  # an interrupted run's move to paused is no news
            return "paused", reason, new
        if new in _FINAL:
            return _FINAL[new], reason, new
        return None
    if kind == "rollback-start":
        reason = message.removeprefix("reason: ").split("; order: ", 1)[0]
        return "rollback_started", reason, None
    if kind in _SERVICE_FAILURES:
        return "service_failed", message, None
    if kind == "gate" and re.match(r"^[^:]*\(\w+\): (fail|error): ", message):
        return "gate_failed", message, None
    if kind in _NAMED:  # kinds recorded under their event's name (approvals.py)
        return _NAMED[kind], message, None
    return None


class Announcer:
    """One train's notifications for the journal; `queued` collects the keys it queued."""

    def __init__(
        self,
        *,
        store: Store,
        train: str,
        settings: Notifications,
        on_queued: Callable[[], None] | None = None,
    ) -> None:
        self.store = store
        self.train = train
        self.settings = settings
        self.on_queued = on_queued
        self.queued: list[str] = []

    def rows_for(
        self, *, run_id: int, kind: str, message: str, service: str | None, ts: str
    ) -> Callable[[int], Sequence[OutboxRow]] | None:
        found = notice_event(kind, message)
        if found is None:
            return None
        event, reason, status = found
        channels = self.settings.wants(event)
        if not channels:
            return None
        notice = self._notice(
            run_id, event=event, reason=reason, status=status, service=service, ts=ts
        )
        payload = notice.to_json()

        def rows(event_id: int) -> list[OutboxRow]:
            made = [
                OutboxRow(
                    key=f"{self.train}/{run_id}/{event_id}/{channel}",
                    run_id=run_id,
                    train=self.train,
                    event=event,
                    channel=channel,
                    payload=payload,
                    created_at=ts,
                )
                for channel in channels
            ]
            self.queued.extend(r.key for r in made)
            return made

        return rows

    def written(self) -> None:
        """The event and its rows are committed: wake the sender."""
        if self.on_queued is not None:
            self.on_queued()

    def _notice(
        self,
        run_id: int,
        *,
        event: str,
        reason: str | None,
        status: str | None,
        service: str | None,
        ts: str,
    ) -> Notice:
        # Read before the event's transaction: the facts as the event finds them.
        run = self.store.run(run_id)
        steps = self.store.steps(run_id)
        released = sum(1 for s in steps if s.status == StepStatus.RELEASED)
        failing = [s.service for s in steps if s.status == StepStatus.FAILED]
        if service and event == "service_failed" and service not in failing:
            failing.append(service)
        return Notice(
            event=event,
            train=self.train,
            run_id=run_id,
            status=status or (str(run.status) if run else None),
            progress=f"{released}/{len(steps)} released" if steps else None,
            reason=cut(reason),
            services=tuple(failing),
            ts=ts,
            link=link_for(self.settings.public_url, self.train),
        )


def platform_rows(
    settings: Notifications, *, event: str, reason: str | None, ts: str, train: str | None = None
) -> list[OutboxRow]:
    """The rows announcing an event of no run (a freeze), for the channels that want it."""
    notice = Notice(
        event=event,
        train=train,
        run_id=None,
        status=None,
        progress=None,
        reason=cut(reason),
        ts=ts,
        link=link_for(settings.public_url, train),
    )
    return [
        OutboxRow(
            key=f"{train or '-'}/{event}/{ts}/{channel}",
            run_id=None,
            train=train,
            event=event,
            channel=channel,
            payload=notice.to_json(),
            created_at=ts,
        )
        for channel in settings.wants(event)
    ]


def queue_platform_event(
    store: Store, config: Any, *, event: str, reason: str | None, ts: str
) -> list[str]:
    """Queue `frozen` / `unfrozen` (or another event of no run) for the config's channels; the
    keys queued. The next sender that opens the store delivers them."""
    from .settings import for_train

    rows = platform_rows(for_train(config.notifications, None), event=event, reason=reason, ts=ts)
    store.queue_notifications(rows)
    return [r.key for r in rows]
