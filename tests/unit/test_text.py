"""text.printable: the one function that neutralises control characters in untrusted text."""

from __future__ import annotations

import pytest

from release_trains.text import printable


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("plain text, tabs\tand unicode: café ✓", "plain text, tabs\tand unicode: café ✓"),
        ("clear\x1b[2Jscreen", "clear\\x1b[2Jscreen"),
        ("bell\x07", "bell\\x07"),
        ("nul\x00 del\x7f c1\x9b", "nul\\x00 del\\x7f c1\\x9b"),
        ("one\ntwo\r\nthree\rfour", "one\\ntwo\\r\\nthree\\rfour"),
        ("sep\u2028par\u2029", "sep\\u2028par\\u2029"),
        ("bidi \u202eevil\u2066", "bidi \\u202eevil\\u2066"),
    ],
)
def test_one_line_shows_every_control_as_its_escape(raw: str, shown: str) -> None:
    assert printable(raw) == shown
    assert "\n" not in printable(raw)


def test_multi_line_keeps_line_breaks_but_not_a_lone_carriage_return() -> None:
    assert printable("a\nb\r\nc\rd\x1b", newlines=True) == "a\nb\nc\\rd\\x1b"


def test_anything_is_shown_as_text() -> None:
    assert printable(12.5) == "12.5"
    assert printable(None) == "None"
