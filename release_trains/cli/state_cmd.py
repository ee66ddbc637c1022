"""release-trains state ...: the state store itself (its schema version; copying it).

`state` is a click group: a subcommand is one decorated function below (`@command.command`).
"""

from __future__ import annotations

import click

from .context import Options, examples, pass_options, print_json


@click.group(
    "state",
    epilog=examples(
        "release-trains state migrate",
        "release-trains state migrate --state /srv/release-trains/state.db --json",
    ),
)
def command() -> None:
    """Manage the state store: migrate it to this release's schema.

    A store written by an older release-trains can be read as it is, but commands that write
    refuse it (exit 3) until `release-trains state migrate` has upgraded it; one written by
    a newer release is refused by every command.
    """


@command.command(
    "migrate",
    epilog=examples(
        "cp analysis/state/release-trains.db analysis/state/backup.db   # a backup first",
        "release-trains state migrate",
    ),
)
@click.option(
    "--force",
    is_flag=True,
    help="Migrate although an older release-trains holds locks (you know its runs are dead).",
)
@pass_options
def migrate(opts: Options, force: bool, as_json: bool) -> int:
    """Upgrade the state store to this release's schema (nothing to do: exit 0 unchanged).

    The whole migration is one transaction: it is applied completely or not at all. Every
    release-trains that shares the store must be this release or newer afterwards, so a
    store holding locks of an older release (a run in progress) is refused with exit 3 unless
    --force.
    """
    from ..state import SCHEMA_VERSION, migrate_store
    from .state import busy_timeout_s

    done = migrate_store(opts.state, opts.root, busy_timeout_s=busy_timeout_s(), force=force)
    if done.from_version is None:
        message = f"no state store at {done.where}: nothing to migrate"
    elif done.changed:
        message = (
            f"migrated the state store {done.where} from schema {done.from_version} "
            f"to {done.to_version}"
        )
    else:
        message = f"the state store {done.where} has schema {done.to_version}: nothing to do"
    if as_json:
        print_json(
            {
                "store": done.where,
                "from_version": done.from_version,
                "to_version": done.to_version,
                "schema_version": SCHEMA_VERSION,
                "changed": done.changed,
                "message": message,
            }
        )
    else:
        click.echo(message)
    return 0
