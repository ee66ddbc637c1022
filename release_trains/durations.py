"""How a length of time is written for people: one format for the CLI, the reports and the logs.

`4.2s` under a minute (a tenth of a second matters for a short step), `5m03s` under an hour,
`2h05m03s` beyond; `-` where the length is unknown.
"""

from __future__ import annotations

import math


def format_duration(seconds: float | None) -> str:
    # Negative: a finish recorded before its start (a stale finish time, or two machines'
    # clocks that disagree) says nothing true about the length, so it is unknown.
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return "-"
    if seconds < 59.95:  # would round to 60.0s
        return f"{seconds:.1f}s"
    whole = round(seconds)
    h, rem = divmod(whole, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s"
