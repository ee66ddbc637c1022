"""release-trains notify test [--channel C]: try the configured notification channels."""

from __future__ import annotations

import click

from ..errors import EXIT_NO, EXIT_OK
from ..notify.settings import CHANNELS
from ..notify.trial import send_test
from .context import Options, echo, examples, pass_options, print_json, utcnow
from .state import load_cli_catalog


@click.group(
    "notify",
    epilog=examples("release-trains notify test", "release-trains notify test --channel slack"),
)
def command() -> None:
    """Send a test message through each notification channel (`notify test`).

    Channels (Slack, e-mail, webhooks) are set up under release_trains.notifications in
    config/upgrade-policies.yaml; see the README's Notifications section."""


@command.command(
    "test",
    epilog=examples(
        "SLACK_WEBHOOK_URL=https://hooks.slack.com/services/... release-trains notify test",
        "release-trains notify test --channel email --json",
    ),
)
@click.option(
    "--channel",
    type=click.Choice(CHANNELS),
    default=None,
    help="Only this channel (default: every configured one).",
)
@pass_options
def test(opts: Options, channel: str | None, as_json: bool) -> int:
    """Send a test message through each configured channel and say what happened: exit 0
    when every one delivered it, 1 when one failed, 2 when none (or not CHANNEL) is set up."""
    catalog = load_cli_catalog(opts, services=False)
    results = send_test(catalog, now=utcnow(), channel=channel)
    failed = any(r.outcome != "sent" for r in results)
    if as_json:
        print_json({"channels": [r.to_json() for r in results], "ok": not failed})
    else:
        for r in results:
            echo(f"{r.channel}: {r.outcome}: {r.detail}")
    return EXIT_NO if failed else EXIT_OK
