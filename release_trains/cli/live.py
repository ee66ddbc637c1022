"""The live progress display of `execute` and `resume` on a terminal.

A table of the run's services (status, versions, attempts, health) and the last events,
redrawn on every event the executor records. Without a TTY the CLI prints plain event lines
instead (see execute_cmd), so cron jobs and CI logs stay readable.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from ..state import Store
from .render import outcome_style

EVENTS_SHOWN = 8


class LiveProgress:
    def __init__(self, *, train: str, store: Store, console: Any) -> None:
        from rich.live import Live

        self.train = train
        self.store = store
        self.events: deque[str] = deque(maxlen=EVENTS_SHOWN)
        self.live = Live(self._render(), console=console, refresh_per_second=8, transient=False)

    def __enter__(self) -> LiveProgress:
        self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.live.update(self._render())
        self.live.__exit__(None, None, None)

    def echo(self, line: str) -> None:
        self.events.append(line)
        self.live.update(self._render())

    def _render(self) -> Any:
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        run = self.store.latest_run(self.train)
        title = f"{self.train}: {run.status if run else 'starting'}"
        table = Table(title=title, title_justify="left", expand=False)
        for col in ("service", "status", "from", "to", "attempts", "health"):
            table.add_column(col)
        for step in self.store.steps(run.id) if run else []:
            style = outcome_style(step.status)
            table.add_row(
                step.service,
                Text(step.status, style=style),
                step.from_version or "(new)",
                step.to_version or "?",
                str(step.attempts),
                step.health,
            )
        return Group(table, *(Text(e, overflow="ellipsis", no_wrap=True) for e in self.events))
