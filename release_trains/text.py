"""Untrusted text made safe to show: the one place control characters are neutralised.

Reasons, descriptions, deploy and probe output, webhook and health response bodies come from
people and from services under release. Written raw to a terminal, `\\x1b[2J` clears the screen
and `\\x07` rings the bell; written raw to `release_monitoring.log`, a newline in a reason
forges a log line. `printable` is applied where such text leaves the tool for a terminal, a
one-line log or a report; the state store and JSON documents keep the text as data (JSON
escapes it).

Nothing is dropped: a control character is shown as its escape (`\\x1b`, `\\n`), so what
arrived can still be read.
"""

from __future__ import annotations

import re

# C0 controls except tab, DEL, C1 controls; Unicode line and paragraph separators (some
# terminals and editors break lines on them); bidirectional overrides and isolates, which
# reorder what a reader sees ("Trojan Source").
_UNSAFE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_UNSAFE_KEEP_NEWLINES = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)
_NAMED = {"\n": "\\n", "\r": "\\r"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(value: object, *, newlines: bool = False) -> str:
    """`value` as text with every control character shown as its escape.

    One line by default (a newline shows as `\\n`), for log lines and table cells; with
    `newlines=True` line breaks are kept, for multi-line messages on a terminal (a lone
    carriage return, which would overwrite the line, is still escaped).
    """
    text = value if isinstance(value, str) else str(value)
    pattern = _UNSAFE_KEEP_NEWLINES if newlines else _UNSAFE
    if newlines:
        text = text.replace("\r\n", "\n")
    return pattern.sub(_escape, text)
