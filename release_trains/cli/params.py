"""Parameter types of the command line: durations and reasons, checked while parsing.

A value click refuses here is a usage error (exit 2, and the JSON error document under
--json) before any file is read, never an OverflowError or a NaN deep inside a command.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:  # generic for type checkers since click 8.2; subscripting fails on 8.1
    ParamType = click.ParamType[Any]
else:
    ParamType = click.ParamType

_PART = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
YEAR_S = 365 * 86400


def duration_seconds(text: str, *, units_required: bool = False) -> float | None:
    """`90`, `2.5s`, `30m`, `12h`, `7d`, `2w`, `1d12h` -> seconds; None if it is none of them.

    Only digits are read, so `nan`, `inf`, `-5` and `1e400` are not durations."""
    compact = text.strip().lower().replace(" ", "")
    if not units_required and _NUMBER.fullmatch(compact):
        return float(compact)
    parts = _PART.findall(compact)
    if not compact or "".join(n + u for n, u in parts) != compact:
        return None
    # A float holds any count given (a huge one becomes inf): the caller's range check then
    # refuses `99999999999999d` as out of range before a timedelta could overflow on it.
    return sum(float(n) * _UNIT_S[u] for n, u in parts)


def _seconds_text(seconds: float) -> str:
    for unit, size in (("w", _UNIT_S["w"]), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"


class Duration(ParamType):
    """A duration between `min_s` and `max_s` seconds.

    Converts to float seconds, or (`text=True`) to the text as given, for callers that keep
    the user's words (`--since 7d` is reported as "last 7d")."""

    name = "duration"

    def __init__(
        self, *, min_s: float, max_s: float, units_required: bool = False, text: bool = False
    ) -> None:
        self.min_s, self.max_s = min_s, max_s
        self.units_required, self.text = units_required, text

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, float) and not self.text:  # a default, already checked
            return value
        text = str(value)
        seconds = duration_seconds(text, units_required=self.units_required)
        if seconds is None:
            form = "30m, 12h, 7d or 2w" if self.units_required else "90 (seconds), 30s, 5m or 2h"
            self.fail(f"{text!r} is not a duration: write it as {form}", param, ctx)
        if not self.min_s <= seconds <= self.max_s:
            self.fail(
                f"{text!r} is out of range: from {_seconds_text(self.min_s)} "
                f"to {_seconds_text(self.max_s)}",
                param,
                ctx,
            )
        return text.strip() if self.text else seconds


class Reason(ParamType):
    """Free text that says why: it lands in the audit log, so it must say something."""

    name = "text"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        text = str(value)
        if not text.strip():
            self.fail("must not be empty or only whitespace: say why", param, ctx)
        return text


# `--since` of report and audit: a window back from now, in the units the reports speak.
SINCE = Duration(min_s=1, max_s=100 * YEAR_S, units_required=True, text=True)
