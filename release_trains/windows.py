"""Config freeze windows (`release_trains.freeze_windows`): built from the config with every
problem named at its key, and asked whether they cover a moment.

Recurring windows are cron expressions evaluated by cronsim (a maintained, dependency-free
evaluator that handles time zones and daylight-saving changes) rather than by hand: "0 18 *
* FRI" in Europe/London fires at 18:00 London time in summer and winter alike.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .models import FreezeWindow, parse_duration
from .schedule import parse_instant

# A window repeating more often than it lasts (a cron firing hourly with a 2h duration) is one
# long freeze; it is followed this many firings, or this far, and then has "no end in sight".
_MAX_CHAINED = 2_000
_HORIZON = timedelta(days=366)

Report = Callable[[list[str | int], str], None]


@dataclass(frozen=True)
class Covering:
    """A window in force at a moment: since when, and until when (None: no end in sight)."""

    window: FreezeWindow
    start: datetime
    until: datetime | None


def build_windows(raw: Any, report: Report) -> tuple[FreezeWindow, ...]:
    """The windows of config `freeze_windows` (the schema has checked the shapes); every
    problem goes to `report(path under freeze_windows, message)`, and a broken window is
    left out."""
    out: list[FreezeWindow] = []
    seen: set[str] = set()
    for i, w in enumerate(raw or []):
        window = _window(w, _under(report, i))
        if window is None:
            continue
        if window.name in seen:
            report([i, "name"], f"duplicate freeze window name {window.name!r}")
            continue
        seen.add(window.name)
        out.append(window)
    return tuple(out)


def _under(report: Report, i: int) -> Report:
    return lambda sub, why: report([i, *sub], why)


def _window(w: dict[str, Any], report: Report) -> FreezeWindow | None:
    name, reason = w["name"], w.get("reason") or f"freeze window {w['name']}"
    fixed = [k for k in ("start", "end") if k in w]
    recurring = [k for k in ("cron", "duration", "timezone") if k in w]
    if fixed and recurring:
        report(
            [],
            f"freeze window {name!r} has both {'/'.join(fixed)} (a fixed window) and "
            f"{'/'.join(recurring)} (a recurring one): keep one kind",
        )
        return None
    if recurring:
        return _recurring(w, name, reason, report)
    ok = True
    bounds: dict[str, datetime] = {}
    for key in ("start", "end"):
        if key not in w:
            report([], f"freeze window {name!r} needs `{key}` (or `cron` and `duration`)")
            ok = False
            continue
        try:
            bounds[key] = parse_instant(w[key])
        except ValueError as e:
            report([key], str(e))
            ok = False
    if not ok:
        return None
    if bounds["end"] <= bounds["start"]:
        report(["end"], f"freeze window {name!r} ends ({w['end']}) before it starts ({w['start']})")
        return None
    return FreezeWindow(name=name, reason=reason, start=bounds["start"], end=bounds["end"])


def _recurring(w: dict[str, Any], name: str, reason: str, report: Report) -> FreezeWindow | None:
    ok = True
    for key in ("cron", "duration"):
        if key not in w:
            report([], f"recurring freeze window {name!r} needs `{key}`")
            ok = False
    zone = w.get("timezone", "UTC")
    try:
        tz = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        report(["timezone"], f"unknown time zone {zone!r} (an IANA name such as Europe/London)")
        ok = False
    if not ok:
        return None
    from cronsim import CronSim, CronSimError  # here: loading a config without cron needs none

    try:
        CronSim(w["cron"], datetime(2026, 1, 1, tzinfo=tz))
    except CronSimError as e:
        report(["cron"], f"invalid cron expression {w['cron']!r}: {e}")
        return None
    duration_s = parse_duration(w["duration"])
    if duration_s <= 0:
        report(["duration"], f"freeze window {name!r} lasts no time: give a positive duration")
        return None
    return FreezeWindow(
        name=name, reason=reason, cron=w["cron"], duration_s=duration_s, timezone=zone
    )


def covering(window: FreezeWindow, now: datetime) -> Covering | None:
    """The window's stretch in force at `now` (start <= now < end), or None."""
    if window.cron is None:
        assert window.start is not None and window.end is not None
        if window.start <= now < window.end:
            return Covering(window, window.start, window.end)
        return None
    # Every executor asks before each service and every worker every few seconds; walking
    # the cron each time is the cost, and the answer holds until the next change (the end of
    # the stretch in force, or the next firing), so it is kept until then.
    hit = _answers.get(window)
    if hit is not None and hit[0] <= now < hit[1]:
        return hit[2]
    answer, valid_to = _answer(window, now)
    if len(_answers) >= _MAX_ANSWERS:
        _answers.clear()
    _answers[window] = (now, valid_to, answer)
    return answer


# window -> (valid from, valid until, the answer): see covering()
_answers: dict[FreezeWindow, tuple[datetime, datetime, Covering | None]] = {}
_MAX_ANSWERS = 256


def _answer(window: FreezeWindow, now: datetime) -> tuple[Covering | None, datetime]:
    """The answer at `now` and until when it holds."""
    last = _last_firing(window, now)
    length = timedelta(seconds=window.duration_s)
    # every firing lasts as long, so the latest one at or before now ends last
    if last is None or now >= last + length:
        upcoming = next(_firings(window, now, reverse=False), None)
        return None, upcoming if upcoming is not None else now + _HORIZON
    end, reached = _chained_end(window, last + length)
    return Covering(window, last, end), reached


def _firings(window: FreezeWindow, after: datetime, *, reverse: bool) -> Iterator[datetime]:
    from cronsim import CronSim

    assert window.cron is not None
    tz = ZoneInfo(window.timezone)
    return iter(CronSim(window.cron, after.astimezone(tz), reverse=reverse))


def _last_firing(window: FreezeWindow, now: datetime) -> datetime | None:
    """The latest time the cron fires at or before `now`. cronsim walks strictly before its
    start, so it starts a second past now and skips anything later than now."""
    for fired in _firings(window, now + timedelta(seconds=1), reverse=True):
        if fired <= now:
            return fired
    return None


def _chained_end(window: FreezeWindow, end: datetime) -> tuple[datetime | None, datetime]:
    """When a stretch ending at `end` really ends (a firing before it extends it), and how
    far that is known: a window firing again before each stretch ends (hourly for 2h) has
    no end in sight (None) as far as it was followed."""
    length = timedelta(seconds=window.duration_s)
    horizon = end + _HORIZON
    firings = _firings(window, end - length, reverse=False)
    for _ in range(_MAX_CHAINED):
        fired = next(firings, None)
        if fired is None or fired >= end:
            return end, end
        end = max(end, fired + length)
        if end > horizon:
            break
    return None, end


def in_force(windows: tuple[FreezeWindow, ...], now: datetime) -> list[Covering]:
    return [c for c in (covering(w, now) for w in windows) if c is not None]
