"""The queue of work started through the API: one row per execute, resume or rollback asked for,
carried out by a worker (release_trains/worker.py), never inside a request.

A job is `queued` until a worker claims it (`take`): one write transaction that picks the
oldest claimable job and marks it `running` under a new worker lease (lease id, worker,
host, pid, heartbeat), so two workers never take the same job, on SQLite and PostgreSQL alike
(write transactions are serialised store-wide). The worker renews the heartbeat for the job's
whole life; a `running` job whose worker is gone (its process on this host, or a heartbeat
older than `lock_stale_after` elsewhere: the rule of locks.is_stale) is claimable again, and
the next worker carries the run on (the executor's own resume logic: every service released
once). `finish` and `heartbeat` carry the lease id, so a worker whose job was taken over
changes nothing. A train has at most one run (execute or resume) and one rollback queued or
running at a time (checked when a job is queued, in the same transaction).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..errors import LockHeldError
from .db import StoreBase, Tx
from .locks import is_stale
from .records import Lock

JOBS_TABLE = """CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    train TEXT NOT NULL,
    params TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    requested_at TEXT NOT NULL,
    status TEXT NOT NULL,
    base_run_id BIGINT,
    run_id BIGINT,
    attempts INTEGER NOT NULL DEFAULT 0,
    lease_id TEXT,
    worker TEXT,
    worker_host TEXT,
    worker_pid INTEGER,
    heartbeat_at TEXT,
    started_at TEXT,
    finished_at TEXT,
    outcome TEXT,
    error TEXT
)"""

JOBS_INDEX = "CREATE INDEX IF NOT EXISTS jobs_status ON jobs (status, id)"

KINDS = ("execute", "resume", "rollback")
_ACTIVE = "status IN ('queued', 'running')"

_COLUMNS = (
    "id",
    "kind",
    "train",
    "params",
    "requested_by",
    "requested_at",
    "status",
    "base_run_id",
    "run_id",
    "attempts",
    "lease_id",
    "worker",
    "worker_host",
    "worker_pid",
    "heartbeat_at",
    "started_at",
    "finished_at",
    "outcome",
    "error",
)
_SELECT = f"SELECT {', '.join(_COLUMNS)} FROM jobs"


@dataclass(frozen=True)
class Job:
    id: int
    kind: str  # execute | resume | rollback
    train: str
    params: str  # JSON: max_parallel, reason, force, services, ...
    requested_by: str  # the audit actor: token:NAME
    requested_at: str
    status: str  # queued | running | done | failed
    base_run_id: int | None  # the train's newest run when the job was queued
    run_id: int | None
    attempts: int  # claims so far (more than one: a worker died and another took it)
    lease_id: str | None
    worker: str | None
    worker_host: str | None
    worker_pid: int | None
    heartbeat_at: str | None
    started_at: str | None
    finished_at: str | None
    outcome: str | None  # JSON: the run's or rollback's --json document
    error: str | None

    def param(self, name: str, default: Any = None) -> Any:
        return json.loads(self.params).get(name, default)

    def as_lock(self) -> Lock:
        """The worker lease as a Lock, so that one rule (locks.is_stale) says when it is gone."""
        return Lock(
            resource=f"job:{self.id}",
            lock_id=self.lease_id or "",
            train=self.train,
            holder=self.worker or "",
            host=self.worker_host or "",
            pid=int(self.worker_pid or 0),
            started_at=self.started_at or "",
            heartbeat_at=self.heartbeat_at or self.requested_at,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "job_id": self.id,
            "kind": self.kind,
            "train": self.train,
            "params": json.loads(self.params),
            "requested_by": self.requested_by,
            "requested_at": self.requested_at,
            "status": self.status,
            "run_id": self.run_id,
            "attempts": self.attempts,
            "worker": self.worker,
            "worker_host": self.worker_host,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "outcome": json.loads(self.outcome) if self.outcome else None,
            "error": self.error,
        }


@dataclass(frozen=True)
class Worker:
    """Who claims a job: the lease id is new per claim, the rest says where it runs."""

    lease_id: str
    name: str  # user@host
    host: str
    pid: int


def _job(row: Any) -> Job:
    values = [row[i] for i in range(len(_COLUMNS))]
    return Job(*values)


def _claimable(job: Job, *, now_ts: float, stale_after_s: float) -> bool:
    if job.status == "queued":
        return True
    return job.status == "running" and is_stale(
        job.as_lock(), now_ts=now_ts, stale_after_s=stale_after_s
    )


class JobsMixin(StoreBase):
    def enqueue(
        self,
        *,
        kind: str,
        train: str,
        params: dict[str, Any],
        requested_by: str,
        now: str,
        base_run_id: int | None,
        run_id: int | None = None,
    ) -> Job:
        """Queue a job; a train with a job of the same sort (a run, a rollback) queued or
        running already refuses (exit 3)."""
        if kind not in KINDS:
            raise ValueError(f"unknown job kind {kind!r}")
        with self._write(fenced=False) as tx:
            rows = tx.execute(
                f"{_SELECT} WHERE train = ? AND {_ACTIVE} ORDER BY id", (train,)
            ).fetchall()
            # a rollback may be queued beside a run (it asks the run to pause first), never
            # beside another rollback; a run never beside another run or resume
            clash = [j for j in map(_job, rows) if (j.kind == "rollback") == (kind == "rollback")]
            if clash:
                other = clash[0]
                raise LockHeldError(
                    f"train {train!r} already has job {other.id} ({other.kind}, {other.status}, "
                    f"asked by {other.requested_by}): wait for it (GET /api/v1/jobs/{other.id})"
                )
            row = tx.execute(
                "INSERT INTO jobs (kind, train, params, requested_by, requested_at, status,"
                " base_run_id, run_id) VALUES (?, ?, ?, ?, ?, 'queued', ?, ?) RETURNING id",
                (
                    kind,
                    train,
                    json.dumps(params, sort_keys=True),
                    requested_by,
                    now,
                    base_run_id,
                    run_id,
                ),
            ).fetchone()
            return _job(_select_one(tx, int(row[0])))

    def take(self, worker: Worker, *, now: str, now_ts: float, stale_after_s: float) -> Job | None:
        """Claim the oldest queued job, or a running one whose worker is gone; None if none.
        The choice and the claim are one write transaction: each claim is one worker's."""
        if "jobs" not in self.tables:
            return None
        with self._read() as tx:  # most polls find nothing: no write transaction for them
            found = [_job(r) for r in tx.execute(f"{_SELECT} WHERE {_ACTIVE}").fetchall()]
        if not any(_claimable(j, now_ts=now_ts, stale_after_s=stale_after_s) for j in found):
            return None
        with self._write(fenced=False) as tx:
            rows = tx.execute(f"{_SELECT} WHERE {_ACTIVE} ORDER BY id").fetchall()
            pick = next(
                (
                    j
                    for j in map(_job, rows)
                    if _claimable(j, now_ts=now_ts, stale_after_s=stale_after_s)
                ),
                None,
            )
            if pick is None:
                return None
            changed = tx.execute(
                "UPDATE jobs SET status = 'running', lease_id = ?, worker = ?, worker_host = ?,"
                " worker_pid = ?, heartbeat_at = ?, started_at = COALESCE(started_at, ?),"
                " attempts = attempts + 1 WHERE id = ? AND status = ?"
                " AND COALESCE(lease_id, '') = ?",
                (
                    worker.lease_id,
                    worker.name,
                    worker.host,
                    worker.pid,
                    now,
                    now,
                    pick.id,
                    pick.status,
                    pick.lease_id or "",
                ),
            ).rowcount
            if changed != 1:  # cannot happen under the write lock; never claim twice
                return None
            return _job(_select_one(tx, pick.id))

    def job_heartbeat(self, job_id: int, lease_id: str, now: str) -> bool:
        """Renew a claim; False when another worker took the job over (stop working on it)."""
        with self._write(fenced=False) as tx:
            return (
                tx.execute(
                    "UPDATE jobs SET heartbeat_at = ? WHERE id = ? AND lease_id = ?"
                    " AND status = 'running'",
                    (now, job_id, lease_id),
                ).rowcount
                == 1
            )

    def set_job_run(self, job_id: int, lease_id: str, run_id: int) -> None:
        with self._write(fenced=False) as tx:
            tx.execute(
                "UPDATE jobs SET run_id = ? WHERE id = ? AND lease_id = ?",
                (run_id, job_id, lease_id),
            )

    def finish_job(
        self,
        job_id: int,
        lease_id: str,
        *,
        status: str,
        now: str,
        run_id: int | None,
        outcome: dict[str, Any] | None,
        error: str | None,
    ) -> bool:
        """Record the end (done | failed) of a claim; False if the claim is no longer ours."""
        if status not in ("done", "failed"):
            raise ValueError(f"a job ends done or failed, not {status!r}")
        with self._write(fenced=False) as tx:
            return (
                tx.execute(
                    "UPDATE jobs SET status = ?, finished_at = ?, run_id = COALESCE(?, run_id),"
                    " outcome = ?, error = ? WHERE id = ? AND lease_id = ? AND status = 'running'",
                    (
                        status,
                        now,
                        run_id,
                        json.dumps(outcome) if outcome is not None else None,
                        error,
                        job_id,
                        lease_id,
                    ),
                ).rowcount
                == 1
            )

    def job(self, job_id: int) -> Job | None:
        if "jobs" not in self.tables:
            return None
        with self._read() as tx:
            row = tx.execute(f"{_SELECT} WHERE id = ?", (job_id,)).fetchone()
        return _job(row) if row is not None else None

    def jobs(self, train: str | None = None, *, limit: int = 100) -> list[Job]:
        """Newest first."""
        if "jobs" not in self.tables:
            return []
        with self._read() as tx:
            if train is None:
                rows = tx.execute(f"{_SELECT} ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
            else:
                rows = tx.execute(
                    f"{_SELECT} WHERE train = ? ORDER BY id DESC LIMIT ?", (train, limit)
                ).fetchall()
        return [_job(r) for r in rows]


def _select_one(tx: Tx, job_id: int) -> Any:
    return tx.execute(f"{_SELECT} WHERE id = ?", (job_id,)).fetchone()
