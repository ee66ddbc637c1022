"""Runs and their steps, and `transition`: the one writer of a run's status.

A run's status is set in two places only: `create_run` (its first status) and `transition`,
a compare-and-set checked against lifecycle.TRANSITIONS inside the write transaction that
makes the change. Write transactions are serialised store-wide, so two processes can never
both move a run out of the same status, nor both start a new run of a completed train.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from enum import Enum
from typing import Any, Literal

from .. import lifecycle
from ..errors import StateError, TransitionError
from ..lifecycle import RunStatus
from . import chain
from .chain import Adoption
from .db import ChainMoved, StoreBase, Tx
from .history import add_event, set_deployed
from .locks import check_holds, locks_in
from .outbox import OutboxRow, insert_outbox
from .records import (
    RUN_COLUMNS,
    STEP_COLUMNS,
    AuditEntry,
    AuditRecord,
    Lock,
    Run,
    Step,
    run_of,
    step_of,
)

_RUN_SELECT = f"SELECT {', '.join(RUN_COLUMNS)} FROM runs"


@dataclass(frozen=True)
class RunHead:
    """A run without its plan document: what a list of past runs shows."""

    id: int
    status: str
    started_at: str
    finished_at: str | None
    actor: str
    reason: str | None


_HEAD_COLUMNS = tuple(f.name for f in fields(RunHead))


class Latest(Enum):
    ANY = "any"  # create_run without checking the train's latest run (seeding, tests)


def latest_in(tx: Tx, train: str) -> Run | None:
    row = tx.execute(f"{_RUN_SELECT} WHERE train = ? ORDER BY id DESC LIMIT 1", (train,)).fetchone()
    return run_of(row) if row else None


def _run_in(tx: Tx, run_id: int) -> Run | None:
    row = tx.execute(f"{_RUN_SELECT} WHERE id = ?", (run_id,)).fetchone()
    return run_of(row) if row else None


def _value(v: Any) -> Any:
    """What a driver gets for a value: an enum's text (adapters differ on enums)."""
    return v.value if isinstance(v, Enum) else v


class RunsMixin(StoreBase):
    # --- runs ------------------------------------------------------------------------------

    def create_run(
        self,
        *,
        train: str,
        status: RunStatus | str,
        actor: str,
        plan: str,
        max_parallel: int,
        now: str,
        expect_latest: int | Literal[Latest.ANY] | None = Latest.ANY,
        lock_id: str | None = None,
    ) -> Run:
        """A new run of `train` in its first status.

        With `expect_latest` (the id of the latest run the caller saw, None: none), the same
        transaction checks that it still is the latest and that a new run may follow it
        (lifecycle.NEW_RUN_AFTER): an execute of a train completed meanwhile is refused (exit
        3) and creates nothing. With `lock_id`, the train's lease must still be that one.
        """
        with self._write() as tx:
            if lock_id is not None:
                check_holds(tx, lock_id, train=train)
            if expect_latest is not Latest.ANY:
                latest = latest_in(tx, train)
                if (latest.id if latest else None) != expect_latest:
                    now_latest = f"run {latest.id} ({latest.status})" if latest else "no run"
                    raise TransitionError(
                        f"train {train!r} has {now_latest}, not the run this command saw "
                        f"({expect_latest}): it changed while this command waited; look at "
                        f"it with `release-trains status {train}` before acting again"
                    )
                if latest is not None and latest.status not in lifecycle.NEW_RUN_AFTER:
                    raise lifecycle.refuse(train, latest.status, "start a new run of")
            row = tx.execute(
                "INSERT INTO runs (train, status, started_at, updated_at, actor, plan,"
                " max_parallel, phase_started_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (train, _value(RunStatus(status)), now, now, actor, plan, max_parallel, now),
            ).fetchone()
            run = _run_in(tx, int(row[0]))
        assert run is not None
        return run

    def run(self, run_id: int) -> Run | None:
        with self._read() as tx:
            return _run_in(tx, run_id)

    def latest_run(self, train: str) -> Run | None:
        with self._read() as tx:
            return latest_in(tx, train)

    def latest_run_and_locks(self, train: str) -> tuple[Run | None, list[Lock]]:
        """The train's latest run and the locks held for the train, read in one transaction:
        an executor records its final status before it lets its lock go, so a run seen active
        beside no lock is one that nobody drives, never one that has just ended."""
        with self._read() as tx:
            return latest_in(tx, train), locks_in(tx, version=self.version, train=train)

    def trains_that_ran(self, trains: Sequence[str]) -> set[str]:
        """Which of `trains` have any run (one query: `execute --due` asks every minute)."""
        if not trains:
            return set()
        marks = ",".join("?" * len(trains))
        with self._read() as tx:
            rows = tx.execute(
                f"SELECT DISTINCT train FROM runs WHERE train IN ({marks})", tuple(trains)
            ).fetchall()
        return {r[0] for r in rows}

    def runs(self, train: str | None = None) -> list[Run]:
        with self._read() as tx:
            if train is None:
                rows = tx.execute(f"{_RUN_SELECT} ORDER BY id").fetchall()
            else:
                rows = tx.execute(f"{_RUN_SELECT} WHERE train = ? ORDER BY id", (train,)).fetchall()
        return [run_of(r) for r in rows]

    def transition(
        self,
        run_id: int,
        *,
        expected: RunStatus,
        new: RunStatus,
        now: str,
        reason: str | None = None,
        lock_id: str | None = None,
    ) -> Run:
        """Move run `run_id` from `expected` to `new`: the only writer of a run's status.

        In one write transaction: the run's train lease is still `lock_id`'s (when given; else
        LostLockError), `expected -> new` is a legal move (else TransitionError), and the run
        still is `expected` (a compare-and-set: someone else moved it meanwhile, TransitionError
        naming its status now). A final status records `finished_at`; `reason` replaces the
        run's reason when given.
        """
        expected, new = RunStatus(expected), RunStatus(new)
        with self._write() as tx:
            current = _run_in(tx, run_id)
            if current is None:
                raise StateError(f"run {run_id} is not in the state store {self.where}")
            if lock_id is not None:
                check_holds(tx, lock_id, train=current.train)
            lifecycle.check(current.train, expected, new)
            changed = tx.execute(
                "UPDATE runs SET status = ?, updated_at = ?, phase_started_at = ?,"
                " reason = COALESCE(?, reason), finished_at = ? WHERE id = ? AND status = ?",
                (
                    new.value,
                    now,
                    now,
                    reason,
                    now if new in lifecycle.FINAL else None,
                    run_id,
                    expected.value,
                ),
            ).rowcount
            if changed != 1:
                raise TransitionError(
                    f"train {current.train!r} is {current.status}, not {expected}: it was "
                    f"changed by another process, so this one does not make it {new}; possible "
                    f"now: {', '.join(lifecycle.ACTIONS.get(current.status, ())) or 'nothing'}"
                )
            run = _run_in(tx, run_id)
        assert run is not None
        return run

    def set_run_plan(self, run_id: int, plan: str, *, max_parallel: int, now: str) -> None:
        with self._write() as tx:
            tx.execute(
                "UPDATE runs SET plan = ?, max_parallel = ?, updated_at = ?, reason = NULL"
                " WHERE id = ?",
                (plan, max_parallel, now, run_id),
            )

    def update_plan(self, run_id: int, plan: str) -> None:
        """Replace the run's plan document (gate results evaluated during and after release)."""
        with self._write() as tx:
            tx.execute("UPDATE runs SET plan = ? WHERE id = ?", (plan, run_id))

    def request_pause(self, run_id: int, request: str | None) -> None:
        """Ask the running executor to stop before its next service (None clears the request).
        Not fenced: it is how another process (pause, rollback) talks to the holder."""
        with self._write(fenced=False) as tx:
            tx.execute("UPDATE runs SET pause_requested = ? WHERE id = ?", (request, run_id))

    def pause_request(self, run_id: int) -> str | None:
        rows = self._select("SELECT pause_requested FROM runs WHERE id = ?", (run_id,))
        return rows[0][0] if rows else None

    # --- steps -----------------------------------------------------------------------------

    def _step_select(self) -> str:
        return f"SELECT {', '.join(self.step_columns)} FROM steps"

    def add_steps(self, steps: Sequence[Step]) -> None:
        with self._write() as tx:
            tx.executemany(
                "INSERT INTO steps (run_id, service, position, status, from_version,"
                " to_version) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (run_id, service) DO NOTHING",
                [
                    (
                        s.run_id,
                        s.service,
                        s.position,
                        _value(s.status),
                        s.from_version,
                        s.to_version,
                    )
                    for s in steps
                ],
            )

    def steps(self, run_id: int) -> list[Step]:
        with self._read() as tx:
            rows = tx.execute(
                f"{self._step_select()} WHERE run_id = ? ORDER BY position", (run_id,)
            ).fetchall()
        return [step_of(r, self.step_columns) for r in rows]

    def update_step(self, run_id: int, service: str, **changes: Any) -> None:
        with self._write() as tx:
            update_step(tx, run_id, service, changes)

    def record(
        self,
        run_id: int,
        *,
        ts: str,
        kind: str,
        service: str | None,
        message: str,
        step: Mapping[str, Any] | None = None,
        deployed: tuple[str, str, str] | None = None,
        audit: AuditEntry | None = None,
        origin: str | None = None,
        adopt: Callable[[], Adoption] | None = None,
        outbox: Callable[[int], Sequence[OutboxRow]] | None = None,
    ) -> AuditRecord | None:
        """What the journal writes when something happens, in ONE (fenced) write transaction:
        the event, the change to `service`'s step it reports (if any), the version now
        deployed (`deployed`: environment, version, time; as record_release writes it), the
        notifications that announce it (`outbox`: made from the new event's id, their
        idempotency key) and its
        audit record (if audited; returned, for the caller to copy into its audit.log).

        On PostgreSQL the audit record is chained to the last one this store wrote without
        reading the head (chain.append_later's expected_head); when another process wrote one
        since, the server refuses, nothing is written, and it is written again after reading
        the head."""

        def write(expected_head: str | None) -> AuditRecord | None:
            with self._write() as tx:
                if step:
                    update_step(tx, run_id, service or "", step)
                if deployed is not None:
                    environment, version, at = deployed
                    set_deployed(tx, environment, service or "", version=version, now=at)
                add_event(tx, run_id, ts=ts, kind=kind, service=service, message=message)
                if outbox is not None:
                    row = tx.execute("SELECT MAX(id) FROM events WHERE run_id = ?", (run_id,))
                    insert_outbox(tx, outbox(int(row.fetchone()[0])))
                if audit is None:
                    return None
                committed = chain.append_later(
                    tx,
                    audit,
                    origin=origin,
                    adopt=adopt,
                    late=self.db.kind == "postgresql",
                    expected_head=expected_head,
                )
            return committed()  # read once committed: see chain.append_later

        hint = self._chain_head if self.db.kind == "postgresql" else None
        try:
            written = write(hint)
        except ChainMoved:  # another process appended since: nothing was written
            written = write(None)
        if written is not None:
            self._chain_head = written.hash
        return written

    def deploys_in_flight(self, services: Sequence[str]) -> list[Step]:
        """Steps of any run whose deployer command for one of `services` may still run."""
        if not services or "deploy_pgid" not in self.step_columns:
            return []
        marks = ",".join("?" * len(services))
        with self._read() as tx:
            rows = tx.execute(
                f"{self._step_select()} WHERE deploy_pgid IS NOT NULL AND service IN ({marks})"
                " ORDER BY run_id, position",
                tuple(services),
            ).fetchall()
        return [step_of(r, self.step_columns) for r in rows]

    def record_release(
        self, run_id: int, service: str, *, environment: str, version: str, now: str, **changes: Any
    ) -> None:
        """A step's new status and the environment's deployed version, in one transaction."""
        sets, values = _step_changes(changes)
        with self._write() as tx:
            tx.execute(
                f"UPDATE steps SET {sets} WHERE run_id = ? AND service = ?",
                (*values, run_id, service),
            )
            set_deployed(tx, environment, service, version=version, now=now)

    def service_steps(self, service: str) -> list[Step]:
        """`service`'s step in every run that had one, oldest run first."""
        with self._read() as tx:
            rows = tx.execute(
                f"{self._step_select()} WHERE service = ? ORDER BY run_id", (service,)
            ).fetchall()
        return [step_of(r, self.step_columns) for r in rows]

    def service_history(self, service: str, *, limit: int) -> list[tuple[Step, str, RunHead]]:
        """`service`'s step in the `limit` newest runs that had one, newest first, each with
        its run's train and head (no plan document is read)."""
        columns = ", ".join(
            [*(f"s.{c}" for c in self.step_columns), "r.train", *(f"r.{c}" for c in _HEAD_COLUMNS)]
        )
        width = len(self.step_columns)
        with self._read() as tx:
            rows = tx.execute(
                f"SELECT {columns} FROM steps s JOIN runs r ON r.id = s.run_id"
                " WHERE s.service = ? ORDER BY s.run_id DESC LIMIT ?",
                (service, limit),
            ).fetchall()
        out = []
        for row in rows:
            values = tuple(row)
            step = step_of(values[:width], self.step_columns)
            out.append((step, str(values[width]), RunHead(*values[width + 1 :])))
        return out

    def step_counts(
        self, train: str, *, run_ids: Sequence[int] | None = None
    ) -> dict[int, tuple[int, int]]:
        """run id -> (released steps, all steps) for every run of `train` (or only `run_ids`
        of it: a report counts the runs it shows, not a train's whole history), one query."""
        only = f" AND s.run_id IN ({','.join('?' * len(run_ids))})" if run_ids else ""
        if run_ids is not None and not run_ids:
            return {}
        with self._read() as tx:
            rows = tx.execute(
                "SELECT s.run_id, SUM(CASE WHEN s.status = 'released' THEN 1 ELSE 0 END),"
                " COUNT(*) FROM steps s JOIN runs r ON r.id = s.run_id WHERE r.train = ?"
                f"{only} GROUP BY s.run_id",
                (train, *(run_ids or ())),
            ).fetchall()
        return {int(r[0]): (int(r[1]), int(r[2])) for r in rows}

    def recent_runs(self, train: str, *, limit: int) -> tuple[list[RunHead], int]:
        """The `limit` newest runs of `train`, newest first, without their plan documents
        (a 1,000-service plan is ~200 KB: a report must not read one per past run), and how
        many runs the train has in all."""
        with self._read() as tx:
            rows = tx.execute(
                f"SELECT {', '.join(_HEAD_COLUMNS)} FROM runs WHERE train = ?"
                " ORDER BY id DESC LIMIT ?",
                (train, limit),
            ).fetchall()
            total = tx.execute("SELECT COUNT(*) FROM runs WHERE train = ?", (train,)).fetchone()
        return [RunHead(*tuple(r)) for r in rows], int(total[0])


# the step fields a write may change (the key fields never change)
_CHANGEABLE = frozenset(STEP_COLUMNS) - {"run_id", "service", "position"}


def update_step(tx: Tx, run_id: int, service: str, changes: Mapping[str, Any]) -> None:
    sets, values = _step_changes(changes)
    tx.execute(
        f"UPDATE steps SET {sets} WHERE run_id = ? AND service = ?", (*values, run_id, service)
    )


# A new start of an attempt makes the previous attempt's end meaningless: kept, it would sit
# before the start and give a negative duration. The writer clears it, whatever the caller.
_END_OF = {"started_at": "finished_at", "rollback_started_at": "rollback_finished_at"}


def _step_changes(changes: Mapping[str, Any]) -> tuple[str, tuple[Any, ...]]:
    unknown = set(changes) - _CHANGEABLE
    if unknown:
        raise ValueError(f"unknown step fields {unknown}")
    ends = {
        end: None
        for start, end in _END_OF.items()
        if changes.get(start) is not None and end not in changes
    }
    changes = {**changes, **ends}
    return ", ".join(f"{k} = ?" for k in changes), tuple(_value(v) for v in changes.values())
