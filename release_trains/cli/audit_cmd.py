"""release-trains audit: the audit records (the store's chain; this machine's audit.log when
there is no store yet); --verify checks the store's chain and this machine's file against it."""

from __future__ import annotations

from typing import Any

import click

from .. import audit
from ..errors import EXIT_NO, EXIT_OK
from ..identity import host
from ..reports import Window, detail_text, train_audit
from ..text import printable
from .complete import complete_train
from .context import Options, console, examples, is_tty, pass_options, print_json, utcnow
from .params import SINCE
from .state import read_store


@click.command(
    "audit",
    epilog=examples(
        "release-trains audit --train Q4-curve-upgrade --since 7d",
        "release-trains audit --verify",
    ),
)
@click.option(
    "--train", default=None, shell_complete=complete_train, help="Only this train's records."
)
@click.option(
    "--since", type=SINCE, default=None, help="Only records newer than this: 30m, 12h, 7d, 2w."
)
@click.option(
    "--verify",
    is_flag=True,
    help="Check the state store's audit chain, and this machine's audit log against it; exit "
    "1 naming the first bad record or line.",
)
@pass_options
def command(
    opts: Options, train: str | None, since: str | None, verify: bool, as_json: bool
) -> int:
    """List the audit records (a table on a terminal), or verify the chain."""
    if verify:
        return _verify(opts, as_json=as_json)
    window = Window.of(since, now=utcnow())
    records = _records(opts, train=train, window=window)
    if as_json:
        print_json(records)
    elif is_tty():
        _table(records)
    else:
        for r in records:
            service = f" {r['service']}" if r.get("service") else ""
            who = f"{r.get('ts')}  {r.get('actor')}  {r.get('action')}  {r.get('train')}{service}"
            click.echo(printable(f"{who}  {detail_text(r.get('detail'))}"))
    return EXIT_OK


def _records(opts: Options, *, train: str | None, window: Window) -> list[dict[str, Any]]:
    store = read_store(opts)
    try:
        return train_audit(opts.root, store, train=train, window=window)
    finally:
        if store is not None:
            store.close()


def _verify(opts: Options, *, as_json: bool) -> int:
    path = audit.path_for(opts.root)
    store = read_store(opts)
    try:
        if store is not None and "audit_records" in store.tables:
            result = audit.verify(
                path,
                chain=store.audit_chain(),
                origin=audit.origin_for(opts.root, host=host()),
                where=store.where,
            )
        else:  # no store yet, or one of schema 1 (its issue-10 anchor, if it has one)
            anchor = store.legacy_audit_anchor() if store is not None else None
            result = audit.verify_file(path, anchor=anchor)
    finally:
        if store is not None:
            store.close()
    if as_json:
        print_json(
            {
                "ok": result.ok,
                "lines": result.lines,
                "bad_line": result.bad_line,
                "anchored": result.anchored,
                "records": result.records,
                "bad_record": result.bad_record,
                "message": result.message,
            }
        )
    else:
        click.echo(printable(result.message), err=not result.ok)
    return EXIT_OK if result.ok else EXIT_NO


def _table(records: list[dict[str, Any]]) -> None:
    from rich.table import Table
    from rich.text import Text

    table = Table(title=f"Audit log: {len(records)} records", title_justify="left")
    for col in ("time", "actor", "action", "train", "service", "detail"):
        table.add_column(col)
    for r in records:
        # Text, not markup: details are free text (reasons) that may hold "[...]"; and
        # printable, so control characters in them never reach the terminal.
        cells = [str(r.get(k) or "") for k in ("ts", "actor", "action", "train", "service")]
        table.add_row(*(Text(printable(c)) for c in [*cells, detail_text(r.get("detail"))]))
    console().print(table)
