"""Answers kept while nothing is committed to the state store.

Every status request reads the same things again: the tokens, the trains defined through the
API, a train's latest run with its steps, events, votes and notifications. Read again for
each of 50 dashboards and pipelines polling it, that was most of the server's time (B7,
benchmarks/README.md), yet the store changes a few times a second at most. So the server
keeps each answer with the store's change mark (Database.change_mark: SQLite's data_version,
PostgreSQL's transaction snapshot) read *before* it was computed, and gives it again only to a
request that finds the same mark: nothing was committed between the two, by this process or
any other, so the answer is what a read would give now. What depends on the clock (durations,
staleness, freeze windows) is never kept: it is computed from the kept records per request.

The mark is read on one connection kept for that alone (a mark is only comparable with
earlier ones of the same connection, and this one never writes), opened again like the read
stores of context.py (after READ_STORE_MAX_AGE_S, or when the SQLite file was replaced,
looked at every FILE_CHECK_S). The marks it gives are a count that moves whenever the store's
own mark does (and when the watcher is opened again), so they are ordered as they were read:
an answer kept at a newer mark than a request's is as good for it (that mark was read while
the request waited), and one computed at an older mark never replaces newer ones.

Routes ask with get_async: a kept answer is given on the event loop, and a missing one is
computed once in the thread pool for all the requests that ask meanwhile.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from starlette.concurrency import run_in_threadpool

from ..errors import StateError
from ..state import Store

T = TypeVar("T")

# A SQLite file replaced under the server (a restore) is noticed within this long: its
# identity is an os.stat, a twentieth of a kept request's time when made for each one.
FILE_CHECK_S = 0.5
MAX_ANSWERS = 1024  # per mark: keys come from request paths (train names), so bounded

Opener = Callable[[], Store | None]
Mark = int
_UNREAD = object()
FileId = Callable[[Store], "tuple[int, int] | None"]


@dataclass
class Unchanged:
    """The kept answers of one server (ServerContext holds one)."""

    open_watcher: Opener  # a store to read marks on (None: no store exists yet)
    file_id: FileId
    max_age_s: float
    _lock: threading.Lock = field(default_factory=threading.Lock)  # the kept answers
    _watch_lock: threading.Lock = field(default_factory=threading.Lock)  # the watcher
    # one computation per key at a time: when the mark moves, the 50 requests waiting find
    # the answer the first of them computed, instead of all reading the store at once
    _computing: dict[Hashable, threading.Lock] = field(default_factory=dict)
    _watcher: Store | None = None
    _opened_at: float = 0.0
    _file_seen: float = 0.0  # when the SQLite file's identity was last checked
    _file: tuple[int, int] | None = None
    _raw: object = _UNREAD  # the store's own change mark last read on the watcher
    _seq: int = 0  # the mark given: moves with it, so marks are ordered as they were read
    _mark: Mark | None = None  # the mark the kept answers were computed at
    _answers: dict[Hashable, object] = field(default_factory=dict)
    # get_async's computations under way, by key, with the mark each was asked at: touched
    # on the event loop only
    _flights: dict[Hashable, tuple[Mark, asyncio.Future[Any]]] = field(default_factory=dict)

    def mark(self) -> Mark | None:
        """The store's change mark now: equal to the last one while nothing was committed,
        greater after a commit (the watcher reads them one after another, and a new watcher
        starts above the last one); None when there is no store (nothing is kept)."""
        with self._watch_lock:
            w = self._watcher
            now = time.monotonic()
            if w is not None and (
                now - self._opened_at >= self.max_age_s
                or (now - self._file_seen >= FILE_CHECK_S and self.file_id(w) != self._file)
            ):
                w.close()
                w = self._watcher = None
            if w is not None and now - self._file_seen >= FILE_CHECK_S:
                self._file_seen = now
            if w is None:
                w = self.open_watcher()
                if w is None:
                    return None
                self._watcher, self._opened_at, self._file = w, time.monotonic(), self.file_id(w)
                self._file_seen = self._opened_at
                self._raw = _UNREAD  # another connection's marks: never equal to its marks
            try:
                raw = w.db.change_mark()
            except StateError:
                w.close()  # the server went away: a new connection next time, nothing kept
                self._watcher = None
                return None
            if raw != self._raw:
                self._raw, self._seq = raw, self._seq + 1
            return self._seq

    def get(
        self,
        mark: Mark | None,
        key: Hashable,
        compute: Callable[[], T],
        *,
        fresh: Callable[[T], bool] | None = None,
        meanwhile: Callable[[T], bool] | None = None,
    ) -> T:
        """What `compute` gives, kept for requests that find the store at `mark` (read before
        this call, by mark()) and, with `fresh`, while it says the kept value still is.
        `meanwhile`: while another request computes the key again for the same mark (the
        kept value is no longer fresh, the store is unchanged), the kept value is given if
        this says it may be, rather than waiting for the new one.
        Values must be immutable: every request shares them."""
        if mark is None:
            return compute()
        with self._lock:
            found, value = self._kept(mark, key, fresh, meanwhile)
            if found:
                return value  # type: ignore[no-any-return]
            computing = self._computing.setdefault(key, threading.Lock())
        with computing:  # outside the answers' lock: other keys are answered meanwhile
            with self._lock:
                found, value = self._kept(mark, key, fresh, None)
                if found:
                    return value  # type: ignore[no-any-return]
                # what compute reads is at least as new as the newest mark read so far, so it
                # is kept at that one: a request that waited here while others read a newer
                # mark does not compute an answer only it could use. Older answers go now,
                # not when it is done: compute may look other keys up (the status document
                # uses the kept records), and those must be at least as new.
                at = max(mark, self._seq)
                if self._mark is None or at > self._mark:
                    self._mark, self._answers = at, {}
            value = compute()
            with self._lock:
                if at == self._mark and (key in self._answers or len(self._answers) < MAX_ANSWERS):
                    self._answers[key] = value  # (one computed at an older mark than the
                    # kept answers' is not kept: they are newer)
                if len(self._computing) > MAX_ANSWERS:
                    self._computing.clear()  # keys from request paths: bounded too
        return value

    async def get_async(
        self,
        mark: Mark | None,
        key: Hashable,
        compute: Callable[[], T],
        *,
        fresh: Callable[[T], bool] | None = None,
        meanwhile: Callable[[T], bool] | None = None,
    ) -> T:
        """get() for a coroutine on the event loop. A kept answer is given there; otherwise
        one request computes it in the thread pool, and the others that ask for it meanwhile
        at a mark no newer than that request's await the same computation on the loop: after
        a commit, 50 pollers cost one thread hand-off, not 50 threads woken one by one. The
        computation is a task of its own, so a request that goes away does not stop it for
        the others. `compute` runs in the thread pool."""
        if mark is None:
            return await run_in_threadpool(compute)
        with self._lock:
            found, value = self._kept(mark, key, fresh, meanwhile)
        if found:
            return value  # type: ignore[no-any-return]
        flight = self._flights.get(key)
        if (
            flight is None
            or flight[0] < mark  # it may give an older answer
            or flight[1].get_loop() is not asyncio.get_running_loop()  # a test's earlier app
        ):
            task = asyncio.ensure_future(
                run_in_threadpool(self.get, mark, key, compute, fresh=fresh)
            )
            flight = self._flights[key] = (mark, task)

            def landed(done: asyncio.Future[Any], key: Hashable = key, f: object = flight) -> None:
                if self._flights.get(key) is f:
                    del self._flights[key]
                if not done.cancelled():
                    done.exception()  # seen, even if every request that awaited it went away

            task.add_done_callback(landed)
        return await asyncio.shield(flight[1])

    def peek(
        self,
        mark: Mark | None,
        key: Hashable,
        *,
        fresh: Callable[[T], bool] | None = None,
        meanwhile: Callable[[T], bool] | None = None,
    ) -> T | None:
        """What get would give without computing anything; None when it would compute."""
        if mark is None:
            return None
        with self._lock:
            found, value = self._kept(mark, key, fresh, meanwhile)
        return value if found else None

    def _kept(
        self,
        mark: Mark,
        key: Hashable,
        fresh: Callable[[Any], bool] | None,
        meanwhile: Callable[[Any], bool] | None,
    ) -> tuple[bool, Any]:
        """(found, value) under self._lock. Answers kept at a newer mark than the request's
        are as good for it: that mark was read after the request's, while it was waiting,
        so they are what a read made then would have given it."""
        if self._mark is None or self._mark < mark or key not in self._answers:
            return False, None
        value = self._answers[key]
        if fresh is None or fresh(value):
            return True, value
        if meanwhile is None:
            return False, value
        computing = self._computing.get(key)
        refreshing = key in self._flights or (computing is not None and computing.locked())
        return (refreshing and meanwhile(value)), value

    def quick(self) -> bool:
        """Whether mark() can be called on the event loop: it will neither open a store nor
        wait for a server (its watcher is an open SQLite store that needs no reopening, nor
        a look at whether its file was replaced, which may reopen it; a PostgreSQL mark is a
        round trip, read in the thread pool)."""
        w = self._watcher
        now = time.monotonic()
        return (
            w is not None
            and w.db.kind == "sqlite"
            and now - self._opened_at < self.max_age_s
            and now - self._file_seen < FILE_CHECK_S
        )

    def close(self) -> None:
        with self._watch_lock:
            if self._watcher is not None:
                self._watcher.close()
                self._watcher = None
