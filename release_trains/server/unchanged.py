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
looked at every FILE_CHECK_S);
each opening starts a new epoch, so marks of two connections never compare equal.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ..errors import StateError
from ..state import Store

T = TypeVar("T")

# A SQLite file replaced under the server (a restore) is noticed within this long: its
# identity is an os.stat, a twentieth of a kept request's time when made for each one.
FILE_CHECK_S = 0.5
MAX_ANSWERS = 1024  # per mark: keys come from request paths (train names), so bounded

Opener = Callable[[], Store | None]
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
    _epoch: int = 0
    _mark: object = None
    _answers: dict[Hashable, object] = field(default_factory=dict)

    def mark(self) -> object | None:
        """The store's change mark now; None when there is no store (nothing is kept)."""
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
                self._epoch += 1
            try:
                return (self._epoch, w.db.change_mark())
            except StateError:
                w.close()  # the server went away: a new connection next time, nothing kept
                self._watcher = None
                return None

    def get(
        self,
        mark: object | None,
        key: Hashable,
        compute: Callable[[], T],
        *,
        fresh: Callable[[T], bool] | None = None,
    ) -> T:
        """What `compute` gives, kept for requests that find the store at `mark` (read before
        this call, by mark()) and, with `fresh`, while it says the kept value still is.
        Values must be immutable: every request shares them."""
        if mark is None:
            return compute()
        with self._lock:
            found, value = self._kept(mark, key, fresh)
            if found:
                return value  # type: ignore[no-any-return]
            computing = self._computing.setdefault(key, threading.Lock())
        with computing:  # outside the answers' lock: other keys are answered meanwhile
            with self._lock:
                found, value = self._kept(mark, key, fresh)
                if found:
                    return value  # type: ignore[no-any-return]
            value = compute()
            with self._lock:
                if self._mark != mark:  # answers of another mark are dropped (it is older,
                    self._mark, self._answers = mark, {}  # or this one is: then they are)
                if len(self._answers) < MAX_ANSWERS:
                    self._answers[key] = value
                if len(self._computing) > MAX_ANSWERS:
                    self._computing.clear()  # keys from request paths: bounded too
        return value

    def peek(
        self, mark: object | None, key: Hashable, *, fresh: Callable[[T], bool] | None = None
    ) -> T | None:
        """What get would give without computing anything; None when it would compute."""
        if mark is None:
            return None
        with self._lock:
            found, value = self._kept(mark, key, fresh)
        return value if found else None

    def _kept(
        self, mark: object, key: Hashable, fresh: Callable[[Any], bool] | None
    ) -> tuple[bool, Any]:
        """(found, value) under self._lock."""
        if self._mark != mark or key not in self._answers:
            return False, None
        value = self._answers[key]
        return (fresh is None or fresh(value)), value

    def quick(self) -> bool:
        """Whether mark() can be called on the event loop: it will neither open a store nor
        wait for a server (its watcher is an open SQLite store that needs no reopening; a
        PostgreSQL mark is a round trip, read in the thread pool)."""
        w = self._watcher
        return (
            w is not None
            and w.db.kind == "sqlite"
            and time.monotonic() - self._opened_at < self.max_age_s
        )

    def close(self) -> None:
        with self._watch_lock:
            if self._watcher is not None:
                self._watcher.close()
                self._watcher = None
