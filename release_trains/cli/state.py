"""Opening the state store from the CLI, and what commands ask of it."""

from __future__ import annotations

import contextlib
import math
import os
from typing import TYPE_CHECKING

from ..catalog import load_catalog
from ..errors import InputError
from ..models import Catalog
from .context import Options

if TYPE_CHECKING:  # the store package costs ~40 ms to import: only where a store is opened
    from ..state import Store

MAX_BUSY_TIMEOUT_S = 86400.0  # a day: longer is a mistake, not a wait


def busy_timeout_s() -> float:
    """How long to wait for another process's write lock: RELEASE_TRAINS_BUSY_TIMEOUT seconds,
    a finite number from 0 to a day (nan, inf, a negative or an absurd value: exit 2)."""
    from ..state import DEFAULT_BUSY_TIMEOUT_S

    raw = os.environ.get("RELEASE_TRAINS_BUSY_TIMEOUT")
    if raw is None:
        return DEFAULT_BUSY_TIMEOUT_S
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    # float() also takes "nan", "inf" and "1e400" (inf): none is a wait SQLite can honour
    if not math.isfinite(value) or not 0 <= value <= MAX_BUSY_TIMEOUT_S:
        raise InputError(
            f"RELEASE_TRAINS_BUSY_TIMEOUT={raw!r} is not a number of seconds from 0 to "
            f"{MAX_BUSY_TIMEOUT_S:g} (how long to wait for another process's lock on the "
            f"state store; unset, {DEFAULT_BUSY_TIMEOUT_S:g})"
        )
    return value


def state_origin(value: str | None) -> str:
    """Where a --state value came from, for the message of a bad one: the variable when it is
    the variable's value, else the option."""
    if value is not None and os.environ.get("RELEASE_TRAINS_STATE") == value:
        return "RELEASE_TRAINS_STATE"
    return "--state"


def check_state(opts: Options) -> None:
    """A bad --state / RELEASE_TRAINS_STATE is exit 2 naming which of the two it was."""
    from ..state import parse_url

    parse_url(opts.state, opts.root, origin=state_origin(opts.state))


def read_store(opts: Options) -> Store | None:
    """The store for reading; None when nothing has run yet (and nothing is created)."""
    check_state(opts)
    from ..state import open_store

    return open_store(opts.state, opts.root, create=False, busy_timeout_s=busy_timeout_s())


def read_store_if_any(opts: Options) -> Store | None:
    """read_store, without importing the store (~40 ms of start-up) where its answer is known
    in advance: no --state, no RELEASE_TRAINS_BUSY_TIMEOUT for it to check, and no
    analysis/state/ folder, where the embedded store lives (CONTRACT.md): nothing ran here."""
    if (
        opts.state is None
        and "RELEASE_TRAINS_BUSY_TIMEOUT" not in os.environ
        and not (opts.root / "analysis" / "state").exists()
    ):
        return None
    return read_store(opts)


def write_store(opts: Options) -> Store:
    check_state(opts)
    from .. import audit
    from ..state import open_store

    store = open_store(opts.state, opts.root, create=True, busy_timeout_s=busy_timeout_s())
    assert store is not None
    # A command that writes first gives this machine's audit.log the records a killed
    # process committed but did not append (audit.catch_up); a file it cannot write is left
    # as it is, for `audit --verify` to name.
    with contextlib.suppress(OSError):
        audit.catch_up(audit.path_for(opts.root), store)
    return store


def load_cli_catalog(opts: Options, *, services: bool = True) -> Catalog:
    """The catalog under --root with the trains defined through the API (kept in the store
    --state names) merged in, so every command sees the same trains the server does."""
    from .cache import catalog_load_options

    load = catalog_load_options(opts.root)
    store = read_store_if_any(opts)
    try:
        return load_catalog(opts.root, services=services, store=store, **load)
    finally:
        if store is not None:
            store.close()
