"""Workers: they carry out the runs, resumes and rollbacks started through the API.

A request only queues a job (state/jobs.py); a worker claims the oldest one, holds a lease on
it for the job's whole life (`JobClaim`: a heartbeat thread, like leases.Lease), and runs it
through the same library functions as the CLI (`Executor(...).execute`, `resume_only`,
`rollback.rollback_train`) with the job's `requested_by` as the actor, so the audit records
say who asked (token:NAME). A job whose worker died (its lease stale: its process gone on
this host, or no heartbeat for `lock_stale_after` elsewhere) is claimed by the next worker;
the executor then takes the train's stale lease over and carries the run on from its
persisted steps (every service released once).

A job ends `done` when the worker carried it through, whatever the run's own outcome (the
outcome document says: completed, failed, paused, rolled back), and `failed` when the library
refused it or raised (its message and exit code are the outcome).

`stopping` (an Event) is both how a worker is stopped and how its run is paused: it is the
executor's `Settings.stop`, so the run in hand stops before its next service and is left
`paused` (as on SIGTERM of `execute`, resumable), and no further job is taken.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .catalog import load_catalog
from .due import due_trains, start_due
from .errors import ReleaseTrainError, StateBusyError
from .executor import Executor
from .leases import new_lock_id, renewal_interval
from .notify.sender import STOP_WAIT_S, Delivery, Sender
from .rollback import document as rollback_document
from .rollback import rollback_train
from .runtime import Settings
from .state import DEFAULT_BUSY_TIMEOUT_S, Job, Store, Worker, open_store

POLL_S = 0.5  # how long an idle worker waits between looks at the queue
# How often an idle worker looks for due trains (schedule.start_time passed, never ran): a look
# reads the catalog, so not at every poll; a minute's resolution is what cron gives too.
DUE_EVERY_S = 15.0


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


class JobClaim:
    """A worker's lease on a claimed job, renewed by a daemon thread until the job ends."""

    def __init__(
        self,
        *,
        store: Store,
        job: Job,
        stale_after_s: float,
        renewal_clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        assert job.lease_id is not None
        self.store = store
        self.job = job
        self.lease_id = job.lease_id
        self.interval_s = renewal_interval(stale_after_s)
        self._clock = renewal_clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.lost = False

    def __enter__(self) -> JobClaim:
        self._thread = threading.Thread(target=self._renew, name=f"job-{self.job.id}", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _renew(self) -> None:
        while not self._stop.wait(self.interval_s):
            stamp = self._clock().isoformat(timespec="milliseconds")
            try:
                if not self.store.job_heartbeat(self.job.id, self.lease_id, stamp):
                    self.lost = True  # another worker took it over: it carries the run
                    return
            except ReleaseTrainError:  # a busy store: the next renewal tries again
                continue


class JobWorker:
    """One worker: `run()` takes jobs until `stopping` is set (or one job with `once`)."""

    def __init__(
        self,
        *,
        root: Path,
        state_url: str | None,
        clock: Callable[[], datetime],
        name: str,
        host: str,
        pid: int,
        stopping: threading.Event | None = None,
        busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S,
        poll_s: float = POLL_S,
        wake: threading.Event | None = None,
        echo: Callable[[str], None] | None = None,
        due_every_s: float | None = DUE_EVERY_S,
    ) -> None:
        self.root = root
        self.state_url = state_url
        self.clock = clock
        self.name = name  # user@host: who holds a job's lease
        self.host = host
        self.pid = pid
        self.stopping = stopping or threading.Event()
        self.busy_timeout_s = busy_timeout_s
        self.poll_s = poll_s
        # set by whoever queues a job in this process (serve's routes): an idle worker looks at
        # the queue at once instead of at its next poll; the poll stays, for other processes
        self.wake = wake
        self.echo = echo
        # the jobs this worker ended, in order (the newest 1000: a server's worker runs long)
        self.finished: deque[Job] = deque(maxlen=1000)
        self.due_every_s = due_every_s  # None: this worker starts no due trains
        self._next_due = 0.0  # time.monotonic() of the next look for due trains
        self._sender: Sender | None = None  # its notification sender, while run() runs

    def run(self, *, once: bool = False) -> list[Job]:
        """Take and run jobs until stopped; with `once`, at most one (none queued: return)."""
        config_catalog = load_catalog(self.root, services=False)
        stale_after_s = config_catalog.config.lock_stale_after_s
        store = self._existing()
        sender: Sender | None = None
        try:
            while not self.stopping.is_set():
                if store is None:  # no store yet: nothing was ever queued (none is made here)
                    try:
                        store = self._existing()
                    except StateBusyError as e:  # busy right now: look again later
                        self._say(f"cannot open the store: {e}")
                if sender is None and store is not None and config_catalog.config.notifications:
                    # delivers for every run (its jobs' and what others left), for its life
                    sender = Sender(store=store, catalog=config_catalog, echo=self.echo).start()
                    self._sender = sender
                if self.wake is not None:
                    self.wake.clear()  # before the look: a job queued after it sets it again
                job = self._take(store, stale_after_s) if store is not None else None
                if job is None:
                    if once:
                        break
                    if self._due_look():
                        store = self._start_due(store)
                    self._idle()
                    continue
                assert store is not None  # a job came from it
                self._say(f"job {job.id}: {job.kind} {job.train} for {job.requested_by}")
                with JobClaim(store=store, job=job, stale_after_s=stale_after_s) as claim:
                    status, run_id, outcome, error = self._carry_out(job)
                if not claim.lost and store.finish_job(
                    job.id,
                    claim.lease_id,
                    status=status,
                    now=self._now(),
                    run_id=run_id,
                    outcome=outcome,
                    error=error,
                ):
                    ended = store.job(job.id)
                    if ended is not None:
                        self.finished.append(ended)
                    self._say(f"job {job.id}: {status}" + (f": {error}" if error else ""))
                if once:
                    break
        finally:
            if sender is not None:
                sender.stop(timeout_s=STOP_WAIT_S)
                self._sender = None
            if store is not None:
                store.close()
        return list(self.finished)

    # --- inside ----------------------------------------------------------------------------

    def _existing(self) -> Store | None:
        """The store for claiming jobs, None while there is none; an older schema, or a file
        that is not a store, is refused as every writer refuses it."""
        probe = open_store(
            self.state_url, self.root, create=False, busy_timeout_s=self.busy_timeout_s
        )
        if probe is None:
            return None
        probe.close()
        return self._open()

    def _open(self) -> Store:
        store = open_store(
            self.state_url, self.root, create=True, busy_timeout_s=self.busy_timeout_s
        )
        assert store is not None
        return store

    def _take(self, store: Store, stale_after_s: float) -> Job | None:
        me = Worker(lease_id=new_lock_id(), name=self.name, host=self.host, pid=self.pid)
        now = self.clock()
        try:
            return store.take(
                me,
                now=now.isoformat(timespec="milliseconds"),
                now_ts=now.timestamp(),
                stale_after_s=stale_after_s,
            )
        except ReleaseTrainError as e:  # a busy or unreachable store: look again later
            self._say(f"cannot read the queue: {e}")
            return None

    def _carry_out(self, job: Job) -> tuple[str, int | None, dict[str, Any] | None, str | None]:
        """(status, run id, outcome document, error) of running `job` in this process."""
        try:
            store = self._open()
        except ReleaseTrainError as e:
            return "failed", None, {"detail": str(e), "exit_code": e.exit_code}, str(e)
        try:
            catalog = load_catalog(self.root, store=store)  # API-defined trains included
            settings = Settings(
                clock=self.clock,
                who=job.requested_by,
                max_parallel=job.param("max_parallel") or catalog.config.max_parallel,
                echo=self.echo,
                stop=self.stopping,
                host=self.host,
                # this worker's sender delivers what the job queues (none: not set up)
                delivery=Delivery(catalog=catalog, store=store, sender=self._sender),
            )
            earlier = _ended_by_earlier_worker(store, job)
            if earlier is not None:
                return "done", earlier["run_id"], earlier, None
            if job.kind == "rollback":
                plan, result = rollback_train(
                    catalog,
                    store,
                    job.train,
                    settings=settings,
                    reason=job.param("reason") or "",
                    only=job.param("services") or None,
                    force=bool(job.param("force", False)),
                )
                doc = rollback_document(plan, result, reason=job.param("reason"), dry_run=False)
                return "done", doc.get("run_id"), doc, None
            outcome = Executor(
                catalog=catalog, store=store, train=job.train, settings=settings
            ).execute(resume_only=job.kind == "resume", early=bool(job.param("now", False)))
            return "done", outcome.run_id, outcome.to_json(), None
        except ReleaseTrainError as e:
            return "failed", None, {"detail": str(e), "exit_code": e.exit_code}, str(e)
        except Exception as e:  # a bug must end the job, not the worker
            detail = f"internal error: {type(e).__name__}: {e}"
            return "failed", None, {"detail": detail, "exit_code": 4}, detail
        finally:
            store.close()

    def _due_look(self) -> bool:
        """Whether it is time for the next look for due trains (monotonic: never a wall-clock
        jump that skips or repeats looks)."""
        if self.due_every_s is None or time.monotonic() < self._next_due:
            return False
        self._next_due = time.monotonic() + self.due_every_s
        return True

    def _start_due(self, store: Store | None) -> Store | None:
        """Start the due trains as `execute --due` does (due.start_due: each once, whoever
        else looks at the same time), as this worker's identity; the store (made now when
        there was none and a train is due: its run must be recorded)."""
        try:
            catalog = load_catalog(self.root, store=store)
            if not due_trains(catalog, store, self.clock()):
                return store
            if store is None:
                store = self._open()
                catalog = load_catalog(self.root, store=store)
            settings = Settings(
                clock=self.clock,
                who=self.name,
                max_parallel=catalog.config.max_parallel,
                echo=self.echo,
                stop=self.stopping,
                host=self.host,
                # this worker's sender delivers what the due runs queue, as for its jobs
                delivery=Delivery(catalog=catalog, store=store, sender=self._sender),
            )
            report = start_due(catalog, store, settings=settings, quiet_freeze=True)
        except ReleaseTrainError as e:  # a broken catalog or a busy store: the next look
            self._say(f"cannot start due trains: {e}")
            return store
        if report.frozen is not None:
            self._say(f"due trains wait: frozen by {report.frozen.describe(report.now)}")
        for t in report.trains:
            self._say(f"due train {t.train}: {t.outcome}" + (f", {t.status}" if t.status else ""))
        return store

    def _idle(self) -> None:
        """Wait for the next look at the queue: the poll interval, or less when woken (or
        stopped: whoever stops workers that have a wake event sets it too)."""
        (self.wake or self.stopping).wait(self.poll_s)

    def _now(self) -> str:
        return self.clock().isoformat(timespec="milliseconds")

    def _say(self, line: str) -> None:
        if self.echo:
            self.echo(line)


def _ended_by_earlier_worker(store: Store, job: Job) -> dict[str, Any] | None:
    """A job taken over from a dead worker whose run had already ended: that is its outcome
    (running it again would refuse a completed train, or release a new run)."""
    if job.attempts < 2 or job.kind == "rollback" or job.started_at is None:
        return None
    run = store.latest_run(job.train)
    if run is None or run.finished_at is None or run.finished_at < job.started_at:
        return None
    if run.status not in ("completed", "failed", "rolled_back"):
        return None
    return {"train": job.train, "run_id": run.id, "status": str(run.status), "reason": run.reason}
