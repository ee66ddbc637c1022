"""release-trains monitor TRAIN [--watch]: the status snapshot, or follow it until the train ends.

The monitor only reads: it opens the state store read-only on every poll (and waits for it
to appear when no train has run yet), so Ctrl-C (exit 130) leaves the train untouched. On a
TTY it shows a live dashboard; without one it prints one plain line per change, so cron
mails and CI logs stay readable. It exits with the train's code once the train is final,
or with 1 once its run's executor is gone (killed, its lock stale), since nothing will move
the run on until someone runs `execute` again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import click

from ..errors import StateBusyError, StateError
from ..models import Catalog
from ..monitoring import Snapshot, changes, follow, plan_now, snapshot
from ..planning import find_train
from ..state import Store
from .complete import complete_train
from .context import Options, console, echo, examples, is_tty, pass_options, print_json, utcnow
from .params import Duration
from .render import duration
from .state import load_cli_catalog, read_store
from .status_cmd import render, show


@click.command(
    "monitor",
    epilog=examples(
        "release-trains monitor Q4-curve-upgrade",
        "release-trains monitor Q4-curve-upgrade --watch --interval 5",
        "release-trains monitor Q4-curve-upgrade --watch --json > final.json",
    ),
)
@click.argument("train", shell_complete=complete_train)
@click.option(
    "--watch",
    is_flag=True,
    help="Follow the train until it completes, fails or rolls back, or its executor is gone.",
)
@click.option(
    "--interval",
    type=Duration(min_s=0.05, max_s=86400),
    default=2.0,
    show_default=True,
    help="Time between two reads of the state store: seconds (0.5) or 2s, 1m.",
)
@pass_options
def command(opts: Options, train: str, watch: bool, interval: float, as_json: bool) -> int:
    """Progress of TRAIN; --watch follows it to the end: 0 completed, 1 failed or rolled back."""
    catalog = load_cli_catalog(opts)
    find_train(catalog, train)  # an unknown train is exit 2 before any watching
    read = Reader(opts, catalog, train, warn=lambda line: echo(line, err=True))
    if not watch:
        snap = _once(opts, catalog, train)
    elif as_json:
        snap = _lines(read, interval, echo=lambda line: echo(line, err=True))
    elif is_tty():
        snap = _live(read, interval)
    else:
        snap = _lines(read, interval, echo=echo)
    if as_json:
        print_json(snap.to_json())
    else:
        show(snap)
    return snap.exit_code


def _once(opts: Options, catalog: Catalog, train: str) -> Snapshot:
    store = read_store(opts)
    try:
        return snapshot(catalog, store, train, now=utcnow())
    finally:
        if store:
            store.close()


class Reader:
    """Reads a fresh snapshot at each call, opening the store read-only each time (it may not
    exist yet). A train that never ran is planned once: its gates may read live signals,
    which the monitor should not do at every poll."""

    def __init__(
        self, opts: Options, catalog: Catalog, train: str, *, warn: Callable[[str], None]
    ) -> None:
        self.opts, self.catalog, self.train, self.warn = opts, catalog, train, warn
        self._plan: Mapping[str, Any] | None = None
        self._last: Snapshot | None = None
        self._failed: str | None = None  # the error of the previous poll, if it failed
        self._told: set[str] = set()

    def __call__(self) -> Snapshot:
        try:
            snap = self._read()
        except (StateError, StateBusyError) as e:
            # The executor may be creating the store this very moment (the file exists, its
            # tables not yet): that lasts milliseconds, so only an error seen on two polls in
            # a row is worth telling, once; the monitor keeps polling either way.
            text = str(e)
            if text == self._failed and text not in self._told:
                self._told.add(text)
                self.warn(f"cannot read the state store yet, still trying: {text}")
            self._failed = text
            return self._last or snapshot(
                self.catalog, None, self.train, now=utcnow(), planned=lambda: self._planned(None)
            )
        self._failed, self._last = None, snap
        return snap

    def _read(self) -> Snapshot:
        store = read_store(self.opts)  # None until the first execute creates it
        try:
            return snapshot(
                self.catalog, store, self.train, now=utcnow(), planned=lambda: self._planned(store)
            )
        finally:
            if store is not None:
                store.close()

    def _planned(self, store: Store | None) -> Mapping[str, Any]:
        if self._plan is None:
            self._plan = plan_now(self.catalog, store, self.train, now=utcnow())
        return self._plan


def _lines(
    read: Callable[[], Snapshot], interval: float, *, echo: Callable[[str], None]
) -> Snapshot:
    before: Snapshot | None = None
    for snap in follow(read, interval_s=interval):
        for line in changes(before, snap):
            echo(f"{snap.taken_at} {line}")
        before = snap
    assert before is not None  # follow yields at least once
    return before


def _live(read: Callable[[], Snapshot], interval: float) -> Snapshot:
    from rich.live import Live
    from rich.text import Text

    every = duration(interval)
    footer = f"refreshing every {every}; Ctrl-C stops watching (the train is not touched)"
    last: Snapshot | None = None
    # transient: the dashboard is replaced by the final snapshot printed after it
    with Live(
        Text("reading the state store..."), console=console(), auto_refresh=False, transient=True
    ) as live:
        for snap in follow(read, interval_s=interval):
            live.update(render(snap, footer=f"{snap.taken_at}  {footer}"), refresh=True)
            last = snap
    assert last is not None
    return last
