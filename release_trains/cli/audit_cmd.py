"""release-trains audit: read the audit log; --verify checks its hash chain."""

from __future__ import annotations

import click

from .. import audit
from ..errors import EXIT_NO, EXIT_OK
from .context import Options, pass_options, print_json


@click.command("audit")
@click.option("--train", default=None, help="Only this train's records.")
@click.option("--verify", is_flag=True, help="Check the hash chain; exit 1 naming the first bad line.")
@click.option("--json", "as_json", is_flag=True)
@pass_options
def command(opts: Options, train: str | None, verify: bool, as_json: bool) -> int:
    """List the audit records, or verify the chain."""
    path = audit.path_for(opts.root)
    if verify:
        result = audit.verify(path)
        if as_json:
            print_json({"ok": result.ok, "lines": result.lines, "bad_line": result.bad_line, "message": result.message})
        else:
            click.echo(result.message, err=not result.ok)
        return EXIT_OK if result.ok else EXIT_NO
    records = [r for r in audit.read(path) if train is None or r.get("train") == train]
    if as_json:
        print_json(records)
    else:
        for r in records:
            service = f" {r['service']}" if r.get("service") else ""
            click.echo(f"{r['ts']}  {r['actor']}  {r['action']}  {r['train']}{service}  {r['detail']}")
    return EXIT_OK
