"""Start times: when a train may start (`schedule.start_time`), what `plan` shows of it, and the
refusal of `execute` before it.

Every function takes `now` as an argument: the library never reads the clock (tests pin it).
A start time always carries a time zone ("2026-12-01T09:00:00Z", "+01:00"): a bare local time
means something else on every machine that reads it, so it is refused when the catalog is
loaded (catalog.py, exit 2 naming the train and the key).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from .errors import NotNowError, TransitionError
from .models import Train


class ScheduledLaterError(NotNowError):
    """`execute` (or the API's start) of a train whose start time has not come: exit 3, 409."""


class AlreadyStartedError(TransitionError):
    """`execute --due` of a train that has run meanwhile (another `--due`): it is not due."""


def parse_instant(text: str) -> datetime:
    """An ISO 8601 date and time with a zone, as an aware datetime; ValueError saying what is
    wrong otherwise (the caller names the file and key)."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"{text!r} is not an ISO 8601 date and time")
    raw = text.strip()
    # Python 3.10's fromisoformat does not read "Z"; it means UTC.
    value = raw[:-1] + "+00:00" if raw[-1:] in ("Z", "z") else raw
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f"{text!r} is not an ISO 8601 date and time (e.g. 2026-12-01T09:00:00Z)"
        ) from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise ValueError(
            f"{text!r} has no time zone: add one (Z for UTC, or an offset like +01:00), "
            "or it would mean a different moment on each machine"
        )
    return parsed


def iso(moment: datetime) -> str:
    """How instants are shown and stored: UTC, milliseconds (so text order is time order)."""
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds")


def wait_text(seconds: float) -> str:
    """A wait as people say it: "2h10m", "1d3h", "45s" (rounded up: never says less)."""
    s = max(0, math.ceil(seconds))
    days, rest = divmod(s, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d{hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h{minutes}m" if minutes else f"{hours}h"
    if minutes:
        return f"{minutes}m{secs}s" if secs and minutes < 10 else f"{minutes}m"
    return f"{secs}s"


@dataclass(frozen=True)
class Schedule:
    """`plan --json`'s `schedule`: when the train starts, when it should end, whether it is due."""

    start_time: datetime | None
    estimated_end: datetime | None
    due: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "start_time": iso(self.start_time) if self.start_time else None,
            "estimated_end": iso(self.estimated_end) if self.estimated_end else None,
            "due": self.due,
        }


def schedule_of(train: Train, *, estimate_s: float, now: datetime) -> Schedule:
    """A train without a start time is never due (it starts when someone says so)."""
    start = train.starts_at
    if start is None:
        return Schedule(None, None, False)
    return Schedule(start, start + timedelta(seconds=estimate_s), start <= now)


def check_start(train: Train, *, now: datetime, early: bool) -> None:
    """Refuse (exit 3) to start `train` before its start time, unless `early` (`--now`)."""
    start = train.starts_at
    if start is None or early or start <= now:
        return
    raise ScheduledLaterError(
        f"train {train.name!r} is scheduled for {iso(start)}, in "
        f"{wait_text((start - now).total_seconds())}; --now starts it early"
    )
