"""What the state store holds, as plain records: a run, a service step, a lock, an event, an
audit record."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, fields
from typing import Any

from ..lifecycle import RunStatus, StepStatus


@dataclass(frozen=True)
class Run:
    id: int
    train: str
    status: RunStatus
    started_at: str
    updated_at: str
    finished_at: str | None
    reason: str | None
    actor: str
    plan: str  # the plan document (JSON text) the run executes
    max_parallel: int
    pause_requested: str | None
    phase_started_at: str | None

    def plan_doc(self) -> dict[str, Any]:
        doc: dict[str, Any] = json.loads(self.plan)
        return doc


@dataclass(frozen=True)
class Step:
    run_id: int
    service: str
    position: int
    status: StepStatus | str  # always a StepStatus once built (a str given is converted)
    from_version: str | None
    to_version: str | None
    attempts: int = 0
    started_at: str | None = None
    finished_at: str | None = None
    error: str | None = None
    health: str = "not verified"
    health_detail: str | None = None
    rollback_started_at: str | None = None
    rollback_finished_at: str | None = None
    # The deployer command in flight for this step (None once it has ended): a process killed
    # mid-deploy leaves its command running in its own session, and the next run must not
    # start another deploy of the service beside it (executor.await_deploys_in_flight).
    deploy_pgid: int | None = None
    deploy_host: str | None = None
    deploy_started_at: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", StepStatus(self.status))


@dataclass(frozen=True)
class Lock:
    """One locked resource ("train:NAME" or "service:NAME") and the lease that holds it."""

    resource: str
    lock_id: str
    train: str
    holder: str
    host: str
    pid: int
    started_at: str
    heartbeat_at: str

    def describe(self) -> str:
        return (
            f"{self.holder} (pid {self.pid}, lock {self.lock_id}, since {self.started_at}, "
            f"last heartbeat {self.heartbeat_at})"
        )


@dataclass(frozen=True)
class Event:
    id: int
    run_id: int
    ts: str
    kind: str
    service: str | None
    message: str


RUN_COLUMNS = tuple(f.name for f in fields(Run))
STEP_COLUMNS = tuple(f.name for f in fields(Step))
EVENT_COLUMNS = tuple(f.name for f in fields(Event))


def run_of(row: Any) -> Run:
    """A Run from a row selected as RUN_COLUMNS (any row type that can be indexed)."""
    values = dict(zip(RUN_COLUMNS, tuple(row), strict=True))
    values["status"] = RunStatus(values["status"])
    return Run(**values)


def step_of(row: Any, columns: tuple[str, ...] = STEP_COLUMNS) -> Step:
    """A Step from a row selected as `columns` (a store of an older schema may lack some)."""
    values = tuple(row)
    if columns == STEP_COLUMNS:  # every field, in the dataclass's order: fields(Step)
        return Step(*values)
    return Step(**dict(zip(columns, values, strict=True)))


def event_of(row: Any) -> Event:
    return Event(*tuple(row))


@dataclass(frozen=True)
class AuditEntry:
    """What one audit record says, before it has a place in the chain."""

    ts: str
    actor: str
    action: str
    train: str
    service: str | None
    detail: Any  # any JSON value


@dataclass(frozen=True)
class AuditRecord:
    """One record of the store's audit chain (table audit_records).

    `detail` is the JSON text as stored; `line()` is the record's canonical line, the exact
    bytes written to an audit.log, and `hash` the sha256 of it. `origin` names the audit.log it
    was written to ("host:path"), so a machine can tell which records its file must hold; it
    is a hint for that check, not part of the hashed line."""

    id: int
    ts: str
    actor: str
    action: str
    train: str
    service: str | None
    detail: str
    prev: str
    hash: str
    origin: str | None

    def line(self) -> bytes:
        return audit_line(
            ts=self.ts,
            actor=self.actor,
            action=self.action,
            train=self.train,
            service=self.service,
            detail_json=self.detail,
            prev=self.prev,
        )

    def fields(self) -> dict[str, Any]:
        """The record as audit.log's JSON object (ValueError: its detail is not JSON)."""
        return {
            "ts": self.ts,
            "actor": self.actor,
            "action": self.action,
            "train": self.train,
            "service": self.service,
            "detail": json.loads(self.detail),
            "prev": self.prev,
        }


AUDIT_COLUMNS = tuple(f.name for f in fields(AuditRecord))


def audit_record_of(row: Any) -> AuditRecord:
    return AuditRecord(*tuple(row))


def detail_json(detail: Any) -> str:
    return json.dumps(detail, ensure_ascii=False)


def audit_line(
    *,
    ts: str,
    actor: str,
    action: str,
    train: str,
    service: str | None,
    detail_json: str,
    prev: str,
) -> bytes:
    """The canonical line: what json.dumps(record, ensure_ascii=False) gives for the record
    with keys in the contract's order, built around the stored detail text so that computing
    it needs no parse (a detail edited into something that is not JSON still hashes)."""

    def text(value: str | None) -> str:
        return json.dumps(value, ensure_ascii=False)

    return (
        f'{{"ts": {text(ts)}, "actor": {text(actor)}, "action": {text(action)}, '
        f'"train": {text(train)}, "service": {text(service)}, "detail": {detail_json}, '
        f'"prev": {text(prev)}}}'
    ).encode()


def digest(line: bytes | str) -> str:
    data = line.encode("utf-8") if isinstance(line, str) else line
    return hashlib.sha256(data).hexdigest()
