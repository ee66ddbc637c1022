"""release-trains report-deploy SERVICE: a pipeline reports a deploy it made itself (the
`external` deployer), as `PUT /api/v1/services/{service}/status` does."""

from __future__ import annotations

import click

from ..deploy_reports import STATUSES, report_deploy
from ..identity import actor
from .context import Options, examples, pass_options, print_json, utcnow
from .state import load_cli_catalog, write_store


@click.command(
    "report-deploy",
    epilog=examples(
        "release-trains report-deploy curve-service --status deployed --version 2.0.0",
        "release-trains report-deploy curve-service --status failed --version 2.0.0 "
        "--detail 'helm upgrade timed out' --json",
    ),
)
@click.argument("service")
@click.option("--status", type=click.Choice(list(STATUSES)), required=True, help="What happened.")
@click.option("--version", "version", required=True, help="The version the pipeline deployed.")
@click.option("--health-status", default=None, help="The pipeline's view of its health.")
@click.option("--detail", default=None, help="What to keep with the report (a CI job URL).")
@pass_options
def command(
    opts: Options,
    service: str,
    status: str,
    version: str,
    health_status: str | None,
    detail: str | None,
    as_json: bool,
) -> int:
    """Report a deploy made by an external pipeline; a run waiting for it carries on."""
    catalog = load_cli_catalog(opts)
    store = write_store(opts)
    try:
        doc = report_deploy(
            catalog,
            store,
            service,
            status=status,
            version=version,
            health_status=health_status,
            detail=detail,
            who=actor(),
            now=utcnow(),
        )
    finally:
        store.close()
    if as_json:
        print_json(doc)
        return 0
    waiting = doc["waiting"]
    click.echo(f"recorded: {doc['service']} {doc['version']} {doc['status']}")
    if waiting is None:
        click.echo("no deploy was waiting for it (it shows in the service's status)")
    elif waiting["matches"]:
        click.echo(f"train {waiting['train']} run {waiting['run_id']} carries on")
    else:
        click.echo(
            f"train {waiting['train']} run {waiting['run_id']} waited for "
            f"{waiting['to_version']}: its deploy of {doc['service']} fails"
        )
    return 0
