"""release-trains validate: every problem of every catalog and config file, at once."""

from __future__ import annotations

import click

from ..catalog import check_catalog
from ..errors import EXIT_INPUT, EXIT_OK
from ..ordering import find_cycles
from .context import Options, examples, pass_options, print_json


@click.command(
    "validate",
    epilog=examples(
        "release-trains validate",
        "release-trains validate --root ../platform --json | jq .errors",
    ),
)
@pass_options
def command(opts: Options, as_json: bool) -> int:
    """Schema-check every catalog and config file; list every problem (exit 2 if any)."""
    from .cache import catalog_load_options

    catalog, problems = check_catalog(opts.root, **catalog_load_options(opts.root))
    warnings = list(problems.warnings)
    if catalog is not None:
        graph = catalog.graph()
        for cycle in find_cycles(graph):
            warnings.append(f"{catalog.files['services']}: dependency cycle: {' -> '.join(cycle)}")
        unknown = sorted({d for deps in graph.values() for d in deps if d not in graph})
        if unknown:
            warnings.append(
                f"{catalog.files['services']}: internal dependencies outside the catalog "
                f"(ignored for ordering): {', '.join(unknown)}"
            )
    if as_json:
        print_json({"valid": not problems.errors, "errors": problems.errors, "warnings": warnings})
    else:
        for line in problems.errors:
            click.echo(line)
        for line in warnings:
            click.echo(f"warning: {line}", err=True)
        if not problems.errors:
            n = len(catalog.trains) if catalog else 0
            s = len(catalog.services) if catalog else 0
            click.echo(f"valid: {n} trains, {s} services")
        else:
            click.echo(f"{len(problems.errors)} problem(s) found", err=True)
    return EXIT_INPUT if problems.errors else EXIT_OK
