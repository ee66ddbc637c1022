"""One way to write a length of time, everywhere (CLI tables, plain lines, reports)."""

from __future__ import annotations

import math

import pytest

from release_trains.durations import format_duration


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "-"),
        (math.nan, "-"),
        (math.inf, "-"),
        (0, "0.0s"),
        (4.24, "4.2s"),
        (59.94, "59.9s"),
        (59.96, "1m00s"),
        (303, "5m03s"),
        (7200, "2h00m00s"),
        (7383.4, "2h03m03s"),
        (-3.5, "-"),  # a start after a finish: unknown, never a negative length
    ],
)
def test_format_duration(seconds: float | None, text: str) -> None:
    assert format_duration(seconds) == text


def test_the_cli_and_the_reports_use_the_same_format() -> None:
    from release_trains.cli import render
    from release_trains.reports import sections

    for seconds in (None, 4.2, 303, 7383.4):
        assert render.duration(seconds) == format_duration(seconds)
        assert sections.duration(seconds) == format_duration(seconds)
