"""Opening the state store from the CLI, and what commands ask of it."""

from __future__ import annotations

from ..store import Store, open_store
from .context import Options


def read_store(opts: Options) -> Store | None:
    """The store for reading; None when nothing has run yet (and nothing is created)."""
    return open_store(opts.state, opts.root, create=False)


def write_store(opts: Options) -> Store:
    store = open_store(opts.state, opts.root, create=True)
    assert store is not None
    return store
