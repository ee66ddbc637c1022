"""Approval gates end to end (issue 15, part 3): the real console script in subprocesses, a
real deploy script, actors set with RELEASE_TRAINS_ACTOR; then the same over HTTP against a
real `release-trains serve` with two operator tokens, its in-process worker resuming the
train at quorum and rolling it back on a rejection."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from e2e_support import FROM, TARGET, TRAIN, Project, chain, make_project
from test_api_server import serve
from test_api_workers import API, client, poll, token

pytestmark = pytest.mark.slow

GATE = "uat-signoff"


def approval_project(
    tmp_path: Path,
    *,
    approvers: list[str] | None,
    when: str = "after",
    min_approvals: int = 2,
    rollback: bool = True,
    name: str = "project",
) -> Project:
    gate: dict[str, Any] = {"name": GATE, "type": "approval", "when": when}
    gate["min_approvals"] = min_approvals
    if approvers is not None:
        gate["approvers"] = approvers
    train = {
        "name": TRAIN,
        "target_version": TARGET,
        "participants": ["a", "b"],
        "gates": [gate],
        "rollback": {"enabled": rollback},
        "estimated_duration": "30m",
    }
    return make_project(tmp_path, services=chain(["a", "b"]), trains=[train], name=name)


def as_actor(project: Project, actor: str, *args: str) -> Any:
    return project.run(*args, env={"RELEASE_TRAINS_ACTOR": actor})


def audit_records(project: Project) -> list[dict[str, Any]]:
    return [json.loads(line) for line in project.audit_lines()]


def test_an_after_gate_with_two_approvals_on_the_command_line(tmp_path: Path) -> None:
    project = approval_project(tmp_path, approvers=["alice", "bob", "carol"])
    plan = project.run("plan", TRAIN, "--json")
    assert plan.code == 0, plan  # the approval gate does not make the plan not ready
    gate = next(g for g in plan.json()["gates"] if g["gate"] == GATE)
    assert (gate["outcome"], gate["detail"]) == ("unknown", "asked for during the run")

    run = as_actor(project, "alice@host-1", "execute", TRAIN)
    assert run.code == 1, run  # paused: not completed
    assert project.run_status() == ("paused", f"awaiting approval: {GATE} (0/2)")
    assert project.called() == [("a", TARGET), ("b", TARGET)]  # `after`: everything deployed
    requested = project.events("approval_requested")
    assert len(requested) == 1 and GATE in requested[0][2]

    # the actor who started the run cannot approve it, from any machine
    own = as_actor(project, "alice@host-2", "approve", TRAIN, "--gate", GATE)
    assert own.code == 3, own
    assert "cannot approve" in own.err
    outsider = as_actor(project, "mallory@host-1", "approve", TRAIN, "--gate", GATE)
    assert outsider.code == 3, outsider
    assert "not an approver" in outsider.err
    unknown = as_actor(project, "bob@host-1", "approve", TRAIN, "--gate", "nope")
    assert unknown.code == 2, unknown

    first = as_actor(
        project, "bob@host-1", "approve", TRAIN, "--gate", GATE, "--comment", "UAT green", "--json"
    )
    assert first.code == 0, first
    assert (first.json()["approvals"], first.json()["outcome"]) == (1, "open")
    # the same approver twice counts once, from whichever machine
    for bob in ("bob@host-1", "bob@host-2"):
        again = as_actor(project, bob, "approve", TRAIN, "--gate", GATE, "--json")
        assert again.code == 0, again
        assert (again.json()["counted"], again.json()["approvals"]) == (False, 1), again
    assert project.run_status() == ("paused", f"awaiting approval: {GATE} (0/2)")
    early = project.run("resume", TRAIN)
    assert early.code == 3, early  # not approved yet: it would only ask again
    assert "awaiting approval" in early.err

    status = project.run("status", TRAIN, "--json").json()
    (shown,) = status["approvals"]
    assert (shown["outcome"], shown["approved"], shown["min_approvals"]) == ("awaiting", 1, 2)
    assert [(v["actor"], v["decision"], v["comment"]) for v in shown["votes"]] == [
        ("bob@host-1", "approve", "UAT green")
    ]

    second = as_actor(project, "carol@host-3", "approve", TRAIN, "--gate", GATE, "--resume")
    assert second.code == 0, second  # the quorum is reached and --resume carries it on here
    assert project.run_status() is not None and project.run_status()[0] == "completed"  # type: ignore[index]
    assert project.called() == [("a", TARGET), ("b", TARGET)]  # nothing deployed twice
    assert len(project.events("approval_requested")) == 1  # satisfied: not asked again
    late = as_actor(project, "dave@host-1", "approve", TRAIN, "--gate", GATE)
    assert late.code == 3, late  # the run no longer waits for it

    decisions = [r for r in audit_records(project) if r["action"] in ("approve", "reject")]
    assert [(r["actor"], r["detail"]["gate"], r["detail"]["comment"]) for r in decisions] == [
        ("bob@host-1", GATE, "UAT green"),
        ("carol@host-3", GATE, None),
    ]
    assert project.run("audit", "--verify").code == 0

    final = project.run("status", TRAIN, "--json").json()
    assert final["approvals"][0]["outcome"] == "approved"
    gate_item = next(g for g in final["gates"]["items"] if g["gate"] == GATE)
    assert gate_item["outcome"] == "pass"
    timeline = final["timeline"]
    assert [p["phase"] for p in timeline["phases"]][:4] == [
        "validating", "staging", "executing", "verifying",
    ]  # fmt: skip
    (wait,) = timeline["paused"]
    assert wait["reason_kind"] == "approval" and wait["reason"].startswith("awaiting approval")
    assert wait["to"] is not None and wait["duration_s"] >= 0
    assert timeline["paused_s"] == timeline["paused_totals_s"]["approval"]
    assert timeline["estimated_duration_s"] == 1800
    assert timeline["elapsed_s"] >= timeline["active_s"] + timeline["paused_s"] - 0.01
    human = project.run("status", TRAIN).out
    assert f"approved: {GATE} (after, 2/2 approvals" in human
    assert "bob@host-1 approve: UAT green" in human
    assert "paused (approval " in human and "Time:" in human


def test_a_rejection_fails_the_run_and_rolls_it_back(tmp_path: Path) -> None:
    project = approval_project(tmp_path, approvers=["alice", "bob"])
    assert as_actor(project, "alice@h", "execute", TRAIN).code == 1
    assert project.deployed("a") == TARGET and project.deployed("b") == TARGET
    blank = as_actor(project, "bob@h", "reject", TRAIN, "--gate", GATE, "--reason", "  ")
    assert blank.code == 2, blank  # a rejection says why

    # the actor who started the run may reject it (only approving it is refused)
    no = as_actor(project, "alice@h", "reject", TRAIN, "--gate", GATE, "--reason", "prices off")
    assert no.code == 0, no
    assert project.run_status() is not None and project.run_status()[0] == "rolled_back"  # type: ignore[index]
    assert project.deployed("a") == FROM and project.deployed("b") == FROM
    records = audit_records(project)
    (rejected,) = [r for r in records if r["action"] == "reject"]
    assert rejected["actor"] == "alice@h" and rejected["detail"]["comment"] == "prices off"
    assert any(r["action"] == "rollback-start" for r in records)
    after = as_actor(project, "bob@h", "approve", TRAIN, "--gate", GATE)
    assert after.code == 3, after  # decided: the run is over


def test_a_before_gate_stops_ahead_of_the_first_deploy(tmp_path: Path) -> None:
    project = approval_project(tmp_path, approvers=None, when="before", min_approvals=1)
    assert as_actor(project, "alice@h", "execute", TRAIN).code == 1
    assert project.run_status() == ("paused", f"awaiting approval: {GATE} (0/1)")
    assert project.called() == []  # nothing deployed before the sign-off
    # no approvers listed: anyone may decide (but not the one who started it)
    ok = as_actor(project, "zoe@h", "approve", TRAIN, "--gate", GATE, "--json")
    assert ok.code == 0 and ok.json()["outcome"] == "approved", ok
    resumed = project.run("resume", TRAIN)
    assert resumed.code == 0, resumed
    assert project.called() == [("a", TARGET), ("b", TARGET)]


def test_the_same_story_through_the_api_with_two_operator_tokens(tmp_path: Path) -> None:
    project = approval_project(tmp_path, approvers=["token:qa-1", "token:qa-2", "token:ops"])
    ops, qa1, qa2 = (token(project, n, "operator") for n in ("ops", "qa-1", "qa-2"))
    viewer = token(project, "watcher", "viewer")
    server = serve(project)  # one in-process worker
    try:
        with client(server, ops) as c, client(server, qa1) as q1, client(server, qa2) as q2:
            path = f"{API}/release-trains/{TRAIN}"
            assert c.post(f"{path}/execute", json={}).status_code == 202
            poll(c, f"{path}/status", lambda d: d.get("status") == "paused", what="the pause")
            snap = c.get(f"{API}/monitoring/release-trains/{TRAIN}").json()
            assert snap["reason"] == f"awaiting approval: {GATE} (0/2)"
            assert snap["approvals"][0]["outcome"] == "awaiting"

            body = {"gate": GATE, "decision": "approve", "comment": "mine"}
            own = c.post(f"{path}/approvals", json=body)
            assert own.status_code == 403, own.text  # token:ops started the run
            with client(server, viewer) as v:
                assert v.post(f"{path}/approvals", json=body).status_code == 403  # role
            missing = q1.post(f"{path}/approvals", json={**body, "gate": "nope"})
            assert missing.status_code == 404, missing.text
            bare = q1.post(f"{path}/approvals", json={"gate": GATE, "decision": "reject"})
            assert bare.status_code == 400, bare.text  # a rejection needs its reason

            one = q1.post(f"{path}/approvals", json={**body, "comment": "looks right"})
            assert one.status_code == 200, one.text
            assert (one.json()["approvals"], one.json()["job"]) == (1, None)
            twice = q1.post(f"{path}/approvals", json=body)
            assert twice.status_code == 200 and twice.json()["counted"] is False, twice.text
            two = q2.post(f"{path}/approvals", json={"gate": GATE, "decision": "approve"})
            assert two.status_code == 202, two.text  # the quorum: a worker resumes it
            job = two.json()["job"]
            assert job["kind"] == "resume"
            poll(c, f"{path}/status", lambda d: d.get("status") == "completed", what="completion")
            done = poll(
                c, f"{API}/jobs/{job['job_id']}", lambda d: d["status"] == "done", what="job"
            )
            assert done["requested_by"] == "token:qa-2"
            audit = c.get(f"{API}/audit", params={"train": TRAIN}).json()
            records = audit["records"] if isinstance(audit, dict) else audit
            decisions = [(r["actor"], r["action"]) for r in records if r["action"] == "approve"]
            assert decisions == [("token:qa-1", "approve"), ("token:qa-2", "approve")]
        assert project.called() == [("a", TARGET), ("b", TARGET)]
    finally:
        assert server.stop() == 0


def test_a_rejection_through_the_api_rolls_the_train_back_by_a_worker(tmp_path: Path) -> None:
    project = approval_project(tmp_path, approvers=["token:qa-1"], min_approvals=1)
    ops, qa1 = (token(project, n, "operator") for n in ("ops", "qa-1"))
    server = serve(project)
    try:
        with client(server, ops) as c, client(server, qa1) as q1:
            path = f"{API}/release-trains/{TRAIN}"
            assert c.post(f"{path}/execute", json={}).status_code == 202
            poll(c, f"{path}/status", lambda d: d.get("status") == "paused", what="the pause")
            no = q1.post(
                f"{path}/approvals", json={"gate": GATE, "decision": "reject", "comment": "no"}
            )
            assert no.status_code == 202, no.text
            assert no.json()["job"]["kind"] == "rollback"
            poll(c, f"{path}/status", lambda d: d.get("status") == "rolled_back", what="rollback")
        assert project.deployed("a") == FROM and project.deployed("b") == FROM
        (rejected,) = [r for r in audit_records(project) if r["action"] == "reject"]
        assert rejected["actor"] == "token:qa-1" and rejected["detail"]["comment"] == "no"
    finally:
        assert server.stop() == 0


def test_without_automatic_rollback_a_rejection_fails_and_a_retry_asks_again(
    tmp_path: Path,
) -> None:
    project = approval_project(tmp_path, approvers=["bob", "carol"], rollback=False)
    assert as_actor(project, "alice@h", "execute", TRAIN).code == 1
    assert as_actor(project, "carol@h", "approve", TRAIN, "--gate", GATE).code == 0
    no = as_actor(project, "bob@h", "reject", TRAIN, "--gate", GATE, "--reason", "not yet")
    assert no.code == 0, no
    status, reason = project.run_status()  # type: ignore[misc]
    assert status == "failed"
    assert reason.startswith(f"rejected at approval gate {GATE} by bob@h: not yet")
    assert "automatic rollback is disabled" in reason
    assert project.deployed("a") == TARGET  # nothing rolled back

    again = as_actor(project, "alice@h", "execute", TRAIN)  # a new attempt of the same run
    assert again.code == 1, again
    assert project.run_status() == ("paused", f"awaiting approval: {GATE} (0/2)")
    assert project.called() == [("a", TARGET), ("b", TARGET)]  # nothing deployed twice
    shown = project.run("status", TRAIN, "--json").json()["approvals"][0]
    assert (shown["outcome"], shown["votes"]) == ("awaiting", [])  # asked afresh
