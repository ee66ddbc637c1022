"""release-trains pause TRAIN: ask the running executor to stop before its next service."""

from __future__ import annotations

import click

from .. import audit, lifecycle
from ..catalog import load_catalog
from ..errors import UnknownTrainError
from ..identity import actor, host
from ..planning import find_train
from ..state import is_stale
from .complete import complete_train
from .context import Options, examples, pass_options, print_json, utcnow
from .params import Reason
from .state import write_store


@click.command(
    "pause",
    epilog=examples(
        "release-trains pause Q4-curve-upgrade --reason 'error rate up in eu-west'",
        "release-trains resume Q4-curve-upgrade",
    ),
)
@click.argument("train", shell_complete=complete_train)
@click.option("--reason", type=Reason(), default="paused by an operator", show_default=True)
@pass_options
def command(opts: Options, train: str, reason: str, as_json: bool) -> int:
    """Stop TRAIN's executor before its next service; the train becomes `paused`."""
    catalog = load_catalog(opts.root)
    find_train(catalog, train)
    store = write_store(opts)
    try:
        run = store.latest_run(train)
        if run is None:
            raise UnknownTrainError(f"train {train!r} has never run: nothing to pause")
        if run.status not in lifecycle.ACTIVE:
            raise lifecycle.refuse(train, run.status, "pause")
        who = actor()
        now = utcnow().isoformat(timespec="milliseconds")
        live = [
            lk
            for lk in store.locks(train)
            if not is_stale(
                lk, now_ts=utcnow().timestamp(), stale_after_s=catalog.config.lock_stale_after_s
            )
        ]
        if live:
            store.request_pause(run.id, f"{who}: {reason}")
            message = "pause requested: the executor stops before its next service"
            status: str = run.status
        else:  # nobody runs it (the process died): pause it directly so it can be resumed
            store.transition(
                run.id,
                expected=run.status,
                new=lifecycle.RunStatus.PAUSED,
                now=now,
                reason=f"paused by {who}: {reason}",
            )
            message = "no executor is running this train; it is now paused"
            status = "paused"
        audit.append(
            audit.path_for(opts.root),
            store=store,
            host=host(),
            ts=now,
            actor=who,
            action="pause",
            train=train,
            service=None,
            detail=reason,
        )
    finally:
        store.close()
    if as_json:
        print_json(
            {
                "train": train,
                "run_id": run.id,
                "requested": bool(live),
                "status": status,
                "reason": reason,
                "message": message,
            }
        )
    else:
        click.echo(message)
    return 0
