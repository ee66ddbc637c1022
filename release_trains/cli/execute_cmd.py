"""release-trains execute / resume: run a train through its lifecycle in the foreground."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Sequence
from types import FrameType
from typing import Any, TypeVar

import click

from ..errors import EXIT_OK
from ..executor import Executor, RunOutcome, Settings, dry_run
from ..identity import actor
from .complete import complete_service, complete_train
from .context import Options, console, echo, examples, pass_options, print_json, utcnow
from .live import LiveProgress
from .render import local_note, local_services, outcome_style
from .state import load_cli_catalog, read_store, write_store

F = TypeVar("F", bound=Callable[..., Any])


def deploy_ended_option(f: F) -> F:
    """`--deploy-ended S` of execute, resume and rollback: the operator's audited way past a
    deploy recorded on another host, which cannot be checked from here (inflight.py)."""
    return click.option(
        "--deploy-ended",
        "deploys_ended",
        multiple=True,
        metavar="SERVICE",
        shell_complete=complete_service,
        help=(
            "Declare that the deploy of SERVICE recorded in flight on another host has ended "
            "(that host is gone, or you checked it): recorded in the audit log with your name, "
            "then the step is reconciled with what the deployer reports (repeatable)."
        ),
    )(f)


def refuse_dry_run_declaration(deploys_ended: Sequence[str], *, dry_run: bool) -> None:
    if dry_run and deploys_ended:
        raise click.UsageError(
            "--deploy-ended changes the state (it clears a deploy's record and writes an audit "
            "record): it does not go with --dry-run"
        )


def run_train(
    opts: Options,
    train: str,
    *,
    max_parallel: int | None,
    as_json: bool,
    resume_only: bool,
    deploys_ended: Sequence[str] = (),
    early: bool = False,
) -> int:
    catalog = load_cli_catalog(opts)
    out = console(stderr=True)
    settings = Settings(
        clock=utcnow,
        who=actor(),
        max_parallel=max_parallel or catalog.config.max_parallel,
        echo=None if as_json else (lambda line: out.print(line, markup=False, highlight=False)),
        deploys_ended=frozenset(deploys_ended),
    )
    store = write_store(opts)
    previous = _stop_on_signals(settings.stop)
    executor = Executor(catalog=catalog, store=store, train=train, settings=settings)
    try:
        if out.is_terminal and not as_json:
            with LiveProgress(train=train, store=store, console=out) as live:
                settings.echo = live.echo
                outcome = executor.execute(resume_only=resume_only, early=early)
        else:
            outcome = executor.execute(resume_only=resume_only, early=early)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        store.close()
    if as_json:
        print_json(outcome.to_json())
    else:
        show(outcome, local=local_services(catalog, [s.service for s in outcome.steps]))
    hint = next_step(outcome.train, outcome.status)
    if hint:
        click.echo(hint, err=True)  # a diagnostic: stdout keeps only the result
    return outcome.exit_code


def next_step(train: str, status: str) -> str | None:
    """What to do after a run that did not complete (paused runs say `resume` in their output)."""
    cli = "release-trains"
    if status == "failed":
        return (
            f"next: `{cli} status {train}` shows what failed; fix it and run `{cli} execute "
            f"{train}` again (released services are not deployed twice), or go back with "
            f"`{cli} rollback {train} --reason '...'`"
        )
    if status == "rolled_back":
        return (
            f"next: `{cli} status {train}` shows why it rolled back; fix the cause and run "
            f"`{cli} execute {train}` again"
        )
    return None


def _stop_on_signals(stop: threading.Event) -> dict[signal.Signals, Any]:
    """SIGTERM and the first Ctrl-C stop the executor before its next service (the running
    deploy finishes); the run is left `paused` and can be resumed. A second Ctrl-C aborts."""

    def handler(signum: int, frame: FrameType | None) -> None:
        if stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        stop.set()

    previous: dict[signal.Signals, Any] = {}
    for sig in (signal.SIGTERM, signal.SIGINT):
        previous[sig] = signal.signal(sig, handler)
    return previous


def show(outcome: RunOutcome, *, local: Sequence[str] = ()) -> None:
    out = console()
    style = outcome_style(outcome.status)
    out.print(f"Train {outcome.train} (run {outcome.run_id}): [{style}]{outcome.status}[/]")
    for s in outcome.steps:
        line = (
            f"  {s.service}: {s.status} {s.from_version or '(new)'} -> {s.to_version} [{s.health}]"
        )
        if s.error:
            line += f" - {s.error}"
        out.print(line, markup=False)
    if outcome.reason:
        out.print(f"reason: {outcome.reason}", markup=False)
    if local:
        out.print(local_note(local), markup=False)
    if outcome.status == "paused" and (outcome.reason or "").startswith("awaiting approval"):
        out.print(
            f"approve with: release-trains approve {outcome.train} --gate GATE (or reject it)",
            markup=False,
        )
    elif outcome.status == "paused":
        out.print(f"resume with: release-trains resume {outcome.train}", markup=False)


@click.command(
    "execute",
    epilog=examples(
        "release-trains execute Q4-curve-upgrade --dry-run",
        "release-trains execute Q4-curve-upgrade",
        "release-trains execute Q4-curve-upgrade --max-parallel 2 --json > run.json",
        "release-trains execute Q4-curve-upgrade --deploy-ended curve-service",
        "release-trains execute Q4-curve-upgrade --now   # before its schedule.start_time",
        "release-trains execute --due --json >> analysis/due.log   # from cron, every minute",
    ),
)
@click.argument("train", required=False, shell_complete=complete_train)
@click.option("--dry-run", is_flag=True, help="Print the exact steps and change nothing.")
@click.option(
    "--now",
    "early",
    is_flag=True,
    help="Start TRAIN now, before its schedule.start_time (a freeze still refuses it).",
)
@click.option(
    "--due",
    is_flag=True,
    help=(
        "Instead of TRAIN: start every train whose schedule.start_time has passed and that "
        "never ran, one after another (for cron; two at once start each train once)."
    ),
)
@click.option(
    "--max-parallel",
    type=click.IntRange(1, 64),
    default=None,
    help="Services released at once (default 1).",
)
@deploy_ended_option
@pass_options
def command(
    opts: Options,
    train: str,
    dry_run: bool,
    max_parallel: int | None,
    deploys_ended: tuple[str, ...],
    early: bool,
    due: bool,
    as_json: bool,
) -> int:
    """Release TRAIN: 0 completed, 1 failed/paused/rolled back, 3 locked, frozen, scheduled
    later or not allowed now. With --due: every due train (0 when none of them failed)."""
    refuse_dry_run_declaration(deploys_ended, dry_run=dry_run)
    if due:
        if train is not None or early or deploys_ended:
            raise click.UsageError(
                "--due starts the trains that are due: it takes no TRAIN, --now or --deploy-ended"
            )
        return _run_due(opts, max_parallel=max_parallel, as_json=as_json, dry_run=dry_run)
    if train is None:
        raise click.UsageError("give a TRAIN to execute, or --due for every train that is due")
    if dry_run:
        return _dry_run(opts, train, as_json)
    return run_train(
        opts,
        train,
        max_parallel=max_parallel,
        as_json=as_json,
        resume_only=False,
        deploys_ended=deploys_ended,
        early=early,
    )


def _run_due(opts: Options, *, max_parallel: int | None, as_json: bool, dry_run: bool) -> int:
    from ..due import due_trains, start_due
    from ..freezes import freeze_doc

    catalog = load_cli_catalog(opts)
    out = console(stderr=True)
    if dry_run:  # what would start now; nothing is written (no store is made)
        store = read_store(opts)
        try:
            now = utcnow()
            doc: dict[str, Any] = {
                "now": now.isoformat(timespec="milliseconds"),
                "frozen": freeze_doc(catalog.config, store, now),
                "trains": [
                    {"train": t.name, "outcome": "due"} for t in due_trains(catalog, store, now)
                ],
            }
        finally:
            if store:
                store.close()
        if as_json:
            print_json(doc)
        else:
            for t in doc["trains"]:
                click.echo(f"{t['train']}: due")
            if not doc["trains"]:
                click.echo("no train is due")
            if doc["frozen"]:
                echo(f"frozen: {doc['frozen']['name']}: nothing would start")
        return EXIT_OK
    settings = Settings(
        clock=utcnow,
        who=actor(),
        max_parallel=max_parallel or catalog.config.max_parallel,
        echo=None if as_json else (lambda line: out.print(line, markup=False, highlight=False)),
    )
    store = write_store(opts)
    previous = _stop_on_signals(settings.stop)
    try:
        report = start_due(catalog, store, settings=settings)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        store.close()
    if as_json:
        print_json(report.to_json())
    else:
        for t in report.trains:
            if t.outcome == "started":
                line = f"{t.train}: started run {t.run_id}, {t.status}"
            else:
                line = f"{t.train}: {t.outcome}"
            echo(line + (f" ({t.reason})" if t.reason else ""))  # a reason is anyone's text
        if not report.trains and report.frozen is None:
            click.echo("no train is due")
    if report.frozen is not None:
        echo(f"frozen by {report.frozen.describe(report.now)}: no due train was started", err=True)
    return report.exit_code


def _dry_run(opts: Options, train: str, as_json: bool) -> int:
    catalog = load_cli_catalog(opts)
    store = read_store(opts)
    try:
        doc = dry_run(catalog, store, train, clock=utcnow)
    finally:
        if store:
            store.close()
    if as_json:
        print_json(doc)
    else:
        out = console()
        out.print(f"Dry run of {train}: nothing will be changed", markup=False)
        for i, step in enumerate(doc["steps"], start=1):
            out.print(
                f"  {i}. {step['service']}: {step['from_version'] or '(new)'} -> "
                f"{step['to_version']}: {step['call']}",
                markup=False,
            )
        for p in doc["problems"]:
            out.print(f"  not ready: {p}", markup=False)
        local = local_services(catalog, [step["service"] for step in doc["steps"]])
        if local:
            out.print(local_note(local), markup=False)
    return EXIT_OK if doc["ready"] else 1
