"""release-trains audit: read the audit log; --verify checks its hash chain."""

from __future__ import annotations

from typing import Any

import click

from .. import audit
from ..errors import EXIT_NO, EXIT_OK
from ..reporting import Window, audit_records, detail_text
from .complete import complete_train
from .context import Options, console, examples, is_tty, pass_options, print_json, utcnow
from .params import SINCE


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
    "--verify", is_flag=True, help="Check the hash chain; exit 1 naming the first bad line."
)
@pass_options
def command(
    opts: Options, train: str | None, since: str | None, verify: bool, as_json: bool
) -> int:
    """List the audit records (a table on a terminal), or verify the chain."""
    path = audit.path_for(opts.root)
    if verify:
        result = audit.verify(path)
        if as_json:
            print_json(
                {
                    "ok": result.ok,
                    "lines": result.lines,
                    "bad_line": result.bad_line,
                    "message": result.message,
                }
            )
        else:
            click.echo(result.message, err=not result.ok)
        return EXIT_OK if result.ok else EXIT_NO
    records = audit_records(opts.root, train=train, window=Window.of(since, now=utcnow()))
    if as_json:
        print_json(records)
    elif is_tty():
        _table(records)
    else:
        for r in records:
            service = f" {r['service']}" if r.get("service") else ""
            who = f"{r.get('ts')}  {r.get('actor')}  {r.get('action')}  {r.get('train')}{service}"
            click.echo(f"{who}  {detail_text(r.get('detail'))}")
    return EXIT_OK


def _table(records: list[dict[str, Any]]) -> None:
    from rich.table import Table
    from rich.text import Text

    table = Table(title=f"Audit log: {len(records)} records", title_justify="left")
    for col in ("time", "actor", "action", "train", "service", "detail"):
        table.add_column(col)
    for r in records:
        # Text, not markup: details are free text (reasons) that may hold "[...]"
        table.add_row(
            *(Text(str(r.get(k) or "")) for k in ("ts", "actor", "action", "train", "service")),
            Text(detail_text(r.get("detail"))),
        )
    console().print(table)
