"""release-trains report (--train T | --service S): write a report file (markdown, json, html).

A train report covers the latest run in full and the earlier ones (--runs, --since) as one
summary row each; the file is written piece by piece. Cron-safe: no prompt, no TTY needed,
bounded time (live health and metric reads are bounded
by their own timeouts). Exit 0 written, 1 written but the train failed or rolled back or the
service is unhealthy, 2 unknown train or service or a bad --since.
"""

from __future__ import annotations

from pathlib import Path

import click

from ..reports import (
    DEFAULT_RUNS,
    FORMATS,
    MAX_RUNS,
    ServiceReport,
    TrainReport,
    Window,
    chunks,
    default_output,
    service_report,
    train_report,
    write_report,
)
from .complete import complete_service, complete_train
from .context import Options, examples, pass_options, utcnow
from .params import SINCE
from .state import load_cli_catalog, read_store


@click.command(
    "report",
    epilog=examples(
        "release-trains report --train Q4-curve-upgrade",
        "release-trains report --service curve-service --format html --since 7d",
        "release-trains report --train Q4-curve-upgrade --json --output - | jq .status",
        "release-trains report --train Q4-curve-upgrade --format html --runs 30 --since 14d",
    ),
)
@click.option(
    "--train",
    default=None,
    shell_complete=complete_train,
    help="Report on this train: timeline, gates, failures, who did what.",
)
@click.option(
    "--service",
    default=None,
    shell_complete=complete_service,
    help="Report on this service: versions, health, metrics, history.",
)
@click.option(
    "--format", "fmt", type=click.Choice(list(FORMATS)), default="markdown", show_default=True
)
@click.option(
    "--output",
    default=None,
    metavar="FILE",
    help="Where to write it ('-': stdout only). Default: analysis/reports/release-trains/<train>/ "
    "or analysis/reports/services/<service>/report-<timestamp>.<ext>.",
)
@click.option(
    "--since", type=SINCE, default=None, help="Only history newer than this: 30m, 12h, 7d, 2w."
)
@click.option(
    "--runs",
    type=click.IntRange(1, MAX_RUNS),
    default=DEFAULT_RUNS,
    show_default=True,
    help="How many of the latest runs to cover: the latest in full, the others as one "
    "summary row each (a service report: its releases in that many runs).",
)
@pass_options
def command(
    opts: Options,
    train: str | None,
    service: str | None,
    fmt: str,
    as_json: bool,
    output: str | None,
    since: str | None,
    runs: int,
) -> int:
    """Write a report on a train or a service; with --format json it is also printed."""
    if (train is None) == (service is None):
        raise click.UsageError("give exactly one of --train or --service")
    fmt = "json" if as_json else fmt
    now = utcnow()
    window = Window.of(since, now=now)  # a bad --since is exit 2 before anything is read
    catalog = load_cli_catalog(opts)
    store = read_store(opts)
    try:
        report: TrainReport | ServiceReport = (
            train_report(catalog, store, train, now=now, window=window, runs=runs)
            if train is not None
            else service_report(catalog, store, service or "", now=now, window=window, runs=runs)
        )
    finally:
        if store:
            store.close()
    pieces = chunks(report, fmt)  # written piece by piece: a large report is never one string
    if output == "-":
        for piece in pieces:
            click.echo(piece, nl=False)
        return report.exit_code
    path = Path(output) if output else default_output(opts.root, report, fmt=fmt)
    if fmt == "json":  # stdout holds exactly the one JSON document
        write_report(path, pieces, also=lambda piece: click.echo(piece, nl=False))
        click.echo(f"wrote {path}", err=True)
    else:
        write_report(path, pieces)
        click.echo(f"wrote {path}")
    return report.exit_code
