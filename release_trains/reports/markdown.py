"""The markdown report: one table per section, written section by section."""

from __future__ import annotations

import re
from collections.abc import Iterator

from ..text import printable
from .sections import sections, title
from .service_data import ServiceReport
from .train_data import TrainReport

_MD_SPECIAL = re.compile(r"([\\`*\[\]<|])")


def cell(text: str) -> str:
    """One table cell: markdown punctuation escaped, so text shows as text (and `<script>`
    stays text in renderers that pass HTML through); line breaks become spaces, and other
    control characters their escapes (a report is also read with `cat` in a terminal)."""
    return _MD_SPECIAL.sub(r"\\\1", printable(" ".join(text.split())))


def markdown_chunks(report: TrainReport | ServiceReport) -> Iterator[str]:
    head, subtitle = title(report)
    yield f"# {cell(head)}\n\n{cell(subtitle)}\n"
    for section in sections(report):
        lines = ["", f"## {section.title}", ""]
        if section.note:
            lines += [cell(section.note), ""]
        if not section.rows:
            lines += [f"_{section.empty}_"]
            yield "\n".join(lines) + "\n"
            continue
        lines.append("| " + " | ".join(section.head) + " |")
        lines.append("|" + "---|" * len(section.head))
        yield "\n".join(lines) + "\n"
        yield "".join("| " + " | ".join(cell(c) for c in row) + " |\n" for row in section.rows)


def markdown(report: TrainReport | ServiceReport) -> str:
    return "".join(markdown_chunks(report))
