"""A lease on a train and its services, held for the lock's whole life.

`Lease` is a context manager: entering it takes the train's lock and every service's in one
store transaction (`Store.acquire`, which takes over a stale lock, recorded in the audit log);
a daemon thread then renews the lease on a timer, every `lock_stale_after / 4` seconds and at
most once a second, whatever the holder is doing: validating, staging, a deploy, a long health
check, a rollback, a wait for an earlier deploy to end. Renewal is a timer, never a write per
service, so its cost does not grow with the train.

When a renewal finds the lease gone (taken over by another host once it looked stale, or
forced off with `unlock --force`) the lease is marked lost. Every write the run makes goes
through `store`, the store fenced by this lease's lock id: once the lease is gone the holder's
next write raises LostLockError (exit 3, "lost the lock on TRAIN to HOLDER"), so the old holder
can change nothing more; callers also `check()` before each deploy. Leaving the context stops
the thread and releases the lease, unless it was lost (it then holds nothing to release).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType

from . import audit
from .errors import LostLockError, ReleaseTrainError
from .state import Lock, Store

MIN_RENEWAL_S = 1.0  # renew at most once a second: a write per second costs nothing


def renewal_interval(stale_after_s: float) -> float:
    """How often a holder renews its lease: four renewals fit in the time after which another
    host may take it over, so a late one or two do not lose it."""
    return max(stale_after_s / 4, MIN_RENEWAL_S)


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


def new_lock_id() -> str:
    return uuid.uuid4().hex[:12]


class Lease:
    def __init__(
        self,
        *,
        store: Store,
        train: str,
        services: Sequence[str],
        holder: str,
        host: str,
        pid: int,
        stale_after_s: float,
        clock: Callable[[], datetime],
        audit_root: Path,
        echo: Callable[[str], None] | None = None,
        renewal_clock: Callable[[], datetime] | None = None,
    ) -> None:
        """`clock` stamps the acquisition; `renewal_clock` (default: the real UTC time) the
        renewals, which say "alive now" to other processes on their own clocks, and which run
        on a timer: a test clock that ticks per call stays deterministic."""
        self.lock_id = new_lock_id()
        self.train = train
        self.resources = [f"train:{train}", *(f"service:{s}" for s in services)]
        self.holder = holder
        self.host = host
        self.pid = pid
        self.stale_after_s = stale_after_s
        self.interval_s = renewal_interval(stale_after_s)
        self._plain = store
        self._clock = clock
        self._renewal_clock = renewal_clock or _utc_now
        self._audit_root = audit_root
        self._echo = echo
        self._lost_to: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._fenced: Store | None = None

    # --- the context -----------------------------------------------------------------------

    def __enter__(self) -> Lease:
        now = self._now()
        lock = Lock(
            resource="",
            lock_id=self.lock_id,
            train=self.train,
            holder=self.holder,
            host=self.host,
            pid=self.pid,
            started_at=now,
            heartbeat_at=now,
        )
        taken = self._plain.acquire(
            self.resources,
            lock,
            stale_after_s=self.stale_after_s,
            now_ts=self._clock().timestamp(),
        )
        try:
            # Every write of the run carries this lock id: none lands once the lease is gone.
            self._fenced = self._plain.fenced(self.lock_id)
            for held in {t.lock_id: t for t in taken}.values():
                self._record_takeover(held, now)
        except BaseException:
            self._plain.release(self.lock_id)
            raise
        self._thread = threading.Thread(
            target=self._renew, name=f"lease-{self.lock_id}", daemon=True
        )
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if not self.lost:
            self._plain.release(self.lock_id)  # only rows that still carry our lock id

    # --- what holders ask ------------------------------------------------------------------

    @property
    def store(self) -> Store:
        """The store fenced by this lease: every write fails (LostLockError) once it is lost."""
        if self._fenced is None:
            raise RuntimeError("a lease's store is used only inside `with lease:`")
        return self._fenced

    @property
    def lost(self) -> bool:
        return self._lost_to is not None

    def check(self) -> None:
        """Raise LostLockError when the lease is gone: nothing more may be started."""
        if self._lost_to is not None:
            raise self.lost_error()

    def lost_error(self) -> LostLockError:
        return LostLockError(f"lost the lock on {self.train} to {self._lost_to or 'nobody'}")

    def renew(self) -> bool:
        """Renew now; False (and the lease marked lost) when it is no longer ours."""
        if self.lost:
            return False
        stamp = self._renewal_clock().isoformat(timespec="milliseconds")
        if self._plain.heartbeat(self.lock_id, stamp):
            return True
        self._lost_to = self._who_holds()
        if self._echo:
            self._echo(str(self.lost_error()))
        return False

    # --- inside ----------------------------------------------------------------------------

    def _renew(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                if not self.renew():
                    return
            except ReleaseTrainError:  # a busy store: the next renewal tries again
                continue

    def _who_holds(self) -> str:
        """The lease's holder now, for the message: another run's lock, or nobody (forced off)."""
        try:
            held = [lk for lk in self._plain.locks(self.train) if lk.resource in self.resources]
        except ReleaseTrainError:
            return "another holder"
        others = [lk for lk in held if lk.lock_id != self.lock_id]
        if not others:
            return "nobody (it was removed with unlock)"
        mine = next((lk for lk in others if lk.resource == f"train:{self.train}"), others[0])
        return f"{mine.holder} on {mine.host} (pid {mine.pid}, lock {mine.lock_id})"

    def _record_takeover(self, held: Lock, now: str) -> None:
        message = (
            f"took over the stale lock {held.lock_id} of {held.holder} on {held.host} "
            f"(pid {held.pid}, last heartbeat {held.heartbeat_at})"
        )
        if self._echo:
            self._echo(message)
        audit.append(
            audit.path_for(self._audit_root),
            store=self.store,
            host=self.host,
            ts=now,
            actor=self.holder,
            action="lock-takeover",
            train=self.train,
            service=None,
            detail=message,
        )

    def _now(self) -> str:
        return self._clock().isoformat(timespec="milliseconds")
