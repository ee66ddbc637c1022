"""What every route needs: the project root, the state store URL and the clock, given to
create_app once; the catalog and the store are opened per request (a catalog edited on disk,
or a store written by another process, is read as it is now)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from fastapi import Request

from ..catalog import load_catalog
from ..models import Catalog
from ..state import DEFAULT_BUSY_TIMEOUT_S, Store, open_store


@dataclass(frozen=True)
class ServerContext:
    root: Path
    state_url: str | None
    clock: Callable[[], datetime]
    busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S

    def now(self) -> datetime:
        return self.clock()

    def catalog(self, *, services: bool = True) -> Catalog:
        return load_catalog(self.root, services=services)

    @contextmanager
    def reading(self) -> Iterator[Store | None]:
        """The store for reading; None when nothing was ever written (nothing is created)."""
        store = open_store(
            self.state_url, self.root, create=False, busy_timeout_s=self.busy_timeout_s
        )
        try:
            yield store
        finally:
            if store is not None:
                store.close()

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
