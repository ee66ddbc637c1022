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
        "release-trains state copy analysis/state/release-trains.db "
        "postgresql://rt@db.example/release_trains",
    ),
)
def command() -> None:
    """Manage the state store: migrate it to this release's schema, or copy it to another.

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
    help="Migrate although an older release-trains holds locks (you know its runs are dead), "
    "or this machine's audit log has a broken chain (its records before the break are "
    "imported).",
)
@pass_options
def migrate(opts: Options, force: bool, as_json: bool) -> int:
    """Upgrade the state store to this release's schema (nothing to do: exit 0 unchanged).

    The whole migration is one transaction: it is applied completely or not at all. Every
    release-trains that shares the store must be this release or newer afterwards, so a
    store holding locks of an older release (a run in progress) is refused with exit 3 unless
    --force. From schema 1, this machine's audit log (analysis/reports/audit.log under --root)
    is imported into the store's audit chain; a log whose chain is broken is refused with
    exit 2 naming the line, unless --force.
    """
    from ..identity import host
    from ..state import SCHEMA_VERSION, migrate_store
    from .state import busy_timeout_s

    done = migrate_store(
        opts.state, opts.root, busy_timeout_s=busy_timeout_s(), force=force, host=host()
    )
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


@command.command(
    "copy",
    epilog=examples(
        "release-trains state copy analysis/state/release-trains.db "
        "postgresql://rt@db.example:5432/release_trains",
        "PGPASSWORD=... release-trains state copy old.db postgres://rt@db/trains --json",
        "export RELEASE_TRAINS_STATE=postgresql://rt@db.example:5432/release_trains  # then",
    ),
)
@click.argument("src")
@click.argument("dst")
@pass_options
def copy(opts: Options, src: str, dst: str, as_json: bool) -> int:
    """Copy the whole store SRC into the empty store DST (say, SQLite to PostgreSQL).

    SRC and DST are state URLs or paths, as --state takes them. Runs, steps, events, deployed
    versions and the audit chain are copied with their ids, in one transaction on DST;
    leases and locks are not (they belong to the processes using SRC): copy with nothing
    running. A DST holding anything is refused (exit 3) and left as it was. Both stores must
    have this release's schema (else `state migrate` first). The audit log files
    (analysis/reports/audit.log) stay where they are: `audit --verify` passes with either store.
    """
    from ..errors import InputError
    from ..state import SCHEMA_VERSION, open_store, parse_url
    from ..state.copy import copy_store
    from .state import busy_timeout_s

    wait = busy_timeout_s()
    shown = parse_url(src, opts.root, origin="SRC").shown
    parse_url(dst, opts.root, origin="DST")
    source = open_store(src, opts.root, create=False, busy_timeout_s=wait)
    if source is None:
        raise InputError(f"SRC {shown} holds no state store: nothing to copy")
    try:
        if source.version != SCHEMA_VERSION:  # before DST is made: refused, nothing written
            from ..state.copy import check_version

            check_version("SRC", source.where, source.version)
        target = open_store(dst, opts.root, create=True, busy_timeout_s=wait)
        assert target is not None
        try:
            result = copy_store(source.db, target.db)
        finally:
            target.close()
    finally:
        source.close()
    counts = ", ".join(f"{n} {table}" for table, n in result.copied.items() if table != "meta")
    message = (
        f"copied the state store {result.source} to {result.destination}: {counts}; "
        f"not copied: {', '.join(result.not_copied)} (they belong to the processes using SRC)"
    )
    if as_json:
        print_json({**result.doc(), "message": message})
    else:
        click.echo(message)
    return 0
