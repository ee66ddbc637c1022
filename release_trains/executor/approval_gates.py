"""Approval gates during a run: a `before` gate is asked for once staging is done, before the
first deploy; an `after` gate once verifying is done, before `completed` (phases.py calls
`verdict` at those two points).

A gate already approved in this run lets the run carry on (so a resumed run never asks
again); one rejected fails it; an open one pauses it with the reason "awaiting approval: GATE
(k/N)" and records the `approval_requested` event that notifications pick up. The decisions
themselves are recorded by approvals.decide, never here."""

from __future__ import annotations

from dataclasses import dataclass

from ..approvals import approval_gates, awaiting_reason, tally
from ..gates import GateResult
from ..models import Gate, Outcome
from .context import RunContext
from .verification import record_gates


@dataclass(frozen=True)
class Verdict:
    """Why the run may not carry on past the approval gates of one point."""

    gate: Gate
    rejected: bool
    reason: str


def verdict(ctx: RunContext, when: str) -> Verdict | None:
    """The approval gates of `when` (before | after), in order: None when every one is
    approved, else the first that is rejected or still open."""
    for gate in (g for g in approval_gates(ctx.train) if g.when == when):
        counted = tally(gate, ctx.store.votes(ctx.run_id, gate.label))
        if counted.outcome == "approved":
            _record(ctx, gate, Outcome.PASS, counted.describe())
            ctx.journal.event("gate", f"{gate.label} ({when}): pass: {counted.describe()}")
            continue
        if counted.outcome == "rejected":
            _record(ctx, gate, Outcome.FAIL, counted.describe())
            return Verdict(gate, True, f"approval gate {gate.label}: {counted.describe()}")
        _record(ctx, gate, Outcome.UNKNOWN, f"awaiting approval ({counted.count()})")
        return Verdict(gate, False, awaiting_reason(gate, len(counted.approvals)))
    return None


def announce(ctx: RunContext, v: Verdict) -> None:
    """The `approval_requested` event (after the run is paused, so whoever reads it finds the
    train waiting), audited with the gate, its quorum and its approvers."""
    gate = v.gate
    who = ", ".join(gate.approvers) or "anyone with the operator role"
    ctx.journal.event(
        "approval_requested",
        f"{gate.label} ({gate.when}): {v.reason}; approvers: {who}",
        audited=True,
        audit_detail={
            "gate": gate.label,
            "when": gate.when,
            "min_approvals": gate.min_approvals,
            "approvers": list(gate.approvers),
            "run_id": ctx.run_id,
        },
    )


def reopen(ctx: RunContext) -> None:
    """A failed run executed again: its approval gates that were not approved (rejected, or
    still open) are asked afresh; an approved one stays approved."""
    votes = ctx.store.votes(ctx.run_id)
    stale = [g.label for g in approval_gates(ctx.train) if tally(g, votes).outcome != "approved"]
    if any(v.gate in stale for v in votes):
        ctx.store.clear_votes(ctx.run_id, stale)
        ctx.journal.event(
            "approval", f"asking again at {', '.join(stale)}: the run is executed again"
        )


def _record(ctx: RunContext, gate: Gate, outcome: Outcome, detail: str) -> None:
    record_gates(ctx, [GateResult(gate.label, True, outcome, detail, (), gate.when, approval=True)])
