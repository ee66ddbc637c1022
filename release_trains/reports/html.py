"""The HTML report: one self-contained file (inline CSS and SVG, no script, nothing fetched),
in the dashboard's visual language: status badges that carry the word and a colour, a
progress bar, timelines on a real time axis, long text wrapped inside its cell and
timestamps kept on one line. Every text goes through escape.e: reasons, descriptions, error
texts and names are typed by people and pipelines."""

from __future__ import annotations

import re
from collections.abc import Iterator

from .escape import e
from .sections import Section, sections, title
from .service_data import ServiceReport
from .timeline import LEGEND, run_history, service_timeline
from .train_data import TrainReport

# The tone of a status word (its colour); the word itself is always shown beside it.
_TONES = {
    "good": {
        "released", "completed", "pass", "satisfied", "healthy", "deployed", "approved", "approve",
    },
    "bad": {
        "failed", "fail", "error", "unsatisfied", "unhealthy", "rolled_back", "deploy-failed",
        "health-failed", "rollback-failed", "rejected", "reject",
    },
    "warn": {
        "rolling_back", "paused", "skipped", "auto-rollback", "rollback-start", "rollback",
        "rolled-back", "rollback-manual", "trigger", "awaiting",
    },
    "active": {"deploying", "verifying", "executing", "staging", "validating", "planning"},
}  # fmt: skip
_TONE_OF = {word: tone for tone, words in _TONES.items() for word in words}
# An ISO time inside free text (escaping leaves its characters as they are).
_STAMP_IN_TEXT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)?")
_TIMESTAMP = re.compile(r"^(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)?$")

_CSS = """
:root { --good: #1e7b34; --bad: #b3261e; --warn: #a35a00; --active: #1f5fbf; --muted: #5f6368; }
* { box-sizing: border-box; }
body { font-family: system-ui, sans-serif; margin: 1.5em auto; padding: 0 1.5em; color: #1f1f1f;
  max-width: 1600px; line-height: 1.4; }
h1 { margin-bottom: 0.2em; }
h2 { margin-top: 1.6em; border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }
.scroll { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; margin-bottom: 1em; font-size: 0.9em; }
th, td { border: 1px solid #d0d0d0; padding: 0.25em 0.5em; text-align: left; vertical-align: top; }
th { background: #f1f3f4; white-space: nowrap; }
td { white-space: nowrap; }
td.wide { white-space: normal; overflow-wrap: anywhere; min-width: 16em; max-width: 48em; }
td.ts { white-space: normal; }
td.ts span, .nb { white-space: nowrap; }
tbody tr:nth-child(even) { background: #fafafa; }
.empty, .note { color: var(--muted); font-style: italic; }
/* Short cells keep their words whole; free text (class wide) wraps inside its cell, long
   words too, with a width that holds several words per line. */
.badge { display: inline-block; white-space: nowrap; padding: 0 0.5em; border-radius: 0.8em;
  border: 1px solid currentColor; font-size: 0.85em; font-weight: 600; color: var(--muted); }
.badge.tone-good { color: var(--good); background: #e6f4ea; }
.badge.tone-bad { color: var(--bad); background: #fce8e6; }
.badge.tone-warn { color: var(--warn); background: #fef3e0; }
.badge.tone-active { color: var(--active); background: #e8f0fe; }
.badge.tone-good::before { content: "\\2713  "; }
.badge.tone-bad::before { content: "\\2717  "; }
.badge.tone-warn::before { content: "\\21BA  "; }
.badge.tone-active::before { content: "\\25B6  "; }
.hero { display: flex; flex-wrap: wrap; gap: 1em; align-items: center; margin: 0.8em 0; }
.hero .badge { font-size: 1.1em; }
.progress { width: 20em; max-width: 100%; height: 1em; background: #e8eaed; border-radius: 0.5em;
  overflow: hidden; }
.progress > div { height: 100%; background: var(--good); }
svg { display: block; max-width: 100%; height: auto; }
svg text { font-size: 12px; font-family: system-ui, sans-serif; fill: #1f1f1f; }
svg .tick { stroke: #e0e0e0; stroke-width: 1; }
svg .tick-label, svg .axis-title { fill: var(--muted); font-size: 11px; }
svg .now { stroke: #1f1f1f; stroke-dasharray: 4 3; }
svg .status-word { fill: var(--muted); }
.bar { fill: #9aa0a6; }
.bar.released { fill: #34a853; }
.bar.failed { fill: #d93025; }
.bar.deploying { fill: #4285f4; }
.bar.rollback { fill: #f29900; }
.none { fill: #80868b; font-style: italic; }
.legend { color: var(--muted); font-size: 0.9em; }
"""


def html_chunks(report: TrainReport | ServiceReport) -> Iterator[str]:
    """The report in pieces, one section at a time, so a large one is written as it is laid
    out rather than built as one string."""
    head, subtitle = title(report)
    yield (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{e(head)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        f"<h1>{e(head)}</h1>\n<p>{e(subtitle)} Times are UTC.</p>\n"
    )
    if isinstance(report, TrainReport):
        yield _hero(report)
    for section in sections(report):
        yield f"<h2>{e(section.title)}</h2>\n"
        if section.note:
            yield f'<p class="note">{e(section.note)}</p>\n'
        if section.timeline and isinstance(report, TrainReport):
            yield from service_timeline(report.snapshot, now=report.now)
            yield f'<p class="legend">{e(LEGEND)}</p>\n'
        if section.run_history and isinstance(report, TrainReport) and report.runs:
            yield from run_history(report.runs, now=report.now)
        if not section.rows:
            yield f'<p class="empty">{e(section.empty)}</p>\n'
            continue
        yield from _table(section)
    yield "</body>\n</html>\n"


def html(report: TrainReport | ServiceReport) -> str:
    return "".join(html_chunks(report))


def badge(word: str) -> str:
    tone = _TONE_OF.get(word, "neutral")
    return f'<span class="badge tone-{tone}">{e(word)}</span>'


def _hero(report: TrainReport) -> str:
    snap = report.snapshot
    done = f"{snap.progress:.1f}"
    return (
        f'<div class="hero">{badge(snap.status)}'
        f'<div class="progress" role="progressbar" aria-label="services released" '
        f'aria-valuemin="0" aria-valuemax="100" aria-valuenow="{done}">'
        f'<div style="width: {done}%"></div></div>'
        f"<span>{done} % ({snap.released}/{len(snap.services)} services released)</span></div>\n"
    )


def _cell(text: str, kind: str) -> str:
    if kind == "badge":
        return f"<td>{badge(text)}</td>"
    if kind == "ts":
        return f'<td class="ts">{_timestamp(text)}</td>'
    if kind == "wide":  # free text may hold timestamps: those stay whole too
        return f'<td class="wide">{_STAMP_IN_TEXT.sub(_unbroken, e(text))}</td>'
    return f"<td>{e(text)}</td>"


def _unbroken(match: re.Match[str]) -> str:
    return f'<span class="nb">{match.group(0)}</span>'


def _timestamp(text: str) -> str:
    """`2026-01-05 09:00:01`: the date and the time each unbreakable (a narrow column puts the
    time under the date, never `2026-01-` over `05T09...`); the stored time in the tooltip."""
    m = _TIMESTAMP.match(text)
    if not m:
        return e(text)
    zone = "" if m.group(4) in (None, "Z", "+00:00") else f" {m.group(4)}"
    return (
        f'<time datetime="{e(text)}" title="{e(text)}"><span>{m.group(1)}</span> '
        f"<span>{m.group(2)}{e(zone)}</span></time>"
    )


def _table(section: Section) -> Iterator[str]:
    out = ['<div class="scroll"><table>']
    if any(section.head):
        out.append(
            "<thead><tr>" + "".join(f"<th>{e(h)}</th>" for h in section.head) + "</tr></thead>"
        )
    out.append("<tbody>")
    for n, row in enumerate(section.rows, start=1):
        out.append("<tr>" + "".join(_cell(c, section.kind(i)) for i, c in enumerate(row)) + "</tr>")
        if n % 500 == 0:
            yield "\n".join(out) + "\n"
            out = []
    out.append("</tbody></table></div>")
    yield "\n".join(out) + "\n"
