"""Small formatting helpers shared by the commands' human output."""

from __future__ import annotations

# One format for every length of time (CLI, reports, logs); `duration` is its name here.
from ..durations import format_duration as duration

__all__ = ["duration", "outcome_style"]


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
