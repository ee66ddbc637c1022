"""release-trains unlock TRAIN LOCK_ID: force a lock off (when its holder is known dead)."""

from __future__ import annotations

import click

from .. import audit
from ..errors import InputError
from ..identity import actor
from .complete import complete_train
from .context import Options, examples, pass_options, print_json, utcnow
from .state import write_store


@click.command(
    "unlock",
    epilog=examples(
        "release-trains execute Q4-curve-upgrade   # refused: names the lock and its holder",
        "release-trains unlock Q4-curve-upgrade 3f2a9c1b7d4e",
    ),
)
@click.argument("train", shell_complete=complete_train)
@click.argument("lock_id")
@pass_options
def command(opts: Options, train: str, lock_id: str, as_json: bool) -> int:
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
    message = f"lock {lock_id} on {train} removed ({len(held)} resources)"
    if as_json:
        print_json(
            {
                "train": train,
                "lock_id": lock_id,
                "resources": len(held),
                "holder": held[0].describe(),
                "message": message,
            }
        )
    else:
        click.echo(message)
    return 0
