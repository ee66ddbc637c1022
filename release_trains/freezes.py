"""Freezes: whether the platform is frozen now, and the one way to freeze and unfreeze it.

Two sources: the config's freeze windows (windows.py; fixed or recurring, read-only here) and
the platform-wide "stop the line" declared with `release-trains freeze` / `POST
/api/v1/freeze` (state/freezes.py). While either is in force, starting or resuming a run is
refused (exit 3, HTTP 409) naming it and when it ends, and a running executor pauses before
its next service (executor/scheduling.py). Rollback is never frozen: undoing a bad release is
what a freeze is there to allow.

`freeze_platform` and `unfreeze_platform` are the only writers of freezes; each one is audited
(actions `freeze` / `unfreeze`), and a notification of either belongs there too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import InputError, NotNowError
from .models import Catalog, Config
from .schedule import iso, parse_instant, wait_text
from .windows import in_force

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .state import Store
    from .state.freezes import FreezeRecord

PLATFORM = "platform freeze"  # the name a declared freeze goes by
# The audit record's `train` for a freeze: it holds every train (the field is always a text).
EVERY_TRAIN = "*"


class FrozenError(NotNowError):
    """A start or resume refused because a freeze is in force: exit 3, HTTP 409."""


@dataclass(frozen=True)
class Freeze:
    """A freeze in force: `plan --json`'s `freeze`, `GET /api/v1/freeze`."""

    name: str
    reason: str
    until: datetime | None  # None: until someone unfreezes (or no end in sight)
    since: datetime
    source: str  # "window" (config) | "platform" (freeze command / API)
    actor: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "reason": self.reason,
            "until": iso(self.until) if self.until else None,
            "since": iso(self.since),
            "source": self.source,
            "actor": self.actor,
        }

    def describe(self, now: datetime) -> str:
        if self.until is None:
            end = "until unfrozen" if self.source == "platform" else "with no end in sight"
        else:
            end = f"until {iso(self.until)} (in {wait_text((self.until - now).total_seconds())})"
        return f"{self.name} ({self.reason}) {end}"


def freeze_in_force(config: Config, store: Store | None, now: datetime) -> Freeze | None:
    """The freeze in force at `now`, if any. Where several are, the one ending last is named:
    that is how long the wait is."""
    return freeze_among(config, store.unlifted_freezes() if store is not None else (), now)


def freeze_among(config: Config, unlifted: Sequence[FreezeRecord], now: datetime) -> Freeze | None:
    """freeze_in_force, with the store's unlifted platform freezes already read."""
    from .state.freezes import in_force_at

    found = [
        Freeze(c.window.name, c.window.reason, c.until, c.start, "window")
        for c in in_force(config.freeze_windows, now)
    ]
    declared = in_force_at(unlifted, iso(now))
    if declared is not None:
        found.append(
            Freeze(
                PLATFORM,
                declared.reason,
                parse_instant(declared.until) if declared.until else None,
                parse_instant(declared.started_at),
                "platform",
                declared.actor,
            )
        )
    if not found:
        return None
    return max(found, key=lambda f: (f.until is None, f.until or now))


def refuse_if_frozen(config: Config, store: Store | None, *, now: datetime, action: str) -> None:
    frozen = freeze_in_force(config, store, now)
    if frozen is not None:
        raise FrozenError(f"cannot {action}: frozen by {frozen.describe(now)}")


def freeze_platform(
    config: Config,
    store: Store,
    *,
    reason: str,
    until: str | None,
    who: str,
    now: datetime,
    audit_path: Path,
    notify: Catalog | None = None,
    wait: bool = True,
) -> dict[str, Any]:
    """Stop the line (`freeze --reason R [--until T]`): every start and resume is refused and
    running executors pause before their next service until it ends or `unfreeze`. Returns
    the `freeze --json` document. With `notify` (the catalog), `frozen` is announced on its
    channels: delivered before returning with `wait` (a command), else by the next sender."""
    end = check_freeze_request(reason=reason, until=until, now=now)
    record = store.add_freeze(
        reason=reason, actor=who, now=iso(now), until=iso(end) if end else None
    )
    detail = reason + (f" (until {iso(end)})" if end else " (until unfrozen)")
    _audit_and_announce(store, audit_path, "freeze", who, detail, now, notify, wait=wait)
    return {
        "frozen": True,
        "freeze_id": record.id,
        "freeze": freeze_doc(config, store, now),
        "message": f"frozen: {detail}; starts and resumes are refused, runs pause before "
        "their next service",
    }


def check_freeze_request(*, reason: str, until: str | None, now: datetime) -> datetime | None:
    """The end of a freeze asked for (None: until unfrozen); bad input (exit 2, 400) before
    anything is written."""
    if not reason or not reason.strip():
        raise InputError("a freeze needs a reason: say why the line stops (--reason)")
    if until is None:
        return None
    try:
        end = parse_instant(until)
    except ValueError as e:
        raise InputError(f"until: {e}") from None
    if end <= now:
        raise InputError(f"until {until} has already passed (now is {iso(now)})")
    return end


def nothing_to_unfreeze(config: Config, store: Store | None, now: datetime) -> NotNowError:
    still = freeze_in_force(config, store, now)
    tail = (
        f"; {still.describe(now)} is a config freeze window (release_trains.freeze_windows): "
        "edit the config to end it early"
        if still
        else ""
    )
    return NotNowError(f"nothing to unfreeze: no platform freeze is in force{tail}")


def unfreeze_platform(
    config: Config,
    store: Store,
    *,
    who: str,
    now: datetime,
    audit_path: Path,
    notify: Catalog | None = None,
    wait: bool = True,
) -> dict[str, Any]:
    """Lift the platform freeze (`unfreeze`). Nothing declared to lift: exit 3, saying which
    config window (if any) still freezes the platform, since only the config can end it."""
    lifted = store.lift_freezes(who=who, now=iso(now))
    if not lifted:
        raise nothing_to_unfreeze(config, store, now)
    detail = "; ".join(
        f"lifted the freeze by {f.actor} since {f.started_at}: {f.reason}" for f in lifted
    )
    _audit_and_announce(store, audit_path, "unfreeze", who, detail, now, notify, wait=wait)
    remaining = freeze_doc(config, store, now)
    return {
        "frozen": remaining is not None,
        "lifted": [f.id for f in lifted],
        "freeze": remaining,
        "message": "unfrozen"
        + (f"; still frozen by {remaining['name']} (a config window)" if remaining else ""),
    }


def _audit_and_announce(
    store: Store,
    audit_path: Path,
    action: str,
    who: str,
    detail: str,
    now: datetime,
    catalog: Catalog | None,
    *,
    wait: bool,
) -> None:
    """A freeze or unfreeze: audited (it holds every train), then announced as `frozen` /
    `unfrozen` on the catalog's channels."""
    from . import audit  # the audit log pulls in the store: only the writers need it

    audit.append(
        audit_path,
        store=store,
        ts=iso(now),
        actor=who,
        action=action,
        train=EVERY_TRAIN,
        service=None,
        detail=detail,
    )
    if catalog is None or not catalog.config.notifications:
        return
    from .notify.sender import announce_platform_event  # only when notifications are set up

    event = {"freeze": "frozen", "unfreeze": "unfrozen"}[action]
    announce_platform_event(catalog, store, event=event, reason=detail, ts=iso(now), wait=wait)


def freeze_doc(config: Config, store: Store | None, now: datetime) -> dict[str, Any] | None:
    frozen = freeze_in_force(config, store, now)
    return frozen.to_json() if frozen else None
