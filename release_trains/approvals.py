"""Approval gates: who may decide, the quorum, and recording a decision (`approve`, `reject`
and `POST /api/v1/release-trains/{train}/approvals` all call `decide`).

An approval gate is asked for during a run (executor/approval_gates.py): the run pauses with
the reason "awaiting approval: GATE (k/N)". A decision is accepted only while the train's
latest run waits for that very gate, and while the gate is still open (neither approved by
`min_approvals` actors nor rejected). Who may decide:

- `approvers` lists them: a user name matches the actor `NAME@host` (and the bare actor
  `NAME`); `token:NAME` matches the API token NAME. No `approvers`: anyone who can act on the
  train (on the API, the operator role; on the command line, whoever can write the store).
- The actor who started the run cannot approve it (they may reject it). The comparison is by
  person: `alice@laptop` started it, so `alice@build-host` cannot approve it either.
- One person counts once, from whichever machine (`bob@a` and `bob@b` are one approver):
  deciding again changes nothing.

A rejection fails the run at once (paused -> failed, through the one status writer); where
automatic rollback is on, the caller then rolls it back (the CLI in the foreground, the API
through a worker), as `Decision.rollback` says. What this module never does: print, exit, or
read the clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from . import audit
from .errors import ApprovalDeniedError, InputError, TransitionError, UnknownGateError
from .identity import host as this_host
from .journal import Journal
from .lifecycle import RunStatus
from .models import Catalog, Gate, GateCheck, Train
from .planning import find_train
from .state import AuditEntry, Run, Store
from .state.approvals import Vote

AWAITING = "awaiting approval"
DECISIONS = ("approve", "reject")


def approval_gates(train: Train) -> list[Gate]:
    return [g for g in train.gates if g.check is GateCheck.APPROVAL]


def awaiting_reason(gate: Gate, approved: int) -> str:
    """The pause reason of a run waiting for `gate` (CONTRACT: "awaiting approval: GATE (0/N)")."""
    return f"{AWAITING}: {gate.label} ({approved}/{gate.min_approvals})"


def awaited_gate(train: Train, run: Run | None) -> Gate | None:
    """The approval gate `run` is paused for, read from its pause reason; None otherwise."""
    if run is None or run.status != RunStatus.PAUSED or not run.reason:
        return None
    for gate in approval_gates(train):
        if run.reason.startswith(f"{AWAITING}: {gate.label} ("):
            return gate
    return None


@dataclass(frozen=True)
class Tally:
    gate: Gate
    votes: tuple[Vote, ...]

    @property
    def approvals(self) -> list[Vote]:
        """One per person: the first vote counts (the store records no second one)."""
        seen: set[str] = set()
        out = []
        for v in self.votes:
            if v.decision == "approve" and person(v.actor) not in seen:
                seen.add(person(v.actor))
                out.append(v)
        return out

    @property
    def rejections(self) -> list[Vote]:
        return [v for v in self.votes if v.decision == "reject"]

    @property
    def outcome(self) -> str:
        """approved | rejected | open. One rejection decides: a sign-off someone refused is
        not outvoted."""
        if self.rejections:
            return "rejected"
        if len(self.approvals) >= self.gate.min_approvals:
            return "approved"
        return "open"

    def count(self) -> str:
        return f"{len(self.approvals)}/{self.gate.min_approvals}"

    def describe(self) -> str:
        if self.rejections:
            v = self.rejections[0]
            return f"rejected by {v.actor}: {v.comment or ''}".rstrip(": ")
        who = ", ".join(v.actor for v in self.approvals) or "nobody yet"
        return f"approved by {who} ({self.count()})"


def tally(gate: Gate, votes: list[Vote] | tuple[Vote, ...]) -> Tally:
    return Tally(gate, tuple(v for v in votes if v.gate == gate.label))


def person(actor: str) -> str:
    """Who an actor is, whatever machine they act from: `NAME@host` -> NAME; `token:NAME`
    stays itself (a token is not a person's login)."""
    if actor.startswith("token:"):
        return actor
    return actor.rsplit("@", 1)[0] if "@" in actor else actor


def may_decide(gate: Gate, actor: str) -> bool:
    """Whether `actor` is one of the gate's approvers (no list: anyone who may act)."""
    if not gate.approvers:
        return True
    for approver in gate.approvers:
        if approver.startswith("token:"):
            if actor == approver:
                return True
        elif not actor.startswith("token:") and person(actor) == approver:
            return True
    return False


def find_gate(train: Train, name: str) -> Gate:
    for gate in approval_gates(train):
        if gate.label == name:
            return gate
    known = ", ".join(g.label for g in approval_gates(train)) or "none"
    raise UnknownGateError(
        f"train {train.name!r} has no approval gate {name!r} (its approval gates: {known})"
    )


def rollback_enabled(catalog: Catalog, train: Train) -> bool:
    """The train's rollback.enabled, else config rollback.enabled (default false), as the
    executor decides it (executor/context.py)."""
    enabled = train.rollback.enabled
    return catalog.config.rollback_enabled if enabled is None else bool(enabled)


@dataclass(frozen=True)
class Decision:
    """What `decide` did: the document `approve --json` / `reject --json` and the API answer
    with, and what the caller must do next (`resume`: the quorum is reached; `rollback`: the
    rejected run has deployed services and automatic rollback is on)."""

    train: str
    run_id: int
    gate: str
    decision: str
    actor: str
    counted: bool  # False: the actor had already decided; nothing was written
    outcome: str  # approved | rejected | open
    approvals: int
    min_approvals: int
    status: str  # the run's status after the decision
    message: str
    resume: bool
    rollback: bool

    def to_json(self) -> dict[str, Any]:
        return dict(vars(self))


def decide(
    catalog: Catalog,
    store: Store,
    train_name: str,
    *,
    gate_name: str,
    decision: str,
    comment: str | None,
    who: str,
    now: datetime,
    audit_path: Path,
    host: str | None = None,
) -> Decision:
    """Record `who`'s decision on the approval gate `gate_name` of the train's latest run.

    Unknown train or gate, a decision other than approve/reject, a rejection without a
    comment: exit 2. Not an approver, or approving one's own run: ApprovalDeniedError (exit 3,
    HTTP 403). The run not waiting for that gate, or the gate already decided: exit 3."""
    train = find_train(catalog, train_name)
    gate = find_gate(train, gate_name)
    if decision not in DECISIONS:
        raise InputError(f"decision {decision!r}: one of {', '.join(DECISIONS)}")
    text = comment.strip() if comment is not None else None
    if decision == "reject" and not text:
        raise InputError(
            "a rejection needs a reason: say why (it is the run's failure reason and lands in "
            "the audit log)"
        )
    run = store.latest_run(train.name)
    if run is None:
        raise TransitionError(
            f"train {train.name!r} has never run: its approval gate {gate.label!r} is asked for "
            "during a run"
        )
    if not may_decide(gate, who):
        raise ApprovalDeniedError(
            f"{who} is not an approver of gate {gate.label!r} of train {train.name!r} "
            f"(approvers: {', '.join(gate.approvers)})"
        )
    if decision == "approve" and person(who) == person(run.actor):
        raise ApprovalDeniedError(
            f"{who} started run {run.id} of train {train.name!r}: the actor who started a run "
            "cannot approve it; ask another approver"
        )
    ts = now.isoformat(timespec="milliseconds")

    def check(current: Run, votes: Any) -> None:
        """Inside the vote's transaction: the run still waits for this gate, which is open."""
        waiting = awaited_gate(train, current)
        if current.id != run.id or waiting is None or waiting.label != gate.label:
            raise TransitionError(
                f"train {train.name!r} (run {current.id}) is {current.status}"
                + (f" ({current.reason})" if current.reason else "")
                + f", not awaiting approval at gate {gate.label!r}: a decision is taken while "
                f"the run waits for it (a {gate.when} gate is asked for once "
                + ("staging is done)" if gate.when == "before" else "verifying is done)")
            )
        open_ = tally(gate, votes)
        if open_.outcome != "open":
            raise TransitionError(
                f"approval gate {gate.label!r} of train {train.name!r} is already "
                f"{open_.outcome} ({open_.describe()})"
                + (
                    f": run `release-trains resume {train.name}`"
                    if open_.outcome == "approved"
                    else ""
                )
            )

    verb = "approved" if decision == "approve" else "rejected"
    message = f"{gate.label}: {verb} by {who}" + (f": {text}" if text else "")
    entry = AuditEntry(
        ts,
        who,
        decision,
        train.name,
        None,
        {"gate": gate.label, "run_id": run.id, "decision": decision, "comment": text},
    )
    host = host if host is not None else this_host()
    origin = audit.origin_for(catalog.root, host=host)
    written: list[Any] = []

    def commit(adopt: Any) -> Any:
        result = store.record_vote(
            run_id=run.id,
            gate=gate.label,
            actor=who,
            decision=decision,
            comment=text,
            ts=ts,
            check=check,
            person=person,
            message=message,
            audit=entry,
            origin=origin,
            adopt=adopt,
        )
        written.append(result)
        return result.audit  # None when nothing new was written: no audit.log line

    audit.write(audit_path, commit)
    result = written[0]
    counted = tally(gate, result.votes)
    status, rollback = str(run.status), False
    if result.new and counted.outcome == "rejected":
        status, rollback = _fail(
            catalog, store, train, run, who=who, reason=text or "", gate=gate, now=now, host=host
        )
    text_ = _say(train, gate, counted, result.vote, new=result.new, status=status)
    if rollback:
        text_ += "; automatic rollback is on: it is rolled back now"
    return Decision(
        train=train.name,
        run_id=run.id,
        gate=gate.label,
        decision=result.vote.decision,
        actor=who,
        counted=result.new,
        outcome=counted.outcome,
        approvals=len(counted.approvals),
        min_approvals=gate.min_approvals,
        status=status,
        message=text_,
        resume=result.new and counted.outcome == "approved",
        rollback=rollback,
    )


def _say(train: Train, gate: Gate, counted: Tally, vote: Vote, *, new: bool, status: str) -> str:
    """What a decision did, in a sentence that says what happens next."""
    if not new:
        verb = "approved" if vote.decision == "approve" else "rejected"
        return (
            f"{vote.actor} already {verb} gate {gate.label!r} at {vote.ts}: one person counts "
            f"once ({counted.count()})"
        )
    if counted.outcome == "rejected":
        return f"gate {gate.label!r} rejected by {vote.actor}: train {train.name!r} is {status}"
    if counted.outcome == "approved":
        return (
            f"gate {gate.label!r} approved ({counted.count()}): run `release-trains resume "
            f"{train.name}` to carry the train on"
        )
    left = gate.min_approvals - len(counted.approvals)
    return (
        f"approval recorded ({counted.count()}): gate {gate.label!r} needs {left} more "
        f"approval{'s' if left > 1 else ''}"
    )


def _fail(
    catalog: Catalog,
    store: Store,
    train: Train,
    run: Run,
    *,
    who: str,
    reason: str,
    gate: Gate,
    now: datetime,
    host: str,
) -> tuple[str, bool]:
    """A rejected run fails now (nobody drives a paused run: this is the one writer's move
    paused -> failed, a compare-and-set); whether the caller must then roll it back."""
    journal = Journal(
        root=catalog.root,
        store=store,
        train=train.name,
        run_id=run.id,
        clock=lambda: now,
        who=who,
        host=host,
    )
    why = f"rejected at approval gate {gate.label} by {who}: {reason}"
    wants = rollback_enabled(catalog, train)
    from .rollback import deployed_steps  # here: `status` imports this module, not rollback

    deployed = bool(deployed_steps(store.steps(run.id)))
    if not wants:
        why += " (automatic rollback is disabled: no rollback ran)"
    elif not deployed:
        why += " (nothing was deployed: no rollback needed)"
    try:
        store.transition(
            run.id, expected=RunStatus.PAUSED, new=RunStatus.FAILED, now=journal.now(), reason=why
        )
        journal.event("status", f"paused -> failed: {why}", audited=True)
    finally:
        journal.close()
    return str(RunStatus.FAILED), wants and deployed


def refuse_unapproved(train: Train, run: Run | None, store: Store) -> None:
    """`resume` / `execute` of a run waiting for an approval that is not given yet: exit 3
    (it would only pause at the same gate again)."""
    gate = awaited_gate(train, run)
    if gate is None or run is None:
        return
    counted = tally(gate, store.votes(run.id, gate.label))
    if counted.outcome == "approved":
        return
    raise TransitionError(
        f"train {train.name!r} is paused, {AWAITING}: {gate.label} ({counted.count()}): it "
        f"carries on once approved (release-trains approve {train.name} --gate {gate.label})"
    )


def document(train: Train, run: Run | None, votes: list[Vote]) -> list[dict[str, Any]]:
    """`status --json` `approvals`: every approval gate of the train with its votes in the
    latest run. `outcome`: approved | rejected | awaiting (the run waits for it now) |
    not_asked (the run has not reached it, or never ran)."""
    waiting = awaited_gate(train, run)
    out = []
    for gate in approval_gates(train):
        counted = tally(gate, votes)
        outcome = counted.outcome
        if outcome == "open":
            outcome = "awaiting" if waiting is gate else "not_asked"
        out.append(
            {
                "gate": gate.label,
                "when": gate.when,
                "min_approvals": gate.min_approvals,
                "approvers": list(gate.approvers),
                "approved": len(counted.approvals),
                "votes": [
                    {"actor": v.actor, "decision": v.decision, "comment": v.comment, "ts": v.ts}
                    for v in counted.votes
                ],
                "outcome": outcome,
            }
        )
    return out


def gate_verdicts(train: Train, run: Run | None, votes: list[Vote]) -> dict[str, tuple[str, str]]:
    """gate -> (outcome, detail) as the gates list shows an approval gate now: pass once
    approved, fail once rejected, unknown while awaited or not asked yet (status, reports)."""
    waiting = awaited_gate(train, run)
    out = {}
    for gate in approval_gates(train):
        counted = tally(gate, votes)
        if counted.outcome == "approved":
            out[gate.label] = ("pass", counted.describe())
        elif counted.outcome == "rejected":
            out[gate.label] = ("fail", counted.describe())
        elif waiting is not None and waiting.label == gate.label:
            out[gate.label] = ("unknown", f"awaiting approval ({counted.count()})")
        elif run is None:
            out[gate.label] = ("unknown", "asked for during the run")
    return out
