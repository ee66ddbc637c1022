"""release-trains unlock TRAIN LOCK_ID [--force]: remove a lease whose holder is gone."""

from __future__ import annotations

import click

from .. import audit
from ..catalog import load_catalog
from ..identity import actor, host
from .complete import complete_train
from .context import Options, examples, pass_options, print_json, utcnow
from .state import write_store


@click.command(
    "unlock",
    epilog=examples(
        "release-trains execute Q4-curve-upgrade   # refused: names the lock and its holder",
        "release-trains unlock Q4-curve-upgrade 3f2a9c1b7d4e",
        "release-trains unlock Q4-curve-upgrade 3f2a9c1b7d4e --force   # its holder is alive",
    ),
)
@click.argument("train", shell_complete=complete_train)
@click.argument("lock_id")
@click.option(
    "--force",
    is_flag=True,
    help="Remove a lease that is not stale: its holder then stops at its next write (exit 3).",
)
@pass_options
def command(opts: Options, train: str, lock_id: str, force: bool, as_json: bool) -> int:
    """Remove the lock LOCK_ID held on TRAIN (see the message of a refused execute).

    A lease that is not stale (its process runs on this host, or its heartbeat is younger than
    executor.lock_stale_after) is refused with exit 3 unless --force; a holder whose lease was
    removed writes and deploys nothing more and exits 3.
    """
    # the staleness rule of the catalog the executors run with (its services are not needed)
    stale_after_s = load_catalog(opts.root, services=False).config.lock_stale_after_s
    store = write_store(opts)
    try:
        held = store.unlock(
            train,
            lock_id,
            force=force,
            now_ts=utcnow().timestamp(),
            stale_after_s=stale_after_s,
        )
        audit.append(
            audit.path_for(opts.root),
            store=store,
            host=host(),
            ts=utcnow().isoformat(timespec="milliseconds"),
            actor=actor(),
            action="unlock",
            train=train,
            service=None,
            detail=f"{'forced off' if force else 'removed'} lock {lock_id} of {held[0].describe()}",
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
                "forced": force,
                "holder": held[0].describe(),
                "message": message,
            }
        )
    else:
        click.echo(message)
    return 0
