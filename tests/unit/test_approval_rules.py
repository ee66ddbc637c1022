"""Approval gates below the CLI: the gate type in the catalog (every bad value named by its
key), the plan's one exception to "a required gate blocks", who may decide, the quorum, and
the timeline computed from a run's status events."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from release_trains.approvals import Tally, may_decide, person
from release_trains.catalog import load_catalog
from release_trains.errors import ValidationFailed
from release_trains.lifecycle import RunStatus
from release_trains.models import Gate, GateCheck
from release_trains.planning import plan_train
from release_trains.state import Event, Run
from release_trains.state.approvals import Vote
from release_trains.timeline import reason_kind, timeline

MakeRoot = Callable[..., Path]
SERVICES = {
    "services": [
        {
            "name": "a",
            "version": "1.0.0",
            "quality": {"score": 95, "coverage": 0.9, "open_critical_vulns": 0},
        }
    ]
}


def _root(make_root: MakeRoot, gate: Any) -> Path:
    train = {"name": "t", "target_version": "2.0.0", "participants": ["a"], "gates": [gate]}
    return make_root(
        {"catalog/release-trains.yaml": {"trains": [train]}, "catalog/service-index.yaml": SERVICES}
    )


def test_an_approval_gate_is_read_with_its_quorum_and_approvers(make_root: MakeRoot) -> None:
    gate = {"name": "uat", "type": "approval", "approvers": ["alice", "token:qa"]}
    catalog = load_catalog(_root(make_root, {**gate, "min_approvals": 2, "when": "before"}))
    (g,) = catalog.trains["t"].gates
    assert (g.check, g.when, g.min_approvals, g.approvers) == (
        GateCheck.APPROVAL, "before", 2, ("alice", "token:qa"),
    )  # fmt: skip
    (default,) = load_catalog(_root(make_root, gate)).trains["t"].gates
    assert (default.when, default.min_approvals) == ("after", 1)


@pytest.mark.parametrize(
    ("extra", "key", "words"),
    [
        ({"when": "during"}, "when", "not one of before, after"),
        ({"min_approvals": 0}, "min_approvals", "minimum"),
        ({"min_approvals": "two"}, "min_approvals", "integer"),
        ({"min_approvals": 3, "approvers": ["a", "b"]}, "min_approvals", "only 2 approvers"),
        ({"approvers": "alice"}, "approvers", "array"),
        ({"approvers": [" "]}, "approvers", "blank"),
        ({"required": False}, "gates[0]", "required"),
    ],
)
def test_bad_approval_gates_are_named_by_their_key(
    make_root: MakeRoot, extra: dict[str, Any], key: str, words: str
) -> None:
    with pytest.raises(ValidationFailed) as info:
        load_catalog(_root(make_root, {"name": "uat", "type": "approval", **extra}))
    (problem,) = info.value.problems
    assert "release-trains.yaml" in problem and key in problem and words in problem, problem


def test_in_a_plan_an_approval_gate_is_unknown_and_does_not_block(make_root: MakeRoot) -> None:
    root = _root(make_root, {"name": "uat", "type": "approval", "when": "before"})
    plan = plan_train(load_catalog(root), "t", now=datetime.now(timezone.utc))
    (result,) = [g for g in plan.gates if g.gate == "uat"]
    assert (result.outcome.value, result.detail) == ("unknown", "asked for during the run")
    assert plan.ready, plan.problems


def _gate(approvers: tuple[str, ...] = (), n: int = 2) -> Gate:
    return Gate("uat", GateCheck.APPROVAL, approvers=approvers, min_approvals=n)


def test_who_may_decide() -> None:
    named = _gate(("alice", "token:qa"))
    assert may_decide(named, "alice@laptop") and may_decide(named, "alice")
    assert may_decide(named, "token:qa")
    assert not may_decide(named, "bob@laptop")
    assert not may_decide(named, "token:alice")  # a token is not the user of that name
    assert not may_decide(named, "qa@host")  # nor a user the token of that name
    assert not may_decide(named, "alice-smith@host")
    assert may_decide(_gate(()), "anyone@anywhere")  # no list: whoever may act at all
    assert person("alice@a") == person("alice@b") == "alice"
    assert person("token:qa") == "token:qa"


def _vote(actor: str, decision: str = "approve") -> Vote:
    return Vote(1, "uat", actor, decision, None, "2026-12-01T09:00:00+00:00")


def test_the_quorum_counts_each_person_once_and_one_rejection_decides() -> None:
    gate = _gate(n=2)
    assert Tally(gate, (_vote("bob@a"),)).outcome == "open"
    assert Tally(gate, (_vote("bob@a"), _vote("bob@b"))).outcome == "open"  # one person
    assert Tally(gate, (_vote("bob@a"), _vote("carol@a"))).outcome == "approved"
    both = (_vote("bob@a"), _vote("carol@a"), _vote("dave@a", "reject"))
    assert Tally(gate, both).outcome == "rejected"


def _run(status: str, *, finished: str | None = None) -> Run:
    return Run(
        1, "t", RunStatus(status), "2026-12-01T09:00:00+00:00", "", finished, None, "alice@h",
        "{}", 1, None, None,
    )  # fmt: skip


def _status(i: int, minute: int, message: str) -> Event:
    return Event(i, 1, f"2026-12-01T09:{minute:02d}:00+00:00", "status", None, message)


def test_the_timeline_adds_up_phases_and_pauses_by_their_kind() -> None:
    events = [
        _status(1, 0, "planning -> validating"),
        _status(2, 1, "validating -> staging"),
        _status(3, 2, "staging -> executing"),
        _status(4, 5, "executing -> paused: frozen: change freeze until Monday"),
        _status(5, 15, "paused -> validating"),
        _status(6, 16, "validating -> staging"),
        _status(7, 16, "staging -> executing"),
        _status(8, 20, "executing -> verifying"),
        _status(9, 22, "verifying -> paused: awaiting approval: uat (0/2)"),
        _status(10, 52, "paused -> validating"),
        _status(11, 53, "validating -> staging"),
        _status(12, 53, "staging -> executing"),
        _status(13, 53, "executing -> verifying"),
        _status(14, 54, "verifying -> completed"),
    ]
    run = _run("completed", finished="2026-12-01T09:54:00+00:00")
    doc = timeline(
        run, events, estimated_s=1200, now=datetime(2026, 12, 1, 11, tzinfo=timezone.utc)
    )
    assert [(p["reason_kind"], p["duration_s"]) for p in doc["paused"]] == [
        ("freeze", 600), ("approval", 1800),
    ]  # fmt: skip
    assert doc["paused_totals_s"] == {"pause": 0, "freeze": 600, "approval": 1800}
    assert doc["phase_totals_s"] == {
        "validating": 180, "staging": 60, "executing": 420, "verifying": 180,
    }  # fmt: skip
    assert (doc["active_s"], doc["paused_s"], doc["elapsed_s"]) == (840, 2400, 3240)
    assert doc["over_estimate"] is False  # 14 minutes of work against 20: waits do not count


def test_an_interval_still_going_on_ends_now() -> None:
    events = [_status(1, 0, "planning -> validating"), _status(2, 1, "validating -> staging")]
    now = datetime(2026, 12, 1, 9, 11, tzinfo=timezone.utc)
    doc = timeline(_run("staging"), events, estimated_s=None, now=now)
    last = doc["phases"][-1]
    assert (last["phase"], last["finished_at"], last["duration_s"]) == ("staging", None, 600)
    assert doc["over_estimate"] is None  # no estimate: unknown, not "within"
    assert timeline(None, [], estimated_s=60, now=now)["elapsed_s"] is None


def test_pause_reasons_are_classified_by_how_they_start() -> None:
    assert reason_kind("awaiting approval: uat (1/2)") == "approval"
    assert reason_kind("frozen: release freeze (until 2026-12-24T00:00:00Z)") == "freeze"
    assert reason_kind("Freeze window xmas until 2026-12-27") == "freeze"
    assert reason_kind("paused by alice@h: error rate up") == "pause"
    assert reason_kind(None) == "pause"
