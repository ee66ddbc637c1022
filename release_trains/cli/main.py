"""The root command group and the one place that turns exceptions into exit codes."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Sequence
from typing import Any

import click

from .. import __version__
from ..errors import EXIT_INPUT, EXIT_INTERNAL, ReleaseTrainError
from ..text import printable
from .context import (
    JSON_HELP,
    ROOT_HELP,
    ROOT_TYPE,
    STATE_HELP,
    VERBOSE_HELP,
    Options,
    StdoutClosed,
    examples,
)

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
    "freeze": ("freeze_cmd", "Freeze every train: starts and resumes are refused."),
    "unfreeze": (
        "unfreeze_cmd",
        "Lift the platform freeze (`freeze`); config freeze windows stay.",
    ),
    "approve": (
        "approve_cmd",
        "Approve TRAIN's approval gate: 0 recorded, 3 not awaiting it or not yours to approve.",
    ),
    "reject": (
        "reject_cmd",
        "Reject TRAIN's approval gate: the train fails (and rolls back where that is on).",
    ),
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
    "report-deploy": (
        "report_deploy_cmd",
        "Report a deploy made by an external pipeline; a run waiting for it carries on.",
    ),
    "state": (
        "state_cmd",
        "Manage the state store: migrate it to this release's schema, or copy it to another.",
    ),
    "token": (
        "token_cmd",
        "Create, list and revoke the API's tokens (roles viewer < operator < admin).",
    ),
    "serve": ("serve_cmd", "Serve the REST API on 127.0.0.1 (any other address needs a token)."),
    "notify": ("notify_cmd", "Send a test message through each notification channel."),
    "worker": (
        "worker_cmd",
        "Carry out the runs, resumes and rollbacks queued through the API, until stopped.",
    ),
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

    # Parsing prints --help and usage; invoking runs the command: a closed stdout in either
    # leaves click as StdoutClosed, which click lets through to main().
    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except BrokenPipeError as e:
            raise StdoutClosed from e

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError as e:
            raise StdoutClosed from e


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog=examples(
        "release-trains validate",
        "release-trains plan Q4-curve-upgrade",
        "release-trains execute Q4-curve-upgrade --root /srv/platform",
        "release-trains status --json | jq .trains",
    )
    + "\n\nShell completion of commands, options, trains and services (in ~/.bashrc; zsh and"
    " fish likewise, with zsh_source and fish_source):\n\n\b\n"
    '  eval "$(_RELEASE_TRAINS_COMPLETE=bash_source release-trains)"',
)
@click.option("--root", type=ROOT_TYPE, default=".", show_default=True, help=ROOT_HELP)
@click.option("--state", envvar="RELEASE_TRAINS_STATE", default=None, help=STATE_HELP)
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@click.option("-v", "--verbose", is_flag=True, help=VERBOSE_HELP)
@click.version_option(__version__, prog_name="release-trains")
@click.pass_context
def cli(ctx: click.Context, root: str, state: str | None, as_json: bool, verbose: bool) -> None:
    """Plan, execute, roll back and report coordinated multi-service release trains.

    Exit codes: 0 done / ready, 1 checked and said no, 2 bad input, 3 not now (lock or
    status), 4 internal error. --root, --state, --json and -v may also follow the command.
    """
    ctx.obj = Options.build(root=root, state=state, verbose=verbose, as_json=as_json)


def wants_json(args: Sequence[str]) -> bool:
    """Whether the command line asks for JSON (--json, --format json), before or after the
    subcommand; read from the words themselves, since it must hold when parsing them failed."""
    for i, arg in enumerate(args):
        if arg == "--":
            break
        if arg == "--json" or arg == "--format=json":
            return True
        if arg == "--format" and i + 1 < len(args) and args[i + 1] == "json":
            return True
    return False


def _json_error(args: Sequence[str], message: str, code: int) -> None:
    """With --json, stdout still holds exactly one JSON document, even when the answer is no."""
    if wants_json(args):
        import json

        click.echo(json.dumps({"error": message, "exit_code": code}, indent=2))


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's last flush of what is still buffered
    cannot fail on the closed pipe (Python would print 'Exception ignored' and exit 120)."""
    try:
        fd = os.open(os.devnull, os.O_WRONLY)
        os.dup2(fd, sys.stdout.fileno())
        os.close(fd)
    except (OSError, ValueError):  # no file descriptor (in-process tests): nothing to flush
        pass


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit code; every exception is mapped here and only here."""
    args = list(argv if argv is not None else sys.argv[1:])
    try:
        code = _run(args)
        with contextlib.suppress(ValueError):  # stdout closed by whoever embeds main()
            sys.stdout.flush()  # the last buffered output, while a closed pipe can be caught
    except BrokenPipeError:  # the reader left (`| head`), maybe while an error was printed
        _silence_stdout()
        return 0
    return code


def _run(args: list[str]) -> int:
    verbose = "-v" in args or "--verbose" in args
    try:
        result = cli.main(args=args, prog_name="release-trains", standalone_mode=False)
    except ReleaseTrainError as e:
        click.echo(f"error: {printable(str(e), newlines=True)}", err=True)
        _json_error(args, str(e), e.exit_code)
        return e.exit_code
    except click.exceptions.Exit as e:
        return e.exit_code
    except click.ClickException as e:
        # Usage errors and bad option values: click's message (with the usage line) on
        # stderr, and under --json the error document on stdout like every other refusal.
        e.show()
        _json_error(args, e.format_message(), EXIT_INPUT)
        return EXIT_INPUT
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        return 130
    except (StdoutClosed, BrokenPipeError):
        # stdout closed early (`| head`): what was wanted has been read; end quietly.
        _silence_stdout()
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
