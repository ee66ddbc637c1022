"""Timeline accounting of a run: how long each phase took, how long the train was paused and
why (a pause, a freeze, an approval wait), against the plan's estimate (`status --json`
`timeline`, the monitoring snapshot; reports read the same document).

Computed only from what the run recorded: its start (`runs.started_at`) and its `status`
events, one per status change, each saying `FROM -> TO` and, when there is one, `: REASON`
(every writer of a status records one: executor/phases.py, rollback.py, pausing.py,
approvals.py). Nothing here is estimated or invented: a run without events has an empty
timeline, and an interval still going on ends "now" with `finished_at: null`.

Pause reasons are classified by how they start: "awaiting approval" -> `approval`, "frozen" or
"freeze" -> `freeze` (the freeze work pauses a run with such a reason), anything else ->
`pause`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .lifecycle import FINAL
from .state import Event, Run

WORKING = ("validating", "staging", "executing", "verifying")
PAUSE_KINDS = ("pause", "freeze", "approval")
_CHANGE = re.compile(r"^([a-z_]+) -> ([a-z_]+)(?:: (.*))?$", re.DOTALL)


def reason_kind(reason: str | None) -> str:
    text = (reason or "").strip().lower()
    if text.startswith("awaiting approval"):
        return "approval"
    if text.startswith(("frozen", "freeze")):
        return "freeze"
    return "pause"


@dataclass(frozen=True)
class Interval:
    status: str
    start: str
    end: str | None  # None: still going on
    reason: str | None
    duration_s: float | None


def _seconds(start: str, end: str) -> float | None:
    try:
        a, b = datetime.fromisoformat(start), datetime.fromisoformat(end)
    except ValueError:
        return None
    if (a.tzinfo is None) != (b.tzinfo is None):
        return None
    return round(max(0.0, (b - a).total_seconds()), 3)


def intervals(run: Run, events: list[Event], *, now: str) -> list[Interval]:
    """The run's statuses one after another, from its status events (oldest first)."""
    out: list[Interval] = []
    changes = any(e.kind == "status" for e in events)
    # every run is created `planning` (state.runs.create_run); one without any recorded
    # change is shown in the status it has
    status = "planning" if changes else str(run.status)
    since, reason = run.started_at, None
    for e in events:
        m = _CHANGE.match(e.message) if e.kind == "status" else None
        if m is None:
            continue
        _, new, why = m.groups()
        out.append(Interval(status, since, e.ts, reason, _seconds(since, e.ts)))
        status, since, reason = new, e.ts, why
    if status not in {str(s) for s in FINAL}:
        out.append(Interval(status, since, None, reason, _seconds(since, now)))
    return out


def timeline(
    run: Run | None, events: list[Event], *, estimated_s: float | None, now: datetime
) -> dict[str, Any]:
    """The `timeline` document (README: "Timeline accounting")."""
    stamp = now.isoformat(timespec="milliseconds")
    doc: dict[str, Any] = {
        "phases": [],
        "paused": [],
        "phase_totals_s": {p: 0.0 for p in WORKING},
        "paused_totals_s": {k: 0.0 for k in PAUSE_KINDS},
        "active_s": None,
        "paused_s": None,
        "elapsed_s": None,
        "estimated_duration_s": estimated_s,
        "over_estimate": None,
    }
    if run is None:
        return doc
    active = paused = 0.0
    for i in intervals(run, events, now=stamp):
        seconds = i.duration_s or 0.0
        if i.status in WORKING:
            doc["phases"].append(
                {
                    "phase": i.status,
                    "started_at": i.start,
                    "finished_at": i.end,
                    "duration_s": i.duration_s,
                }
            )
            doc["phase_totals_s"][i.status] = round(doc["phase_totals_s"][i.status] + seconds, 3)
            active += seconds
        elif i.status == "paused":
            kind = reason_kind(i.reason)
            doc["paused"].append(
                {
                    "reason_kind": kind,
                    "reason": i.reason,
                    "from": i.start,
                    "to": i.end,
                    "duration_s": i.duration_s,
                }
            )
            doc["paused_totals_s"][kind] = round(doc["paused_totals_s"][kind] + seconds, 3)
            paused += seconds
    doc["active_s"] = round(active, 3)
    doc["paused_s"] = round(paused, 3)
    doc["elapsed_s"] = _seconds(run.started_at, run.finished_at or stamp)
    # the estimate is of the work: time spent waiting for people or a freeze is not over it
    doc["over_estimate"] = None if estimated_s is None else active > estimated_s
    return doc
