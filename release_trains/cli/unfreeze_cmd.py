"""release-trains unfreeze: lift the platform freeze."""

from __future__ import annotations

import click

from .. import audit
from ..freezes import nothing_to_unfreeze, unfreeze_platform
from ..identity import actor
from .context import Options, echo, examples, pass_options, print_json, utcnow
from .state import load_cli_catalog, read_store, write_store


@click.command(
    "unfreeze",
    epilog=examples(
        "release-trains unfreeze",
        "release-trains unfreeze --json",
    ),
)
@pass_options
def command(opts: Options, as_json: bool) -> int:
    """Lift the platform freeze (`freeze`); config freeze windows stay: 3 when none to lift."""
    catalog = load_cli_catalog(opts, services=False)  # only the config is needed
    now = utcnow()
    existing = read_store(opts)
    if existing is None:  # no store: nothing was ever frozen (and none is made to say so)
        raise nothing_to_unfreeze(catalog.config, None, now)
    existing.close()
    store = write_store(opts)
    try:
        doc = unfreeze_platform(
            catalog.config,
            store,
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
