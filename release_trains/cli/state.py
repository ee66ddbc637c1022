"""Opening the state store from the CLI, and what commands ask of it."""

from __future__ import annotations

from ..models import Catalog
from ..store import Store, open_store
from .context import Options


def read_store(opts: Options) -> Store | None:
    """The store for reading; None when nothing has run yet (and nothing is created)."""
    return open_store(opts.state, opts.root, create=False)


def write_store(opts: Options) -> Store:
    store = open_store(opts.state, opts.root, create=True)
    assert store is not None
    return store


def known_versions(opts: Options, catalog: Catalog) -> dict[str, str]:
    """Versions the state store recorded as deployed in the configured environment."""
    store = read_store(opts)
    if store is None:
        return {}
    try:
        return store.deployed_versions(catalog.config.environment)
    finally:
        store.close()


def train_status(opts: Options, train: str) -> str | None:
    """The status of the train's latest run; None when it never ran (YAML status applies)."""
    store = read_store(opts)
    if store is None:
        return None
    try:
        run = store.latest_run(train)
        return run.status if run else None
    finally:
        store.close()
