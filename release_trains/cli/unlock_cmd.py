"""release-trains unlock TRAIN LOCK_ID: force a lock off (when its holder is known dead)."""

from __future__ import annotations

import click

from .. import audit
from ..errors import InputError
from ..journal import actor
from .context import Options, pass_options, utcnow
from .state import write_store


@click.command("unlock")
@click.argument("train")
@click.argument("lock_id")
@pass_options
def command(opts: Options, train: str, lock_id: str) -> int:
    """Remove the lock LOCK_ID held on TRAIN (see the message of a refused execute)."""
    store = write_store(opts)
    try:
        held = [lk for lk in store.locks(train) if lk.lock_id == lock_id]
        if not held:
            ids = ", ".join(sorted({lk.lock_id for lk in store.locks(train)})) or "none"
            raise InputError(f"train {train!r} holds no lock {lock_id!r} (locks held: {ids})")
        store.release(lock_id)
        audit.append(
            audit.path_for(opts.root),
            store=store,
            ts=utcnow().isoformat(timespec="milliseconds"),
            actor=actor(),
            action="unlock",
            train=train,
            service=None,
            detail=f"forced off lock {lock_id} of {held[0].describe()}",
        )
    finally:
        store.close()
    click.echo(f"lock {lock_id} on {train} removed ({len(held)} resources)")
    return 0
