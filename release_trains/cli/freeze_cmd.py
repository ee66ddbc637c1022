"""release-trains freeze: stop the line for the whole platform."""

from __future__ import annotations

import click

from .. import audit
from ..freezes import check_freeze_request, freeze_platform
from ..identity import actor
from .context import Options, echo, examples, pass_options, print_json, utcnow
from .params import Reason
from .state import load_cli_catalog, write_store


@click.command(
    "freeze",
    epilog=examples(
        "release-trains freeze --reason 'INC-42: payments degraded'",
        "release-trains freeze --reason 'year-end close' --until 2027-01-04T08:00:00Z",
        "release-trains unfreeze",
    ),
)
@click.option("--reason", type=Reason(), required=True, help="Why the line stops (audited).")
@click.option(
    "--until",
    metavar="TIME",
    default=None,
    help="When the freeze ends by itself: ISO 8601 with a zone (default: until `unfreeze`).",
)
@pass_options
def command(opts: Options, reason: str, until: str | None, as_json: bool) -> int:
    """Freeze every train: starts and resumes are refused; running executors pause before
    their next service, and rollbacks still run."""
    catalog = load_cli_catalog(opts, services=False)  # only the config is needed
    now = utcnow()
    check_freeze_request(reason=reason, until=until, now=now)  # bad input writes nothing
    store = write_store(opts)
    try:
        doc = freeze_platform(
            catalog.config,
            store,
            reason=reason,
            until=until,
            who=actor(),
            now=now,
            audit_path=audit.path_for(opts.root),
            notify=catalog,
        )
    finally:
        store.close()
    if as_json:
        print_json(doc)
    else:
        echo(doc["message"])  # it holds the reason: anyone's text
    return 0
