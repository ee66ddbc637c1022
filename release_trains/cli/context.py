"""Shared options for every command, and the helpers commands use to print results."""

from __future__ import annotations

import functools
import inspect
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

import click

from ..text import printable

F = TypeVar("F", bound=Callable[..., Any])


class StdoutClosed(Exception):
    """Whoever read our output went away (`release-trains status | head -1`): main() ends
    quietly with exit 0.

    Not an OSError on purpose: click's main() turns an EPIPE raised while parsing or running a
    command into exit 1 even with standalone_mode=False, and rich's Console exits 1 on one,
    both before main() could see it."""


# Plain output (no TTY) is never wrapped or cut: a cron mail or CI log keeps every cell whole.
PLAIN_WIDTH = 100_000


@dataclass(frozen=True)
class Options:
    root: Path
    state: str | None
    verbose: bool
    json: bool = False

    @classmethod
    def build(
        cls, *, root: str, state: str | None, verbose: bool, as_json: bool = False
    ) -> Options:
        return cls(root=Path(root), state=state, verbose=verbose, json=as_json)

    def merged(
        self, *, root: str | None, state: str | None, verbose: bool, as_json: bool
    ) -> Options:
        """These options with a subcommand's own: a value given after the subcommand wins."""
        return Options(
            root=Path(root) if root is not None else self.root,
            state=state if state is not None else self.state,
            verbose=self.verbose or verbose,
            json=self.json or as_json,
        )


# The options every command shares, accepted before the subcommand (on the group) and after
# it (on every subcommand): `release-trains status --root X` works like `--root X status`.
ROOT_HELP = "Project root holding catalog/, config/ and analysis/."
STATE_HELP = "State store URL (default: sqlite under ROOT/analysis/state/)."
JSON_HELP = "Print one JSON document on stdout (and nothing else there)."
VERBOSE_HELP = "Show tracebacks of internal errors."
ROOT_TYPE = click.Path(file_okay=False, path_type=str)

_SHARED = (
    click.option("--root", "_root", type=ROOT_TYPE, default=None, help=ROOT_HELP),
    click.option("--state", "_state", default=None, help=STATE_HELP),
    click.option("--json", "_json", is_flag=True, help=JSON_HELP),
    click.option("-v", "--verbose", "_verbose", is_flag=True, help=VERBOSE_HELP),
)


def pass_options(f: F) -> F:
    """Give a command the shared options and pass it the merged Options as first argument.

    A command that takes an `as_json` parameter gets the merged --json there too, so its own
    code reads one value wherever the flag was given.
    """
    wants_json = "as_json" in inspect.signature(f).parameters

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        ctx = click.get_current_context()
        group = ctx.find_object(Options) or Options.build(root=".", state=None, verbose=False)
        opts = group.merged(
            root=kwargs.pop("_root"),
            state=kwargs.pop("_state"),
            verbose=kwargs.pop("_verbose"),
            as_json=kwargs.pop("_json"),
        )
        if wants_json:
            kwargs["as_json"] = opts.json
        return f(opts, *args, **kwargs)

    for option in reversed(_SHARED):
        wrapper = option(wrapper)
    return wrapper  # type: ignore[return-value]


def examples(*lines: str) -> str:
    """A command's --help epilog: example command lines, kept as written (`\\b`: no rewrap)."""
    return "Examples:\n\n\b\n" + "\n".join(f"  {line}" for line in lines)


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
    Without a terminal rich assumes 80 columns and wraps or cuts table cells to fit them: plain
    output takes the width COLUMNS asks for, else a width no line reaches.

    Every string it prints goes through `printable` first, so control characters in free text
    (reasons, deploy output, response bodies) never reach the terminal; `Text` cells are made
    with `cell()` for the same reason."""
    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() else plain_width()
    return _console_class()(stderr=stderr, highlight=False, soft_wrap=not is_tty(), width=width)


def cell(value: object, style: str = "") -> Any:
    """A table cell of free text: shown as text (`[bold]` in a reason is not markup) with its
    control characters escaped."""
    from rich.text import Text

    return Text(printable(value), style=style)


def echo(line: str, *, err: bool = False) -> None:
    """One line (or several) of plain output, control characters in it escaped."""
    click.echo(printable(line, newlines=True), err=err)


@functools.cache
def _console_class() -> Any:
    from rich.console import Console  # here: --help and JSON output never need rich

    class SafeConsole(Console):
        def print(self, *objects: Any, **kwargs: Any) -> None:
            safe = (printable(o, newlines=True) if isinstance(o, str) else o for o in objects)
            super().print(*safe, **kwargs)

        def on_broken_pipe(self) -> None:
            # rich's own answer is SystemExit(1) (after pointing stdout, even for a stderr
            # console, at /dev/null): leave that to main(), which knows it is no error.
            self.quiet = True
            raise StdoutClosed

    return SafeConsole


def plain_width() -> int:
    raw = os.environ.get("COLUMNS", "")
    return int(raw) if raw.isdigit() and int(raw) > 0 else PLAIN_WIDTH
