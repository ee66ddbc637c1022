"""The shapes of the documents the API answers with, for the OpenAPI document only (the
documents themselves are built by the library, as the CLI prints them with --json). Each
lists the fields a client may rely on; more may be present (additionalProperties)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict


class Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class Healthz(Open):
    status: Literal["ok"]
    version: str


class TrainRow(Open):
    train: str
    status: str
    progress: float
    released: int
    participants: int
    run_id: int | None
    updated_at: str | None
    unhealthy: list[str]
    executor: dict[str, Any] | None


class TrainList(Open):
    """`status --json` without a train."""

    trains: list[TrainRow]
    freeze: FreezeDoc | None  # the freeze in force (config window or platform), null if none


class TrainDefinition(Open):
    train: str
    source: Literal["catalog", "api"]
    definition: dict[str, Any]


class ServiceProgress(Open):
    service: str
    status: str
    from_version: str | None
    to_version: str | None
    health: str


class Counted(Open):
    total: int
    items: list[dict[str, Any]]


class Event(Open):
    ts: str
    kind: str
    service: str | None
    message: str


class Status(Open):
    """`status TRAIN --json` (and `monitor TRAIN --json`)."""

    train: str
    status: str
    progress: float
    released: int
    participants: int
    run_id: int | None
    services: list[ServiceProgress]
    gates: Counted
    dependencies: Counted
    phase: dict[str, Any]
    events: list[Event]
    reason: str | None
    executor: dict[str, Any] | None
    # {event, channel, outcome, detail, attempts, ts} per notification of the run
    notifications: list[dict[str, Any]] = []
    freeze: FreezeDoc | None  # the freeze in force (config window or platform), null if none
    generated_at: str


class PlanDoc(Open):
    """`plan TRAIN --json`."""

    train: str
    ready: bool
    status: str
    participants: list[dict[str, Any]]
    problems: list[str]


class Step(Open):
    service: str
    from_version: str | None
    to_version: str | None
    call: str


class DryRun(Open):
    """`execute TRAIN --dry-run --json`."""

    train: str
    dry_run: Literal[True]
    ready: bool
    problems: list[str]
    waves: list[list[str]]
    steps: list[Step]


class PauseDoc(Open):
    """`pause TRAIN --json`."""

    train: str
    run_id: int
    requested: bool
    status: str
    reason: str
    message: str


class RollbackService(Open):
    service: str
    from_version: str | None
    to_version: str | None
    action: str
    call: str
    outcome: str


class RollbackDoc(Open):
    """`rollback TRAIN --dry-run --json`."""

    train: str
    run_id: int
    dry_run: bool
    reason: str | None
    order: list[str]
    waves: list[list[str]]
    services: list[RollbackService]
    refusals: list[str]
    status: str | None
    detail: str | None


class RolledBackService(Open):
    service: str
    from_version: str | None
    to_version: str | None
    outcome: str


class RollbackStatus(Open):
    train: str
    run_id: int
    status: Literal["rolling_back", "rolled_back", "failed", "partially_rolled_back"]
    reason: str | None
    started_at: str
    finished_at: str | None
    services: list[RolledBackService]


class LastRelease(Open):
    train: str | None
    run_id: int
    from_version: str | None
    to_version: str | None
    finished_at: str | None


class ServiceStatus(Open):
    service: str
    environment: str
    version: str | None
    status: str
    health: str
    last_release: LastRelease | None
    last_report: dict[str, Any] | None = None  # an external pipeline's last deploy report


class HealthNow(Open):
    service: str
    health: Literal["healthy", "unhealthy", "not verified"]
    detail: str
    checked_at: str


class Signal(Open):
    name: str
    value: Any
    read_at: str
    source: str


class Performance(Open):
    service: str
    signals: list[Signal]


class AuditRecord(Open):
    ts: str
    actor: str
    action: str
    train: str
    service: str | None
    detail: Any


class Queued(Open):
    train: str
    job_id: int
    kind: Literal["execute", "resume", "rollback"]
    status: Literal["queued", "running", "done", "failed"]
    run_id: int | None


class Job(Open):
    job_id: int
    kind: Literal["execute", "resume", "rollback"]
    train: str
    params: dict[str, Any]
    requested_by: str
    requested_at: str
    status: Literal["queued", "running", "done", "failed"]
    run_id: int | None
    attempts: int
    worker: str | None
    worker_host: str | None
    started_at: str | None
    finished_at: str | None
    outcome: dict[str, Any] | None
    error: str | None


class JobList(Open):
    jobs: list[Job]


class DeployReportDoc(Open):
    """A deploy report as recorded, and the deploy it met."""

    id: int
    service: str
    environment: str
    status: Literal["deployed", "failed"]
    version: str
    health_status: str | None
    detail: str | None
    reported_by: str
    reported_at: str
    waiting: dict[str, Any] | None


class FreezeDoc(Open):
    """The freeze in force (`plan --json`'s `freeze`)."""

    name: str
    reason: str
    until: str | None
    since: str
    source: Literal["window", "platform"]
    actor: str | None


class FreezeChange(Open):
    """`freeze --json` / `unfreeze --json`."""

    frozen: bool
    freeze: FreezeDoc | None
    message: str


class ApprovalDecision(Open):
    """`approve --json` / `reject --json`; with `job` when a worker carries the train on (the
    quorum is reached: a resume) or rolls it back (a rejection where automatic rollback is on)."""

    train: str
    run_id: int
    gate: str
    decision: Literal["approve", "reject"]
    actor: str
    counted: bool
    outcome: Literal["approved", "rejected", "open"]
    approvals: int
    min_approvals: int
    status: str
    message: str
    job: Queued | None


class WhoAmI(Open):
    name: str
    role: Literal["viewer", "operator", "admin"]
    actor: str


class ServiceHistory(Open):
    """`report --service S --format json`."""

    service: str
    environment: str
    deployed: dict[str, str | None]
    health: dict[str, Any]
    metrics: list[dict[str, Any]]
    releases: list[dict[str, Any]]
    generated_at: str
