"""release-trains status [TRAIN]: progress at train, service, gate and dependency level, once.

Read-only and cron-safe: no prompt, no TTY needed, bounded time. Exit 0 normally, 1 when the
train failed or rolled back, its executor is gone (an active run whose lock's holder died, or
with no lock: "executor gone since T: run `execute` to resume") or a service is unhealthy, 2
for an unknown train or a state file that is not a release-trains store.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click

from ..freezes import Freeze
from ..monitoring import (
    Overview,
    Snapshot,
    health_probe,
    overview,
    snapshot,
    stored_plan,
)
from .complete import complete_train
from .context import (
    Options,
    cell,
    console,
    echo,
    examples,
    is_tty,
    pass_options,
    print_json,
    utcnow,
)
from .render import duration, outcome_style
from .state import load_cli_catalog, read_store


@click.command(
    "status",
    epilog=examples(
        "release-trains status",
        "release-trains status Q4-curve-upgrade",
        "release-trains status Q4-curve-upgrade --probe --json | jq .services",
    ),
)
@click.argument("train", required=False, shell_complete=complete_train)
@click.option(
    "--probe",
    is_flag=True,
    help="Check each service's health now (bounded by its check's timeout) instead of "
    "showing the health recorded at release.",
)
@pass_options
def command(opts: Options, train: str | None, as_json: bool, probe: bool) -> int:
    """Where TRAIN is now; without TRAIN, every train's status and progress."""
    store = read_store(opts)
    # A run that stored its plan has its services in the store: the service index (most of
    # the start-up time on a large catalog) is read only to plan a train that never ran or
    # whose run has not stored its plan yet (validating writes it), or to probe.
    try:
        # the latest run decides whether the services' files are needed; the snapshot reads
        # the records after the catalog is loaded, so its `now` is right after that read (an
        # executor's lease is not judged by a read made before a slow catalog load)
        run = store.latest_run(train) if store is not None and train is not None else None
        planned = stored_plan(run) is not None
        catalog = load_cli_catalog(opts, services=train is not None and (probe or not planned))
        if train is None:
            trains = overview(catalog, store, now=utcnow())
        else:
            live = health_probe(catalog, catalog.trains.get(train)) if probe else None
            snap = snapshot(catalog, store, train, now=utcnow(), probe=live)
    finally:
        if store:
            store.close()
    if train is None:
        if as_json:
            print_json(trains.to_json())
        else:
            show_list(trains)
        return trains.exit_code
    if as_json:
        print_json(snap.to_json())
    else:
        show(snap)
    return snap.exit_code


def show(snap: Snapshot) -> None:
    """Tables on a terminal; plain lines elsewhere (cron mail, CI logs), never truncated."""
    if is_tty():
        console().print(render(snap))
    else:
        for line in plain(snap):
            echo(line)


def plain(snap: Snapshot) -> list[str]:
    ran = f"run {snap.run_id}" if snap.run_id is not None else "never ran; status from its YAML"
    count = f"{snap.released}/{len(snap.services)} released"
    lines = [f"Train {snap.train} ({ran}): {snap.status}, {snap.progress:.1f}% ({count})"]
    if snap.description:
        lines.append(f"  {snap.description}")
    lines.append(f"  {_phase_line(snap)}")
    if snap.executor is not None:
        lines.append(f"  {snap.executor.describe()}")
    if snap.reason:
        lines.append(f"  reason: {snap.reason}")
    frozen = freeze_line(snap)
    if frozen:
        lines.append(f"  {frozen}")
    lines.append("Services, in release order:")
    for s in snap.services:
        line = f"  {s.service}: {s.status} {s.from_version or '(first install)'} -> "
        line += f"{s.to_version or 'unknown'} [{s.health}], attempts {s.attempts}"
        if s.duration_s is not None:
            line += f", {duration(s.duration_s)}"
        if s.error:
            line += f": {s.error}"
        lines.append(line)
    lines.append(f"Gates: {snap.gates_passed}/{len(snap.gates)} passed")
    for g in snap.gates:
        need = "required" if g.required else "optional"
        lines.append(f"  {g.outcome}: {g.gate} ({need}, {g.when}): {g.detail}")
    lines += approval_lines(snap)
    lines.append(f"Dependencies: {snap.dependencies_satisfied}/{len(snap.dependencies)} satisfied")
    for d in snap.dependencies:
        lines.append(f"  {d.outcome}: {d.kind} {d.name} {d.constraint or 'any'}: {d.detail}")
    if snap.notifications:
        lines.append("Notifications:")
        for n in snap.notifications[-10:]:  # the newest: the JSON document has them all
            lines.append(
                f"  {n['ts']} {n['event']} -> {n['channel']}: {n['outcome']}: {n['detail']}"
            )
    if snap.events:
        lines.append("Last events:")
        for e in snap.events:
            where = f" {e.service}" if e.service else ""
            lines.append(f"  {e.ts}{where} {e.kind}: {e.message}")
    return lines


def freeze_line(snap: Snapshot) -> str | None:
    """The freeze in force, named as the start refusal names it (freezes.Freeze.describe)."""
    return _frozen(snap.freeze, datetime.fromisoformat(snap.taken_at))


def _frozen(freeze: Freeze | None, now: datetime) -> str | None:
    if freeze is None:
        return None
    return f"frozen by {freeze.describe(now)}: starts and resumes are refused"


def approval_lines(snap: Snapshot) -> list[str]:
    """The approval gates with their votes, and where the time went (issue 15)."""
    lines = []
    if snap.approvals:
        lines.append("Approvals:")
    for a in snap.approvals:
        who = ", ".join(a["approvers"]) or "anyone with the operator role"
        lines.append(
            f"  {a['outcome']}: {a['gate']} ({a['when']}, {a['approved']}/{a['min_approvals']}"
            f" approvals; approvers: {who})"
        )
        for v in a["votes"]:
            comment = f": {v['comment']}" if v["comment"] else ""
            lines.append(f"    {v['ts']} {v['actor']} {v['decision']}{comment}")
    t = snap.timeline
    if t and t.get("elapsed_s") is not None:
        paused = ", ".join(f"{kind} {duration(s)}" for kind, s in t["paused_totals_s"].items() if s)
        lines.append(
            f"Time: {duration(t['active_s'])} working, {duration(t['paused_s'])} paused"
            + (f" ({paused})" if paused else "")
            + f", {duration(t['elapsed_s'])} in all;"
            + f" estimated {duration(t['estimated_duration_s'])}"
        )
    return lines


def _phase_line(snap: Snapshot) -> str:
    phase = snap.phase
    line = f"phase {phase.name}"
    if phase.elapsed_s is not None:
        line += f" for {duration(phase.elapsed_s)}"
    if phase.run_elapsed_s is not None:
        line += f"; run {duration(phase.run_elapsed_s)}"
    line += f" of an estimated {duration(phase.estimated_s)}"
    if phase.over_estimate:
        line += " (over the estimate)"
    return line


def show_list(trains: Overview) -> None:
    from rich.table import Table

    rows = trains.trains
    frozen = _frozen(trains.freeze, trains.taken_at)  # a reason is anyone's text: no markup
    if frozen and is_tty():
        console().print(frozen, style="bold red", markup=False)
    elif frozen:
        echo(frozen)
    if not is_tty():
        for r in rows:
            ran = "never ran" if r.run_id is None else f"run {r.run_id}, updated {r.updated_at}"
            if r.executor is not None and r.executor.gone:
                ran += f"; {r.executor.describe()}"
            line = f"{r.train}: {r.status} {r.progress:.1f}% ({r.released}/{r.participants}; {ran})"
            if r.unhealthy:
                line += f"; unhealthy: {', '.join(r.unhealthy)}"
            echo(line)
        return

    table = Table(title="Release trains", title_justify="left")
    for col in ("train", "status", "progress", "released", "run", "updated"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            r.train,
            f"[{outcome_style(r.status)}]{r.status}[/]",
            f"{r.progress:.1f}%",
            f"{r.released}/{r.participants}",
            "never ran" if r.run_id is None else str(r.run_id),
            r.updated_at or "-",
        )
    console().print(table)
    for r in rows:
        if r.executor is not None and r.executor.gone:
            console().print(f"{r.train}: {r.executor.describe()}", style="red", markup=False)
        if r.unhealthy:
            console().print(f"{r.train}: unhealthy: {', '.join(r.unhealthy)}", markup=False)


def render(snap: Snapshot, *, footer: str | None = None) -> Any:
    """The snapshot as rich renderables (also the live dashboard of `monitor --watch`)."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    parts: list[Any] = []
    head = Text.assemble(
        (f"Train {snap.train}", "bold"),
        f" (run {snap.run_id}): "
        if snap.run_id is not None
        else " (never ran; status from its YAML): ",
        (snap.status, outcome_style(snap.status)),
        f"  {snap.progress:.1f}% ({snap.released}/{len(snap.services)} released)",
    )
    parts.append(head)
    if snap.description:
        parts.append(cell(snap.description))
    parts.append(Text(_phase_line(snap)))
    if snap.executor is not None:
        parts.append(Text(snap.executor.describe(), "bold red" if snap.executor.gone else ""))
    if snap.reason:
        parts.append(cell(f"reason: {snap.reason}"))
    frozen = freeze_line(snap)
    if frozen:
        parts.append(cell(frozen, style="bold yellow"))

    services = Table(title="Services, in release order", title_justify="left")
    for col in ("service", "status", "from", "to", "health", "attempts", "duration", "error"):
        services.add_column(col, no_wrap=col == "service")
    for s in snap.services:
        services.add_row(
            *_plain(s.service),
            Text(s.status, outcome_style(s.status)),
            *_plain(s.from_version or "(first install)", s.to_version or "unknown"),
            Text(s.health, outcome_style(s.health)),
            *_plain(str(s.attempts), duration(s.duration_s), s.error or ""),
        )
    parts.append(services)

    gates = Table(
        title=f"Gates: {snap.gates_passed}/{len(snap.gates)} passed", title_justify="left"
    )
    for col in ("gate", "required", "when", "outcome", "evidence"):
        gates.add_column(col)
    for g in snap.gates:
        outcome = Text(g.outcome, outcome_style(g.outcome))
        gates.add_row(
            *_plain(g.gate, "yes" if g.required else "no", g.when), outcome, *_plain(g.detail)
        )
    parts.append(gates)
    parts += [cell(line) for line in approval_lines(snap)]

    if snap.dependencies:
        title = f"Dependencies: {snap.dependencies_satisfied}/{len(snap.dependencies)} satisfied"
        deps = Table(title=title, title_justify="left")
        for col in ("dependency", "constraint", "outcome", "detail"):
            deps.add_column(col)
        for d in snap.dependencies:
            outcome = Text(d.outcome, outcome_style(d.outcome))
            deps.add_row(
                *_plain(f"{d.kind} {d.name}", d.constraint or "any"), outcome, *_plain(d.detail)
            )
        parts.append(deps)

    if snap.notifications:
        sent = Table(title="Notifications (newest 10)", title_justify="left")
        for col in ("time", "event", "channel", "outcome", "detail"):
            sent.add_column(col)
        for n in snap.notifications[-10:]:
            outcome = Text(n["outcome"], outcome_style(n["outcome"]))
            sent.add_row(
                *_plain(n["ts"] or "", n["event"], n["channel"]), outcome, *_plain(n["detail"])
            )
        parts.append(sent)
    if snap.events:
        events = Table(title="Last events", title_justify="left")
        for col in ("time", "event", "service", "message"):
            events.add_column(col)
        for e in snap.events:
            events.add_row(*_plain(e.ts, e.kind, e.service or "", e.message))
        parts.append(events)
    if footer:
        parts.append(Text(footer, "dim"))
    return Group(*parts)


def _plain(*values: str) -> list[Any]:
    """Cells as plain text: reasons and details are free text, and `[...]` in them must not
    be read as rich markup, nor their control characters reach the terminal."""
    return [cell(v) for v in values]
