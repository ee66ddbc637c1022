"""release-trains reject TRAIN --gate G --reason R: an approver's no, which fails the train
(and rolls it back where automatic rollback is on)."""

from __future__ import annotations

import click

from ..errors import EXIT_NO, EXIT_OK
from ..identity import actor
from ..rollback import rollback_train
from ..runtime import Settings
from .approve_cmd import record, show
from .complete import complete_train
from .context import Options, console, echo, examples, pass_options, print_json, utcnow
from .params import Reason
from .state import load_cli_catalog, write_store


@click.command(
    "reject",
    epilog=examples(
        "release-trains reject Q4-curve-upgrade --gate uat-signoff --reason 'UAT: pricing wrong'",
    ),
)
@click.argument("train", shell_complete=complete_train)
@click.option("--gate", "gate", required=True, help="The approval gate the train waits for.")
@click.option(
    "--reason", type=Reason(), required=True, help="Why (the train's failure reason; audited)."
)
@pass_options
def command(opts: Options, train: str, gate: str, reason: str, as_json: bool) -> int:
    """Reject TRAIN's approval gate: the train fails (and rolls back where that is on)."""
    decision = record(opts, train, gate=gate, decision="reject", comment=reason)
    if not decision.rollback:
        show(decision, as_json=as_json)
        return EXIT_OK
    # automatic rollback is on and the run deployed services: back, here and now, as the
    # executor would have done it (under a lease of our own)
    echo(decision.message, err=True)
    catalog = load_cli_catalog(opts)
    out = console(stderr=True)
    settings = Settings(
        clock=utcnow,
        who=actor(),
        echo=None if as_json else (lambda line: out.print(line, markup=False, highlight=False)),
    )
    store = write_store(opts)
    try:
        _, result = rollback_train(
            catalog,
            store,
            train,
            settings=settings,
            reason=f"automatic rollback after: rejected at approval gate {gate}: {reason}",
        )
        run = store.run(decision.run_id)
    finally:
        store.close()
    status = run.status if run else decision.status
    done = decision.to_json() | {"status": str(status), "rollback": result is not None}
    if result is not None:
        done["message"] = f"{decision.message}; rollback: {result.status}: {result.reason}"
    if as_json:
        print_json(done)
    else:
        echo(done["message"])
    return EXIT_NO if result is not None and result.status == "failed" else EXIT_OK
