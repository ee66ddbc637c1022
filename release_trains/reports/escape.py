"""The one escape for HTML text and attributes."""

from __future__ import annotations

import html

from ..text import printable


def e(value: object) -> str:
    """Escaped for HTML text and attributes; control characters, which HTML cannot hold
    (and a terminal showing the file would obey), as their escapes."""
    return html.escape(printable(value), quote=True)
