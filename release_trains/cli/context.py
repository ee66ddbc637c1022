"""Shared options for every command, and the helpers commands use to print results."""

from __future__ import annotations

import json
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
    """Exactly one JSON document on stdout, nothing else there."""
    click.echo(json.dumps(doc, indent=2, ensure_ascii=False))


def is_tty() -> bool:
    return sys.stdout.isatty()


def console(stderr: bool = False) -> Any:
    """A rich console: colour on a TTY unless NO_COLOR; plain text otherwise (cron, CI logs)."""
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=not is_tty())


pass_options = click.make_pass_decorator(Options)
