"""release-trains worker: a standalone worker, carrying out the work queued through the API."""

from __future__ import annotations

import os
import signal
import threading
from types import FrameType

import click

from ..identity import actor, host
from ..worker import JobWorker
from .context import Options, examples, pass_options, print_json, utcnow
from .state import busy_timeout_s


@click.command(
    "worker",
    epilog=examples(
        "release-trains --state postgresql://rt@db.example.com/rt worker",
        "release-trains worker --once --json   # one queued job, if any, then exit",
    ),
)
@click.option("--once", is_flag=True, help="Carry out at most one queued job, then exit.")
@pass_options
def command(opts: Options, once: bool, as_json: bool) -> int:
    """Carry out the runs, resumes and rollbacks queued through the API, until stopped.

    Each queued job is taken by exactly one worker; a job whose worker died is taken again
    once its lease is stale, and its run carried on (every service released once). Run as
    many as you like on every machine sharing a PostgreSQL store (--state postgresql://...);
    a SQLite store works only on one machine (beside `serve`, whose --workers do the same).
    SIGTERM or Ctrl-C: the run in hand stops before its next service, left paused (resume
    it), and the worker exits.
    """
    stopping = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    worker = JobWorker(
        root=opts.root,
        state_url=opts.state,
        clock=utcnow,
        name=actor(),
        host=host(),
        pid=os.getpid(),
        stopping=stopping,
        busy_timeout_s=busy_timeout_s(),
        echo=lambda line: click.echo(line, err=True),
    )
    if not as_json:
        click.echo(f"worker {worker.name} (pid {worker.pid}) waiting for jobs", err=True)
    try:
        done = worker.run(once=once)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if as_json:
        print_json({"jobs": [j.to_json() for j in done]})
    else:
        for j in done:
            click.echo(f"job {j.id}: {j.kind} {j.train}: {j.status}")
    return 0
