"""release-trains rollback TRAIN --reason R: released services back to their previous versions."""

from __future__ import annotations

from typing import Any

import click

from ..errors import EXIT_NO, EXIT_OK
from ..identity import actor
from ..rollback import RollbackPlan, document, rollback_train
from ..runtime import Settings
from .complete import complete_service, complete_train
from .context import Options, console, examples, pass_options, print_json, utcnow
from .execute_cmd import deploy_ended_option, refuse_dry_run_declaration
from .params import Reason
from .state import load_cli_catalog, read_store, write_store


@click.command(
    "rollback",
    epilog=examples(
        "release-trains rollback Q4-curve-upgrade --dry-run",
        "release-trains rollback Q4-curve-upgrade --reason 'error rate up after 2.0.0'",
        "release-trains rollback Q4-curve-upgrade --service scenario --reason 'bad scenario data'",
    ),
)
@click.argument("train", shell_complete=complete_train)
@click.option(
    "--reason",
    type=Reason(),
    default=None,
    help="Why (lands in the audit log with your name); required unless --dry-run.",
)
@click.option("--dry-run", is_flag=True, help="Print exactly what would be done; change nothing.")
@click.option(
    "--force",
    is_flag=True,
    help="Go past failed steps and unsafe subsets; retry a failed rollback.",
)
@click.option(
    "--service",
    "services",
    multiple=True,
    shell_complete=complete_service,
    help="Roll back only these services (repeatable; a name or alias, as in the train).",
)
@deploy_ended_option
@pass_options
def command(
    opts: Options,
    train: str,
    reason: str | None,
    dry_run: bool,
    force: bool,
    services: tuple[str, ...],
    deploys_ended: tuple[str, ...],
    as_json: bool,
) -> int:
    """Roll TRAIN back, dependents first: 0 rolled back, 1 failed or refused, 3 locked."""
    if reason is None and not dry_run:
        raise click.UsageError(
            "--reason is required: say why you roll back (it lands in the audit log); "
            "--dry-run shows the plan without one"
        )
    refuse_dry_run_declaration(deploys_ended, dry_run=dry_run)
    catalog = load_cli_catalog(opts)
    out = console(stderr=True)
    settings = Settings(
        clock=utcnow,
        who=actor(),
        echo=None if as_json else (lambda line: out.print(line, markup=False, highlight=False)),
        deploys_ended=frozenset(deploys_ended),
    )
    store = read_store(opts) if dry_run else write_store(opts)
    try:
        plan, result = rollback_train(
            catalog,
            store,
            train,
            settings=settings,
            reason=reason or "",  # only a dry run goes without one, and it records nothing
            only=list(services) or None,
            force=force,
            dry_run=dry_run,
        )
    finally:
        if store:
            store.close()
    doc = document(plan, result, reason=reason, dry_run=dry_run)
    if as_json:
        print_json(doc)
    else:
        show(doc, plan)
    if result is None:
        return EXIT_NO if plan.refusals and not force else EXIT_OK
    return EXIT_NO if result.status == "failed" else EXIT_OK  # a partial rollback keeps the status


def show(doc: dict[str, Any], plan: RollbackPlan) -> None:
    out = console()
    head = "Dry run: nothing changed. Would roll back" if doc["dry_run"] else "Rolled back"
    out.print(f"{head} {doc['train']} (run {doc['run_id']}), dependents first:", markup=False)
    for i, s in enumerate(doc["services"], start=1):
        target = s["to_version"] or "nothing (undeploy)"
        out.print(
            f"  {i}. {s['service']}: {s['from_version']} -> {target} [{s['outcome']}] "
            f"via {s['call']}",
            markup=False,
        )
    for r in doc["refusals"]:
        out.print(f"refused: {r}", markup=False)
    if doc["status"]:
        out.print(f"{doc['status']}: {doc['detail']}", markup=False)
