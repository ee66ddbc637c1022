"""Approval decisions: one row per actor's vote on an approval gate of a run (`approve`,
`reject`, the API's approvals endpoint). The primary key makes one actor count once per
gate and run.

This module is the only writer of the table. A vote is recorded by `record_vote`, in ONE
write transaction with the run's event and the decision's audit record, after the caller's
`check` has looked at the run and the gate's votes inside that same transaction: two
approvers deciding at once are serialised, so a quorum is never counted from a stale read.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from . import chain
from .chain import Adoption
from .db import StoreBase, Tx
from .history import add_event
from .records import RUN_COLUMNS, AuditEntry, AuditRecord, Run, run_of

APPROVALS_TABLE = """CREATE TABLE IF NOT EXISTS approvals (
    run_id BIGINT NOT NULL,
    gate TEXT NOT NULL,
    actor TEXT NOT NULL,
    decision TEXT NOT NULL,          -- approve | reject
    comment TEXT,
    ts TEXT NOT NULL,
    PRIMARY KEY (run_id, gate, actor)
)"""

_VOTE_COLUMNS = "run_id, gate, actor, decision, comment, ts"


@dataclass(frozen=True)
class Vote:
    run_id: int
    gate: str
    actor: str
    decision: str  # approve | reject
    comment: str | None
    ts: str


@dataclass(frozen=True)
class VoteWrite:
    """What `record_vote` did: the vote now recorded for the actor (theirs from before when
    they had already decided: `new` is False), every vote of the gate after it, and the audit
    record written with a new vote."""

    vote: Vote
    new: bool
    votes: tuple[Vote, ...]
    audit: AuditRecord | None


def _votes_in(tx: Tx, run_id: int, gate: str | None = None) -> list[Vote]:
    if gate is None:
        rows = tx.execute(
            f"SELECT {_VOTE_COLUMNS} FROM approvals WHERE run_id = ? ORDER BY ts, actor",
            (run_id,),
        ).fetchall()
    else:
        rows = tx.execute(
            f"SELECT {_VOTE_COLUMNS} FROM approvals WHERE run_id = ? AND gate = ?"
            " ORDER BY ts, actor",
            (run_id, gate),
        ).fetchall()
    return [Vote(int(r[0]), r[1], r[2], r[3], r[4], r[5]) for r in rows]


class ApprovalsMixin(StoreBase):
    """The store's approval votes."""

    def votes(self, run_id: int, gate: str | None = None) -> list[Vote]:
        """The votes of run `run_id` (on `gate` only, when given), oldest first."""
        with self._read() as tx:
            return _votes_in(tx, run_id, gate)

    def record_vote(
        self,
        *,
        run_id: int,
        gate: str,
        actor: str,
        decision: str,
        comment: str | None,
        ts: str,
        check: Callable[[Run, Sequence[Vote]], None],
        person: Callable[[str], str] = lambda actor: actor,
        message: str,
        audit: AuditEntry,
        origin: str | None,
        adopt: Callable[[], Adoption] | None = None,
    ) -> VoteWrite:
        """Record `actor`'s decision on `gate` of run `run_id`, in one write transaction:
        `check(run, votes_of_the_gate)` first (it raises to refuse: the run moved on, the
        gate is already decided), then the vote, the run's `approval` event (`message`) and
        the audit record. An actor who already voted on the gate (the same `person`, from
        whichever machine) keeps that vote: nothing is written and `new` is False."""
        with self._write(fenced=False) as tx:  # a vote is no executor's write: no lease
            row = tx.execute(
                f"SELECT {', '.join(RUN_COLUMNS)} FROM runs WHERE id = ?", (run_id,)
            ).fetchone()
            if row is None:
                raise LookupError(f"run {run_id} is not in the state store")
            votes = _votes_in(tx, run_id, gate)
            mine = next((v for v in votes if person(v.actor) == person(actor)), None)
            if mine is not None:
                return VoteWrite(mine, False, tuple(votes), None)
            check(run_of(row), votes)
            tx.execute(
                f"INSERT INTO approvals ({_VOTE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
                (run_id, gate, actor, decision, comment, ts),
            )
            add_event(tx, run_id, ts=ts, kind="approval", service=None, message=message)
            record = chain.append(tx, audit, origin=origin, adopt=adopt)
            vote = Vote(run_id, gate, actor, decision, comment, ts)
            return VoteWrite(vote, True, (*votes, vote), record)

    def clear_votes(self, run_id: int, gates: Sequence[str]) -> None:
        """Forget the votes on `gates` of run `run_id`: a failed run executed again asks
        its undecided or rejected gates afresh (the audit log keeps every decision)."""
        if not gates:
            return
        marks = ",".join("?" * len(gates))
        with self._write() as tx:
            tx.execute(
                f"DELETE FROM approvals WHERE run_id = ? AND gate IN ({marks})",
                (run_id, *gates),
            )
