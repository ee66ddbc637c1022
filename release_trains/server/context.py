"""What every route needs: the project root, the state store URL and the clock, given to
create_app once; the catalog is re-read when its files change, and the store is read as it is
now (a catalog edited on disk, or a store written by another process, is seen at once).

Reads go through one open store per server thread (`reading`), kept between requests: opening
a store is a new connection and a check of its tables and schema version, which was a fifth
of a status request's time. Each read transaction still sees what every other process has
committed. A kept store is opened again when it is older than READ_STORE_MAX_AGE_S (so a
`state migrate` run while serving is seen within that time) or, for SQLite, when its file was
replaced or removed (another inode at the path). Writes open a store per request. Answers
that stay true while nothing is committed (the tokens, the API trains, a train's records and
its status document) are kept by unchanged.py, keyed on the store's change mark."""

from __future__ import annotations

import functools
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from ..catalog import FILES, load_catalog
from ..models import Catalog
from ..state import DEFAULT_BUSY_TIMEOUT_S, Store, open_store
from .unchanged import Mark, Unchanged

READ_STORE_MAX_AGE_S = 10.0


@dataclass
class _Kept:
    """A read store kept by one thread, with what tells that it must be opened again."""

    store: Store
    opened_at: float
    file: tuple[int, int] | None  # SQLite: (device, inode) of the file it opened
    # requests using it now: a request's store may be used on another thread than the one
    # that opened it (FastAPI runs a dependency and the route on any thread of its pool), so
    # a store replaced by its thread is closed by the last request using it, not at once
    users: int = 0
    retired: bool = False


def _file_id(store: Store) -> tuple[int, int] | None:
    path = getattr(store.db, "path", None)
    if path is None:
        return None
    try:
        st = os.stat(path)
    except OSError:
        return (-1, -1)  # gone: never equal to the id it was opened with
    return (st.st_dev, st.st_ino)


@dataclass(frozen=True)
class ServerContext:
    root: Path
    state_url: str | None
    clock: Callable[[], datetime]
    busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S
    _cache: dict[tuple[bool, bool], tuple[tuple[object, ...], Catalog]] = field(
        default_factory=dict, compare=False, repr=False
    )
    _lock: threading.Lock = field(default_factory=threading.Lock, compare=False, repr=False)
    _kept: threading.local = field(default_factory=threading.local, compare=False, repr=False)
    # set when a route has queued a job: this process's workers (serve --workers) take it at
    # once rather than at their next poll of the queue
    queued: threading.Event = field(default_factory=threading.Event, compare=False, repr=False)
    unchanged: Unchanged = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        opener = functools.partial(
            open_store, self.state_url, self.root, create=False, busy_timeout_s=self.busy_timeout_s
        )
        # frozen: the one field set after __init__, once
        object.__setattr__(self, "unchanged", Unchanged(opener, _file_id, READ_STORE_MAX_AGE_S))

    def mark(self, request: Request) -> Mark | None:
        """The store's change mark for this request (unchanged.py), read at its first use."""
        if not hasattr(request.state, "mark"):
            request.state.mark = self.unchanged.mark()
        mark: Mark | None = request.state.mark
        return mark

    async def mark_async(self, request: Request) -> Mark | None:
        """mark(), from a coroutine: on the event loop when that cannot block, else in the
        thread pool."""
        if not hasattr(request.state, "mark") and not self.unchanged.quick():
            request.state.mark = await run_in_threadpool(self.unchanged.mark)
        return self.mark(request)

    def now(self) -> datetime:
        return self.clock()

    def catalog(
        self,
        *,
        services: bool = True,
        api: bool = True,
        store: Store | None = None,
        mark: Mark | None = None,
    ) -> Catalog:
        """The catalog as its files are now, with the trains defined through the API as the
        store holds them now (`store`: one the request has open already, else one is opened
        for this). Parsing and validating it is most of a request's time, so the last one
        loaded is kept while none of its files changed (path, inode, size and modification
        time of each: an edit, or an atomic replace, loads it again) and no API train was
        created, changed or deleted (their names and update times). `api=False`: the YAML
        catalog alone (what changing API trains checks against). `mark`: the request's
        (ServerContext.mark), to read the API trains only when the store changed."""
        if not api:
            return self._catalog(services, None)
        if store is not None:
            return self._catalog(services, store, mark)
        with self.reading() as opened:
            return self._catalog(services, opened, mark)

    def _catalog(self, services: bool, store: Store | None, mark: Mark | None = None) -> Catalog:
        trains: tuple[tuple[str, str], ...] = ()
        if store is not None:
            api = store.api_trains
            trains = self.unchanged.get(
                mark, "api trains", lambda: tuple((t.name, t.updated_at) for t in api())
            )
        key = (*self._files_key(), trains)
        slot = (services, store is not None)
        with self._lock:
            hit = self._cache.get(slot)
        if hit is not None and hit[0] == key:
            return hit[1]
        catalog = load_catalog(self.root, services=services, store=store)
        with self._lock:
            self._cache[slot] = (key, catalog)
        return catalog

    def _files_key(self) -> tuple[object, ...]:
        out: list[object] = []
        for candidates in FILES.values():
            for rel in candidates:
                try:
                    st = (self.root / rel).stat()
                except OSError:
                    out.append((rel, None))
                    continue
                out.append((rel, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns))
        return tuple(out)

    @contextmanager
    def reading(self) -> Iterator[Store | None]:
        """This thread's kept store for reading; None when nothing was ever written (nothing
        is created)."""
        kept = self._take_read_store()
        try:
            yield kept.store if kept is not None else None
        finally:
            if kept is not None:
                self._give_back(kept)

    def _take_read_store(self) -> _Kept | None:
        """This thread's kept read store (see the module's docstring); None while no store
        exists (then nothing is kept: the first execute may create one at any moment)."""
        kept: _Kept | None = getattr(self._kept, "slot", None)
        if kept is not None:
            fresh = time.monotonic() - kept.opened_at < READ_STORE_MAX_AGE_S
            if fresh and _file_id(kept.store) == kept.file:
                with self._lock:
                    kept.users += 1
                return kept
            self._kept.slot = None
            with self._lock:
                kept.retired = True
                idle = kept.users == 0
            if idle:
                kept.store.close()
        store = open_store(
            self.state_url, self.root, create=False, busy_timeout_s=self.busy_timeout_s
        )
        if store is None:
            return None
        kept = _Kept(store, time.monotonic(), _file_id(store), users=1)
        self._kept.slot = kept
        return kept

    def _give_back(self, kept: _Kept) -> None:
        with self._lock:
            kept.users -= 1
            last = kept.retired and kept.users == 0
        if last:
            kept.store.close()

    @contextmanager
    def writing(self) -> Iterator[Store]:
        store = open_store(
            self.state_url, self.root, create=True, busy_timeout_s=self.busy_timeout_s
        )
        assert store is not None
        try:
            yield store
        finally:
            store.close()


def context_of(request: Request) -> ServerContext:
    ctx: ServerContext = request.app.state.context
    return ctx
