"""Small formatting helpers shared by the commands' human output."""

from __future__ import annotations


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = round(seconds)
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    if h:
        return f"{h}h{m:02d}m"
    if m:
        return f"{m}m{s:02d}s"
    return f"{s}s"


def outcome_style(outcome: str) -> str:
    return {
        "pass": "green",
        "satisfied": "green",
        "released": "green",
        "completed": "green",
        "healthy": "green",
        "fail": "red",
        "failed": "red",
        "unsatisfied": "red",
        "unhealthy": "red",
        "error": "red",
        "unknown": "yellow",
    }.get(outcome, "white")
