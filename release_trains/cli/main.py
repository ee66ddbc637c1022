"""The root command group and the one place that turns exceptions into exit codes."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

import click

from .. import __version__
from ..errors import EXIT_INPUT, EXIT_INTERNAL, ReleaseTrainError
from ..text import printable
from .context import Options

# name -> (module under release_trains.cli, one-line help). Modules are imported only when
# their command runs; `--help` lists the summaries without importing any of them (importing
# all would load the executor, the store and reporting: 0.3 s). tests/cli check that each
# summary is the first line of its command's docstring.
COMMANDS: dict[str, tuple[str, str]] = {
    "validate": ("validate_cmd", "Schema-check every catalog and config file; list every problem."),
    "plan": ("plan_cmd", "Plan TRAIN: exit 0 ready, 1 not ready, 2 bad input."),
    "execute": (
        "execute_cmd",
        "Release TRAIN: 0 completed, 1 failed/paused/rolled back, 3 locked.",
    ),
    "pause": (
        "pause_cmd",
        "Stop TRAIN's executor before its next service; the train becomes `paused`.",
    ),
    "resume": ("resume_cmd", "Resume a paused TRAIN from its persisted steps."),
    "unlock": ("unlock_cmd", "Remove the lock LOCK_ID held on TRAIN."),
    "audit": ("audit_cmd", "List the audit records (a table on a terminal), or verify the chain."),
    "rollback": (
        "rollback_cmd",
        "Roll TRAIN back, dependents first: 0 rolled back, 1 failed or refused.",
    ),
    "status": (
        "status_cmd",
        "Where TRAIN is now; without TRAIN, every train's status and progress.",
    ),
    "monitor": ("monitor_cmd", "Progress of TRAIN; --watch follows it to the end."),
    "report": ("report_cmd", "Write a report on a train or a service."),
}


class LazyGroup(click.Group):
    """Imports a subcommand's module only when that command runs, so `--help` stays fast."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        from importlib import import_module

        module = import_module(f"release_trains.cli.{COMMANDS[cmd_name][0]}")
        command: click.Command = module.command
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][1]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=str),
    default=".",
    show_default=True,
    help="Project root holding catalog/, config/ and analysis/.",
)
@click.option(
    "--state",
    envvar="RELEASE_TRAINS_STATE",
    default=None,
    help="State store URL (default: sqlite under ROOT/analysis/state/).",
)
@click.option("-v", "--verbose", is_flag=True, help="Show tracebacks of internal errors.")
@click.version_option(__version__, prog_name="release-trains")
@click.pass_context
def cli(ctx: click.Context, root: str, state: str | None, verbose: bool) -> None:
    """Plan, execute, roll back and report coordinated multi-service release trains.

    Exit codes: 0 done / ready, 1 checked and said no, 2 bad input, 3 not now (lock or
    status), 4 internal error.
    """
    ctx.obj = Options.build(root=root, state=state, verbose=verbose)


def _json_error(argv: Sequence[str] | None, message: str, code: int) -> None:
    """With --json, stdout still holds exactly one JSON document, even when the answer is no."""
    args = list(argv if argv is not None else sys.argv[1:])
    if "--json" in args or ("--format" in args and "json" in args):
        import json

        click.echo(json.dumps({"error": message, "exit_code": code}, indent=2))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit code; every exception is mapped here and only here."""
    verbose = "-v" in (argv or sys.argv[1:]) or "--verbose" in (argv or sys.argv[1:])
    try:
        result = cli.main(args=argv, prog_name="release-trains", standalone_mode=False)
    except ReleaseTrainError as e:
        click.echo(f"error: {printable(str(e), newlines=True)}", err=True)
        _json_error(argv, str(e), e.exit_code)
        return e.exit_code
    except click.exceptions.Exit as e:
        return e.exit_code
    except click.ClickException as e:
        e.show()
        return EXIT_INPUT
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        return 130
    except BrokenPipeError:
        # stdout closed early (`| head`): not an error of ours; silence the flush at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as e:
        # The machine said no (read-only folder, full disk, a directory where a file belongs):
        # say which file and why; it is not a bug of ours, so no traceback unless asked.
        where = f" {e.filename}" if e.filename else ""
        click.echo(f"error: cannot write or read{where}: {e.strerror or e}", err=True)
        if verbose:
            import traceback  # only here: --help and every normal run need not load it

            traceback.print_exc()
        return EXIT_INTERNAL
    except Exception as e:
        click.echo(
            f"internal error: {type(e).__name__}: {printable(str(e), newlines=True)}", err=True
        )
        if verbose:
            import traceback  # only here: --help and every normal run need not load it

            traceback.print_exc()
        else:
            click.echo("(run again with -v for the traceback)", err=True)
        return EXIT_INTERNAL
    return result if isinstance(result, int) else 0
