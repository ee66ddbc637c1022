"""release-trains resume TRAIN: carry a paused run on, in the foreground."""

from __future__ import annotations

import click

from .complete import complete_train
from .context import Options, examples, pass_options
from .execute_cmd import deploy_ended_option, run_train


@click.command(
    "resume",
    epilog=examples(
        "release-trains resume Q4-curve-upgrade",
        "release-trains resume Q4-curve-upgrade --max-parallel 2",
        "release-trains resume Q4-curve-upgrade --deploy-ended curve-service",
    ),
)
@click.argument("train", shell_complete=complete_train)
@click.option("--max-parallel", type=click.IntRange(1, 64), default=None)
@deploy_ended_option
@pass_options
def command(
    opts: Options,
    train: str,
    max_parallel: int | None,
    deploys_ended: tuple[str, ...],
    as_json: bool,
) -> int:
    """Resume a paused TRAIN from its persisted steps (exit 3 if it is not paused)."""
    return run_train(
        opts,
        train,
        max_parallel=max_parallel,
        as_json=as_json,
        resume_only=True,
        deploys_ended=deploys_ended,
    )
