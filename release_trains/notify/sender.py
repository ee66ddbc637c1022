"""Delivering the outbox, outside the release path.

A `Sender` is a background thread over one store: it claims due rows (a compare-and-set in
the store, so two senders never send the same row at once), sends each through its channel
with the configured timeout, and records the outcome on the row and as the run's
`notification` event. A failed attempt is tried again after a backoff (1 s, 2 s, 4 s, ... at
most 60 s) until `retries` retries are spent; then the row is `failed`, with its reason.

The thread starts with every command that runs a train (`delivering`) and with every worker,
and it delivers whatever is pending, so what a killed process left undelivered is sent by the
next one that opens the store. A command waits before it exits for the rows it queued itself,
at most their timeout and retries (`Delivery.flush`); the release itself never waits.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import datetime, timedelta, timezone

from ..models import Catalog
from ..state import Store, pid_alive, this_host
from ..state.outbox import OutboxItem
from .announce import Announcer, queue_platform_event
from .channels import DeliveryError, send
from .messages import Notice
from .settings import NONE, Notifications, for_train

POLL_S = 1.0  # how often an idle sender looks for rows other processes queued
BACKOFF_S = 1.0
MAX_BACKOFF_S = 60.0
CLAIM_MARGIN_S = 10.0  # a claim outlives its attempt's timeout by this much
# How long a stopping sender waits for an attempt in flight: a command that queued nothing
# must not wait for another run's dead channel. An attempt cut off stays claimed by this
# process, whose claim is void once it has exited, and is sent again with the same key.
STOP_WAIT_S = 1.0
_SEQ = itertools.count(1)


def _utc(at: datetime | None = None) -> str:
    return (at or datetime.now(timezone.utc)).isoformat(timespec="milliseconds")


def backoff_s(failed_attempts: int) -> float:
    return float(min(MAX_BACKOFF_S, BACKOFF_S * 2 ** max(0, failed_attempts - 1)))


def settings_for(catalog: Catalog, train: str | None) -> Notifications:
    """The settings a row is delivered with: its train's (the config's if it is gone)."""
    found = catalog.trains.get(train) if train else None
    override = found.definition.get("notifications") if found is not None else None
    return for_train(catalog.config.notifications, override)


def abandoned(claimed_by: str) -> bool:
    """A claim whose sender ran on this host in a process that is gone."""
    host, _, rest = claimed_by.rpartition("/")[0].rpartition("/")
    try:
        pid = int(rest)
    except ValueError:
        return False
    return host == this_host() and pid != os.getpid() and not pid_alive(pid)


class Sender:
    """The background delivery thread over `store` (see the module's text)."""

    def __init__(
        self,
        *,
        store: Store,
        catalog: Catalog,
        echo: Callable[[str], None] | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.store = store
        self.catalog = catalog
        self.echo = echo
        self.env = env
        self.claimer = f"{this_host()}/{os.getpid()}/{next(_SEQ)}"
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Sender:
        self._thread = threading.Thread(target=self._loop, name="notify-sender", daemon=True)
        self._thread.start()
        return self

    def stop(self, *, timeout_s: float) -> None:
        self.stopping.set()
        self.wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
        if self._thread is None or not self._thread.is_alive():
            with suppress(Exception):  # the claim expires on its own
                self.store.release_notifications(self.claimer)

    def _loop(self) -> None:
        while not self.stopping.is_set():
            self.wake.clear()
            try:
                did = self.deliver_due()
            except Exception as e:  # a busy store: look again at the next poll
                self._say(f"notifications: cannot read the outbox: {e}")
                did = 0
            if not did:
                self.wake.wait(POLL_S)

    def deliver_due(self) -> int:
        """Claim and try every due row once; how many were tried."""
        now = datetime.now(timezone.utc)
        longest = settings_for(self.catalog, None).timeout_s  # timeout is the config's
        items = self.store.claim_notifications(
            claimer=self.claimer,
            now=_utc(now),
            until=_utc(now + timedelta(seconds=float(longest) + CLAIM_MARGIN_S)),
            abandoned=abandoned,
        )
        # One thread per channel: a dead channel delays only its own messages, and each
        # channel still gets them in the order they were queued.
        by_channel: dict[str, list[OutboxItem]] = {}
        for item in items:
            by_channel.setdefault(item.channel, []).append(item)
        threads = [
            threading.Thread(target=self._attempt_all, args=(group,), name=f"notify-{channel}")
            for channel, group in by_channel.items()
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()  # each attempt ends within its timeout (channels.send)
        return len(items)

    def _attempt_all(self, items: list[OutboxItem]) -> None:
        for item in items:
            if self.stopping.is_set():
                break
            try:
                self._attempt(item)
            except Exception as e:  # a busy store: the claim expires and the row is tried again
                self._say(f"notifications: cannot record an outcome: {e}")

    def _attempt(self, item: OutboxItem) -> None:
        settings = settings_for(self.catalog, item.train)
        config = settings.channels.get(item.channel) if settings is not NONE else None
        attempt = item.attempts + 1
        if config is None:
            self._settle(item, "failed", error=f"channel {item.channel!r} is no longer set up")
            return
        try:
            said = send(
                item.channel,
                config,
                Notice.from_json(item.payload),
                key=item.key,
                recipients=settings.recipients,
                timeout_s=settings.timeout_s,
                env=self.env,
            )
        except DeliveryError as e:
            if attempt > settings.retries:
                self._settle(item, "failed", error=f"{e} (attempt {attempt}, giving up)")
            else:
                again = datetime.now(timezone.utc) + timedelta(seconds=backoff_s(attempt))
                self._settle(
                    item, "pending", error=f"{e} (attempt {attempt}, retrying)", at=_utc(again)
                )
            return
        self._settle(item, "sent", detail=f"{said} (attempt {attempt})")

    def _settle(
        self,
        item: OutboxItem,
        status: str,
        *,
        error: str | None = None,
        detail: str | None = None,
        at: str | None = None,
    ) -> None:
        now = _utc()
        outcome = {"sent": "delivered", "failed": "failed", "pending": "not delivered"}[status]
        message = f"{item.event} to {item.channel}: {outcome}: {detail or error}"
        self.store.settle_notification(
            item,
            claimer=self.claimer,
            status=status,
            now=now,
            next_attempt_at=at or now,
            error=error,
            detail=detail,
            message=message,
        )
        self._say(f"notification {message}")

    def _say(self, line: str) -> None:
        if self.echo:
            self.echo(line)


class Delivery:
    """One command's notifications: the announcers its journals use, the sender thread, and
    the bounded wait for what it queued (`flush`)."""

    def __init__(self, *, catalog: Catalog, store: Store, sender: Sender | None) -> None:
        self.catalog = catalog
        self.store = store
        self.sender = sender
        self.announcers: list[Announcer] = []

    def announcer(self, train: str) -> Announcer | None:
        settings = settings_for(self.catalog, train)
        if not settings.channels:
            return None
        found = Announcer(
            store=self.store,
            train=train,
            settings=settings,
            on_queued=self.sender.wake.set if self.sender else None,
        )
        self.announcers.append(found)
        return found

    def bound_s(self, keys: list[str]) -> float:
        """How long the way out may wait: every attempt and backoff of one row, and one more
        timeout for each further row a channel has to deliver (channels go in parallel)."""
        s = settings_for(self.catalog, None)
        retries = max([s.retries, *(a.settings.retries for a in self.announcers)])
        timeout = max([s.timeout_s, *(a.settings.timeout_s for a in self.announcers)])
        waits = sum(backoff_s(n) for n in range(1, retries + 1))
        per_channel: dict[str, int] = {}
        for key in keys:
            channel = key.rsplit("/", 1)[-1]
            per_channel[channel] = per_channel.get(channel, 0) + 1
        more = max(per_channel.values(), default=1) - 1
        return (retries + 1) * timeout + waits + more * timeout + 1.0

    def flush(self, keys: list[str] | None = None) -> None:
        """Wait until what this command queued (or `keys`) is settled, within the bound (then
        the next sender that opens the store carries on)."""
        if keys is None:
            keys = [k for a in self.announcers for k in a.queued]
        if not keys or self.sender is None:
            return
        deadline = time.monotonic() + self.bound_s(keys)
        self.sender.wake.set()
        while time.monotonic() < deadline:
            if self.store.pending_notifications(keys=keys) == 0:
                return
            self.sender.stopping.wait(min(0.2, max(0.0, deadline - time.monotonic())))


@contextmanager
def delivering(
    catalog: Catalog,
    store: Store,
    *,
    given: Delivery | None = None,
    echo: Callable[[str], None] | None = None,
) -> Iterator[Delivery]:
    """A command's notifications: a sender thread runs meanwhile and the command waits for
    what it queued on the way out. With `given` (Settings.delivery: a worker's, whose own
    sender runs for its whole life, or one around several runs such as `execute --due`) that
    one is used as it is: nothing is started, and whoever made it flushes it."""
    if given is not None:
        yield given
        return
    configured = bool(catalog.config.notifications)
    sender = Sender(store=store, catalog=catalog, echo=echo).start() if configured else None
    delivery = Delivery(catalog=catalog, store=store, sender=sender)
    try:
        yield delivery
    finally:
        if sender is not None:
            try:
                delivery.flush()
            finally:
                sender.stop(timeout_s=STOP_WAIT_S)


def announce_platform_event(
    catalog: Catalog,
    store: Store,
    *,
    event: str,
    reason: str | None,
    ts: str,
    wait: bool = True,
) -> list[str]:
    """Queue an event of no run (`frozen`, `unfrozen`) for the config's channels and, with
    `wait` (a command), deliver it before returning, bounded like a run's; the server passes
    False (its workers' senders deliver it). The keys queued."""
    keys = queue_platform_event(store, catalog.config, event=event, reason=reason, ts=ts)
    if keys and wait:
        sender = Sender(store=store, catalog=catalog).start()
        delivery = Delivery(catalog=catalog, store=store, sender=sender)
        try:
            delivery.flush(keys)
        finally:
            sender.stop(timeout_s=STOP_WAIT_S)
    return keys


def announce_run_event(
    catalog: Catalog,
    store: Store,
    *,
    run_id: int,
    train: str,
    message: str,
    ts: str,
    delivery: Delivery | None = None,
) -> None:
    """Record a run's status event written outside any executor (a `pause` of a run nobody
    drives) with the notifications it announces, in one transaction; with `delivery`, its
    sender is woken and its flush waits for them."""
    announcer = (delivery or Delivery(catalog=catalog, store=store, sender=None)).announcer(train)
    rows = (
        announcer.rows_for(run_id=run_id, kind="status", message=message, service=None, ts=ts)
        if announcer is not None
        else None
    )
    store.record(run_id, ts=ts, kind="status", service=None, message=message, outbox=rows)
    if announcer is not None and rows is not None:
        announcer.written()
