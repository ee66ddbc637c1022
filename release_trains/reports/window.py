"""The history a report covers: a `--since` window and a `--runs` count."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ..errors import InputError
from ..monitoring import parse_ts

_SINCE_PART = re.compile(r"(\d+)([smhdw])")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}

# How many runs a train report covers unless told (--runs N): the latest in full, the others
# as one summary row each. A bound, so a train with a thousand past runs reports in the time
# ten take; MAX_RUNS keeps `--runs` itself from asking for an unbounded report.
DEFAULT_RUNS = 10
MAX_RUNS = 1000


def parse_since(text: str) -> timedelta:
    """`30m`, `12h`, `7d`, `2w`, `1d12h` -> a duration; InputError (exit 2) otherwise."""
    compact = text.strip().lower().replace(" ", "")
    parts = _SINCE_PART.findall(compact)
    if not compact or "".join(n + u for n, u in parts) != compact:
        raise InputError(
            f"--since {text!r}: expected a count and a unit such as 30m, 12h, 7d or 2w "
            "(units: s, m, h, d, w)"
        )
    total = sum(int(n) * _UNIT_S[u] for n, u in parts)
    if total <= 0:
        raise InputError(f"--since {text!r}: the window must be longer than 0")
    return timedelta(seconds=total)


def check_runs(runs: int) -> int:
    """--runs N: 1 to MAX_RUNS; InputError (exit 2) otherwise."""
    if not 1 <= runs <= MAX_RUNS:
        raise InputError(f"--runs {runs}: expected a count of runs from 1 to {MAX_RUNS}")
    return runs


@dataclass(frozen=True)
class Window:
    since: str | None  # as given ("7d"); None: all history
    start: datetime | None

    @classmethod
    def of(cls, since: str | None, *, now: datetime) -> Window:
        return cls(since, now - parse_since(since) if since else None)

    def holds(self, ts: str | None) -> bool:
        """A record without a readable time is kept: it is not provably outside the window."""
        when = parse_ts(ts)
        return self.start is None or when is None or when >= self.start

    def describe(self) -> str:
        if self.start is None:
            return "all history"
        return f"last {self.since} (since {self.start.isoformat(timespec='seconds')})"

    def to_json(self) -> dict[str, Any]:
        return {
            "since": self.since,
            "from": self.start.isoformat(timespec="seconds") if self.start else None,
        }
