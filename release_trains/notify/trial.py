"""`release-trains notify test`: one test message through each configured channel (or one),
sent at once (not through the outbox: nothing is announced, nothing is stored), with what
each channel answered."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from ..errors import InputError
from ..models import Catalog
from .channels import DeliveryError, send
from .messages import Notice
from .settings import CHANNELS, for_train


@dataclass(frozen=True)
class TrialResult:
    channel: str
    outcome: str  # sent | failed
    detail: str

    def to_json(self) -> dict[str, str]:
        return {"channel": self.channel, "outcome": self.outcome, "detail": self.detail}


def send_test(
    catalog: Catalog,
    *,
    now: datetime,
    channel: str | None = None,
    env: Mapping[str, str] | None = None,
) -> list[TrialResult]:
    """Send the test message; InputError (exit 2) when nothing, or not `channel`, is set up."""
    settings = for_train(catalog.config.notifications, None)
    if channel is not None and channel not in CHANNELS:
        raise InputError(f"unknown channel {channel!r}; expected one of {', '.join(CHANNELS)}")
    names = [channel] if channel else list(settings.channels)
    if not names or any(n not in settings.channels for n in names):
        missing = channel or "any channel"
        raise InputError(
            f"{missing} is not set up under release_trains.notifications (and enabled) in "
            "config/upgrade-policies.yaml: see the README's Notifications section"
        )
    ts = now.isoformat(timespec="milliseconds")
    notice = Notice(
        event="test",
        train=None,
        run_id=None,
        status=None,
        progress=None,
        reason="a test message from `release-trains notify test`",
        ts=ts,
    )
    results = []
    for name in names:
        try:
            said = send(
                name,
                settings.channels[name],
                notice,
                key=f"test/{ts}/{name}",
                recipients=settings.recipients,
                timeout_s=settings.timeout_s,
                env=env,
            )
            results.append(TrialResult(name, "sent", said))
        except DeliveryError as e:
            results.append(TrialResult(name, "failed", str(e)))
    return results
