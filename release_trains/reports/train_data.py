"""The train report's data: the latest run in full (the snapshot: timeline, gates,
dependencies), earlier runs as one summary row each, and the incidents and audit records of
the runs covered. Every read is bounded by what the report shows (--runs, --since): a train
with a thousand past runs costs about what one with ten costs."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from ..models import Catalog
from ..monitoring import Snapshot, parse_ts, seconds_between, snapshot
from ..state import Store
from .audit_trail import audit_tail, detail_text
from .window import DEFAULT_RUNS, Window, check_runs

# Kinds of run events that belong under "Failures and rollbacks" (see executor/rollback.py).
INCIDENT_KINDS = frozenset(
    {
        "deploy-failed",
        "health-failed",
        "skipped",
        "auto-rollback",
        "rollback-start",
        "rollback",
        "rolled-back",
        "rollback-failed",
        "rollback-manual",
        "trigger",
    }
)
# Bounds on the rows one report shows; past them it says where the rest is.
INCIDENTS_SHOWN = 2000
AUDIT_SHOWN = 5000


@dataclass(frozen=True)
class RunSummary:
    run_id: int
    status: str
    started_at: str
    finished_at: str | None
    duration_s: float | None
    actor: str
    released: int
    participants: int
    reason: str | None


@dataclass(frozen=True)
class Incident:
    run_id: int
    ts: str
    kind: str
    service: str | None
    message: str


@dataclass(frozen=True)
class AuditEntry:
    ts: str
    actor: str
    action: str
    service: str | None
    detail: str


@dataclass(frozen=True)
class Coverage:
    """Which part of the train's history the report holds, and what it left out."""

    runs_asked: int  # --runs
    runs_total: int  # runs the train has in all
    audit_since: str | None  # the oldest time the audit section goes back to (None: all)
    incidents_cut: bool  # more incidents than INCIDENTS_SHOWN in the runs covered
    audit_cut: bool  # older audit records (or more than AUDIT_SHOWN) were not read

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class TrainReport:
    snapshot: Snapshot
    runs: tuple[RunSummary, ...]  # newest first: the latest run is runs[0]
    incidents: tuple[Incident, ...]  # newest first, so the current run's come first
    audit: tuple[AuditEntry, ...]  # newest first
    window: Window
    now: datetime
    coverage: Coverage

    @property
    def exit_code(self) -> int:
        return self.snapshot.exit_code

    def to_json(self) -> dict[str, Any]:
        return {
            "report": "train",
            **self.snapshot.to_json(),
            "window": self.window.to_json(),
            "coverage": self.coverage.to_json(),
            "runs": [asdict(r) for r in self.runs],
            "incidents": [asdict(i) for i in self.incidents],
            "audit": [asdict(a) for a in self.audit],
        }


def train_report(
    catalog: Catalog,
    store: Store | None,
    train: str,
    *,
    now: datetime,
    window: Window,
    runs: int = DEFAULT_RUNS,
) -> TrainReport:
    """Everything a train report shows (unknown train: UnknownTrainError, exit 2). The summary
    and timeline are the latest run; the runs table, incidents and audit records cover the
    `runs` latest runs that started inside `window`."""
    check_runs(runs)
    snap = snapshot(catalog, store, train, now=now)
    heads, total = store.recent_runs(train, limit=runs) if store else ([], 0)
    heads = [h for h in heads if window.holds(h.started_at)]
    ids = [h.id for h in heads]
    counts = store.step_counts(train, run_ids=ids) if store else {}
    summaries = tuple(
        RunSummary(
            h.id,
            h.status,
            h.started_at,
            h.finished_at,
            seconds_between(h.started_at, h.finished_at),
            h.actor,
            *counts.get(h.id, (0, 0)),
            h.reason,
        )
        for h in heads
    )
    events = (
        store.events_of_runs(ids, [*INCIDENT_KINDS, "status"], limit=INCIDENTS_SHOWN + 1)
        if store
        else []
    )
    incidents = tuple(
        Incident(e.run_id, e.ts, e.kind, e.service, e.message)
        for e in events[:INCIDENTS_SHOWN]
        if e.kind != "status" or _ends_badly(e.message)
    )
    since = _audit_since(heads[-1].started_at if heads else None, window, covers_all=total <= runs)
    records, audit_cut = audit_tail(
        catalog.root, store, train=train, since=since, limit=AUDIT_SHOWN
    )
    audit = tuple(
        AuditEntry(r["ts"], r["actor"], r["action"], r["service"], detail_text(r["detail"]))
        for r in records
    )
    return TrainReport(
        snapshot=snap,
        runs=summaries,
        incidents=incidents,
        audit=audit,
        window=window,
        now=now,
        coverage=Coverage(
            runs_asked=runs,
            runs_total=total,
            audit_since=since.isoformat(timespec="seconds") if since else None,
            incidents_cut=len(events) > INCIDENTS_SHOWN,
            audit_cut=audit_cut,
        ),
    )


def _audit_since(oldest_start: str | None, window: Window, *, covers_all: bool) -> datetime | None:
    """Audit records go back to the start of the oldest run covered (and never before the
    window). When every run is covered, records from before the first run (a train created
    through the API) are kept too: nothing older is left out."""
    start = None if covers_all else parse_ts(oldest_start)
    if window.start is None:
        return start
    return window.start if start is None else max(start, window.start)


def _ends_badly(message: str) -> bool:
    # status events read "<from> -> <to>[: reason]"; only the moves into failed or rolled_back
    target = message.split(" -> ", 1)[-1]
    return target.startswith(("failed", "rolled_back"))
