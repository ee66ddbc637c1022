"""Shared options for every command, and the helpers commands use to print results."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import click

from ..text import printable


@dataclass(frozen=True)
class Options:
    root: Path
    state: str | None
    verbose: bool

    @classmethod
    def build(cls, *, root: str, state: str | None, verbose: bool) -> Options:
        return cls(root=Path(root), state=state, verbose=verbose)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def print_json(doc: Any) -> None:
    """Exactly one JSON document on stdout, nothing else there: indented for a person at a
    terminal, compact for programs (json's C encoder only runs without indent: 5x faster on a
    1,000-service status)."""
    import json  # here: --help never needs it

    click.echo(json.dumps(doc, indent=2 if is_tty() else None, ensure_ascii=False))


def is_tty() -> bool:
    return sys.stdout.isatty()


def console(stderr: bool = False) -> Any:
    """A rich console: colour on a TTY unless NO_COLOR; plain text otherwise (cron, CI logs).

    Every string it prints goes through `printable` first, so control characters in free text
    (reasons, deploy output, response bodies) never reach the terminal; `Text` cells are made
    with `cell()` for the same reason."""
    from rich.console import Console

    class SafeConsole(Console):
        def print(self, *objects: Any, **kwargs: Any) -> None:
            safe = (printable(o, newlines=True) if isinstance(o, str) else o for o in objects)
            super().print(*safe, **kwargs)

    return SafeConsole(stderr=stderr, highlight=False, soft_wrap=not is_tty())


def cell(value: object, style: str = "") -> Any:
    """A table cell of free text: shown as text (`[bold]` in a reason is not markup) with its
    control characters escaped."""
    from rich.text import Text

    return Text(printable(value), style=style)


def echo(line: str, *, err: bool = False) -> None:
    """One line (or several) of plain output, control characters in it escaped."""
    click.echo(printable(line, newlines=True), err=err)


pass_options = click.make_pass_decorator(Options)
