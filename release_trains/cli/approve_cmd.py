"""release-trains approve TRAIN --gate G [--comment C] [--resume]: one approver's yes."""

from __future__ import annotations

import click

from .. import audit
from ..approvals import Decision, decide, find_gate
from ..errors import EXIT_OK
from ..identity import actor
from ..planning import find_train
from .complete import complete_train
from .context import Options, echo, examples, pass_options, print_json, utcnow
from .execute_cmd import run_train
from .params import Reason
from .state import load_cli_catalog, write_store


@click.command(
    "approve",
    epilog=examples(
        "release-trains approve Q4-curve-upgrade --gate uat-signoff --comment 'UAT passed'",
        "release-trains approve Q4-curve-upgrade --gate uat-signoff --resume",
    ),
)
@click.argument("train", shell_complete=complete_train)
@click.option("--gate", "gate", required=True, help="The approval gate the train waits for.")
@click.option("--comment", type=Reason(), default=None, help="Why (lands in the audit log).")
@click.option(
    "--resume",
    "and_resume",
    is_flag=True,
    help="Once the approvals are complete, carry the train on here (like `resume`).",
)
@pass_options
def command(
    opts: Options, train: str, gate: str, comment: str | None, and_resume: bool, as_json: bool
) -> int:
    """Approve TRAIN's approval gate: 0 recorded, 3 not awaiting it or not yours to approve."""
    decision = record(opts, train, gate=gate, decision="approve", comment=comment)
    if and_resume and decision.outcome == "approved":
        echo(decision.message, err=True)
        return run_train(opts, train, max_parallel=None, as_json=as_json, resume_only=True)
    show(decision, as_json=as_json)
    return EXIT_OK


def record(opts: Options, train: str, *, gate: str, decision: str, comment: str | None) -> Decision:
    catalog = load_cli_catalog(opts)
    find_gate(find_train(catalog, train), gate)  # an unknown train or gate creates no store
    store = write_store(opts)
    try:
        return decide(
            catalog,
            store,
            train,
            gate_name=gate,
            decision=decision,
            comment=comment,
            who=actor(),
            now=utcnow(),
            audit_path=audit.path_for(opts.root),
        )
    finally:
        store.close()


def show(decision: Decision, *, as_json: bool) -> None:
    if as_json:
        print_json(decision.to_json())
    else:
        echo(decision.message)
