"""release-trains plan TRAIN: resolve, order, check and evaluate; say why a train is not ready."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..errors import EXIT_NO, EXIT_OK
from ..planning import Plan, plan_for, save_plan
from ..yaml_io import collector_paused, dump_json, write_atomic
from .complete import complete_train
from .context import Options, cell, console, examples, pass_options, print_json, utcnow
from .render import duration, local_note, local_services, outcome_style

if TYPE_CHECKING:
    from ..state import Store


@click.command(
    "plan",
    epilog=examples(
        "release-trains plan Q4-curve-upgrade",
        "release-trains plan Q4-curve-upgrade --dry-run --json | jq .problems",
        "release-trains plan Q4-curve-upgrade --output /tmp/plan.json",
    ),
)
@click.argument("train", shell_complete=complete_train)
@click.option("--validate", is_flag=True, help="Schema-check every file first (always done).")
@click.option("--dry-run", is_flag=True, help="Write nothing (no latest-plan.json).")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the plan JSON here.",
)
@pass_options
def command(
    opts: Options, train: str, validate: bool, dry_run: bool, as_json: bool, output: Path | None
) -> int:
    """Plan TRAIN: exit 0 ready, 1 not ready, 2 bad input."""
    from .state import load_cli_catalog

    catalog = load_cli_catalog(opts)
    from ..planning import find_train, resolve_participants

    store = _read_store(opts)
    # Planning a large train allocates far more than it frees (orderings, sets of nearest
    # dependencies, the JSON document): paused, the collector does not rescan that growing
    # heap again and again (0.5 s of a 100,000-service plan); it resumes once the plan is out.
    with collector_paused():
        try:
            services = resolve_participants(catalog, find_train(catalog, train))
            plan = plan_for(catalog, store, train, now=utcnow())
        finally:
            if store:
                store.close()
        if not dry_run:
            save_plan(plan, opts.root)
            if output:
                write_atomic(output, dump_json(plan.to_json()))
        if as_json:
            print_json(plan.to_json())
        else:
            show(plan, local=local_services(catalog, [s.name for s in services]))
    return EXIT_OK if plan.ready else EXIT_NO


def _read_store(opts: Options) -> Store | None:
    from .state import read_store_if_any

    return read_store_if_any(opts)


def show(plan: Plan, *, local: Sequence[str] = ()) -> None:
    from rich.table import Table

    out = console()
    verdict = "[green]READY[/]" if plan.ready else "[red]NOT READY[/]"
    out.print(f"[bold]Train {plan.train.name}[/] ({plan.status}): {verdict}")
    if plan.train.description:
        out.print(cell(plan.train.description))  # free text: not markup

    table = Table(title="Participants, in release order", title_justify="left")
    for col in ("wave", "participant", "service", "from", "to", "quality", "crit. vulns"):
        table.add_column(col)
    wave_of = {s: i + 1 for i, w in enumerate(plan.ordering.waves) for s in w}
    by_service = {p.service: p for p in plan.participants}
    for name in plan.ordering.order or [p.service for p in plan.participants]:
        p = by_service[name]
        to = p.to_version or "?"
        if p.redeploy:
            to += " (redeploy)"
        table.add_row(
            str(wave_of.get(name, "-")),
            p.name,
            p.service,
            p.from_version or "(first install)",
            to,
            "?" if p.quality_score is None else f"{p.quality_score:g}",
            "?" if p.critical_vulns is None else str(p.critical_vulns),
        )
    out.print(table)

    if plan.dependencies:
        deps = Table(title="Dependencies", title_justify="left")
        for col in ("dependency", "constraint", "outcome", "detail"):
            deps.add_column(col)
        for d in plan.dependencies:
            style = "green" if d.outcome == "satisfied" else "red"
            deps.add_row(
                f"{d.kind} {d.name}",
                d.constraint or "any",
                f"[{style}]{d.outcome}[/]",
                cell(d.detail),
            )
        out.print(deps)

    gates = Table(title="Gates", title_justify="left")
    for col in ("gate", "required", "when", "outcome", "evidence"):
        gates.add_column(col)
    for g in plan.gates:
        gates.add_row(
            g.gate,
            "yes" if g.required else "no",
            g.when,
            f"[{outcome_style(g.outcome.value)}]{g.outcome.value}[/]",
            cell(g.detail),  # evidence: readings from services, not markup
        )
    out.print(gates)

    for note in plan.notes:
        out.print(f"note: {note}", markup=False)
    out.print(f"Estimated duration: {duration(plan.estimated_duration_s)}")
    sched = plan.schedule.to_json()
    if sched["start_time"]:
        due = "due now" if sched["due"] else "not due yet"
        out.print(
            f"Scheduled: {sched['start_time']} to about {sched['estimated_end']} ({due})",
            markup=False,
        )
    if plan.freeze:
        until = plan.freeze["until"] or "unfrozen"
        out.print(
            f"Frozen: {plan.freeze['name']} ({plan.freeze['reason']}), until {until}",
            markup=False,
        )
    if local:
        out.print(local_note(local), markup=False)
    if plan.problems:
        out.print("[bold red]Why it is not ready:[/]")
        for problem in plan.problems:
            out.print(f"  - {problem}", markup=False)
