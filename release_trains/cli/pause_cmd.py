"""release-trains pause TRAIN: ask the running executor to stop before its next service."""

from __future__ import annotations

import click

from .. import audit
from ..identity import actor
from ..notify.sender import delivering
from ..pausing import pause_train
from ..planning import find_train
from .complete import complete_train
from .context import Options, echo, examples, pass_options, print_json, utcnow
from .params import Reason
from .state import load_cli_catalog, write_store


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
    catalog = load_cli_catalog(opts)
    find_train(catalog, train)  # an unknown train creates no store
    store = write_store(opts)
    try:
        with delivering(catalog, store) as delivery:  # a `paused` announced is sent before exit
            doc = pause_train(
                catalog,
                store,
                train,
                reason=reason,
                who=actor(),
                now=utcnow(),
                audit_path=audit.path_for(opts.root),
                delivery=delivery,
            )
    finally:
        store.close()
    if as_json:
        print_json(doc)
    else:
        echo(doc["message"])  # it holds the reason: anyone's text
    return 0
