"""release-trains resume TRAIN: carry a paused run on, in the foreground."""

from __future__ import annotations

import click

from .context import Options, pass_options
from .execute_cmd import run_train


@click.command("resume")
@click.argument("train")
@click.option("--max-parallel", type=click.IntRange(1, 64), default=None)
@click.option("--json", "as_json", is_flag=True)
@pass_options
def command(opts: Options, train: str, max_parallel: int | None, as_json: bool) -> int:
    """Resume a paused TRAIN from its persisted steps (exit 3 if it is not paused)."""
    return run_train(opts, train, max_parallel=max_parallel, as_json=as_json, resume_only=True)
