"""release-trains token create|list|revoke: the API's tokens (see `release-trains serve`)."""

from __future__ import annotations

import click

from .. import tokens
from .context import Options, examples, pass_options, print_json, utcnow
from .state import read_store, write_store


def _now() -> str:
    return utcnow().isoformat(timespec="milliseconds")


@click.group(
    "token",
    epilog=examples(
        "release-trains token create ci-bot --role operator",
        "release-trains token list",
        "release-trains token revoke ci-bot",
    ),
)
def command() -> None:
    """Create, list and revoke the API's tokens (roles viewer < operator < admin)."""


@command.command("create")
@click.argument("name")
@click.option(
    "--role",
    type=click.Choice(list(tokens.ROLES)),
    required=True,
    help="viewer: every GET; operator: also execute, pause, resume, rollback; admin: everything.",
)
@pass_options
def create(opts: Options, name: str, role: str, as_json: bool) -> int:
    """Make token NAME and print it once (only its hash is stored)."""
    tokens.check_name(name)  # before the store is created
    store = write_store(opts)
    try:
        secret = tokens.create(store, name=name, role=role, now=_now())
    finally:
        store.close()
    if as_json:
        print_json({"name": name, "role": role, "token": secret})
    else:
        click.echo(secret)
        click.echo(
            f"token {name!r} ({role}) created; it is shown only now: keep it in a secret store",
            err=True,
        )
    return 0


@command.command("list")
@pass_options
def list_(opts: Options, as_json: bool) -> int:
    """Names, roles, creation and last use of every token (never the token itself)."""
    store = read_store(opts)
    try:
        rows = tokens.listing(store)
    finally:
        if store is not None:
            store.close()
    if as_json:
        print_json({"tokens": rows})
        return 0
    if not rows:
        click.echo("no tokens (release-trains token create NAME --role viewer|operator|admin)")
    for r in rows:
        state = f"revoked {r['revoked_at']}" if r["revoked_at"] else "active"
        used = r["last_used_at"] or "never"
        click.echo(f"{r['name']}: {r['role']}, {state}, created {r['created_at']}, used {used}")
    return 0


@command.command("revoke")
@click.argument("name")
@pass_options
def revoke(opts: Options, name: str, as_json: bool) -> int:
    """Revoke token NAME: requests with it get 401 from now on."""
    store = write_store(opts)
    try:
        doc = tokens.revoke(store, name, now=_now())
    finally:
        store.close()
    if as_json:
        print_json(doc)
    else:
        click.echo(f"token {name!r} revoked at {doc['revoked_at']}")
    return 0
