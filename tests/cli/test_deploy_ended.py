"""`--deploy-ended SERVICE` (execute, resume, rollback): the operator's explicit, audited way
past a deploy that a killed executor left recorded in flight on another host, which cannot be
checked from here. The declaration is refused (exit 2, nothing written) when it declares
nothing: the service has no deploy in flight, or its deploy is on this host, where the process
is checked instead. The two-host case on PostgreSQL is tests/e2e/test_two_hosts.py."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from release_trains import audit
from release_trains.state import Step, open_store

RunCli = Callable[..., Any]  # conftest.run_cli: (*args) -> CliResult(code, out, err)
TRAIN = "Q4-curve-upgrade"
SERVICES = ["curve-service", "backtesting-service", "scenario-service"]
HELD = "curve-service"
STAMP = "2026-01-05T09:00:00.000+00:00"
HERE = "host-here"
GONE = "host-gone"
OPERATOR = "ops@host-here"


@pytest.fixture(autouse=True)
def _this_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELEASE_TRAINS_HOST", HERE)
    monkeypatch.setenv("RELEASE_TRAINS_ACTOR", OPERATOR)


def left_in_flight(root: Path, *, status: str, host: str) -> None:
    """Run 1 of TRAIN in `status`, its step of HELD carrying the record a deploy command
    leaves while it runs (process group 4242 on `host`), as an executor killed mid-deploy
    leaves it."""
    store = open_store(None, root, create=True)
    assert store is not None
    try:
        run = store.create_run(
            train=TRAIN, status=status, actor="op@h", plan="{}", max_parallel=1, now=STAMP
        )
        store.add_steps(
            [
                Step(run.id, name, i, "deploying" if name == HELD else "pending", "1.0.0", "2.0.0")
                for i, name in enumerate(SERVICES)
            ]
        )
        store.update_step(run.id, HELD, deploy_pgid=4242, deploy_host=host, deploy_started_at=STAMP)
    finally:
        store.close()


def in_flight(root: Path) -> list[tuple[int, str, int | None, str | None]]:
    store = open_store(None, root, create=False)
    assert store is not None
    try:
        return [
            (s.run_id, s.service, s.deploy_pgid, s.deploy_host)
            for s in store.deploys_in_flight(SERVICES)
        ]
    finally:
        store.close()


def runs_and_locks(root: Path) -> tuple[list[tuple[int, str]], int]:
    store = open_store(None, root, create=False)
    assert store is not None
    try:
        return [(r.id, r.status) for r in store.runs(TRAIN)], len(store.locks(TRAIN))
    finally:
        store.close()


def audit_records(root: Path) -> list[dict[str, Any]]:
    path = audit.path_for(root)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


COMMANDS = {
    "execute": ("execute", TRAIN),
    "resume": ("resume", TRAIN),
    "rollback": ("rollback", TRAIN, "--reason", "bad curve data"),
}


@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_deploy_on_this_host_is_checked_not_declared_exit_2(
    sample_root: Path, run_cli: RunCli, command: str
) -> None:
    left_in_flight(sample_root, status="paused", host=HERE)
    before = runs_and_locks(sample_root)
    result = run_cli("--root", sample_root, *COMMANDS[command], "--deploy-ended", HELD)
    assert result.code == 2, result
    err = " ".join(result.err.split())
    assert f"the deploy of {HELD} is on this host ({HERE}): it is checked, not declared" in err
    assert "Traceback" not in result.err
    # nothing written: the record, the runs, the locks and the audit log are as they were
    assert in_flight(sample_root) == [(1, HELD, 4242, HERE)]
    assert runs_and_locks(sample_root) == before
    assert audit_records(sample_root) == []


@pytest.mark.parametrize("command", list(COMMANDS))
def test_declaring_a_service_with_no_deploy_in_flight_is_exit_2(
    sample_root: Path, run_cli: RunCli, command: str
) -> None:
    left_in_flight(sample_root, status="paused", host=GONE)
    before = runs_and_locks(sample_root)
    result = run_cli(
        "--root", sample_root, *COMMANDS[command], "--deploy-ended", "scenario-service"
    )
    assert result.code == 2, result
    err = " ".join(result.err.split())
    assert "no deploy of scenario-service is recorded in flight" in err, result
    assert f"in flight: {HELD} on {GONE}" in err, result  # says what could be declared
    assert in_flight(sample_root) == [(1, HELD, 4242, GONE)]
    assert runs_and_locks(sample_root) == before
    assert audit_records(sample_root) == []


def test_the_refusal_names_the_host_and_the_flag_that_declares_it_ended(
    sample_root: Path, run_cli: RunCli
) -> None:
    left_in_flight(sample_root, status="rolled_back", host=GONE)
    result = run_cli("--root", sample_root, "execute", TRAIN)
    assert result.code == 3, result
    err = " ".join(result.err.split())
    assert f"process group 4242 on {GONE}" in err and f"run this command on {GONE}" in err
    assert f"if {GONE} is gone for good, or you checked that nothing runs there" in err
    assert f"release-trains execute {TRAIN} --deploy-ended {HELD}" in err, result
    assert in_flight(sample_root) == [(1, HELD, 4242, GONE)]
    assert [r["action"] for r in audit_records(sample_root)] == []


def test_a_declared_deploy_is_cleared_audited_and_the_train_carries_on(
    sample_root: Path, run_cli: RunCli
) -> None:
    left_in_flight(sample_root, status="rolled_back", host=GONE)
    result = run_cli("--root", sample_root, "execute", TRAIN, "--deploy-ended", HELD)
    assert result.code == 0, result
    assert in_flight(sample_root) == []
    assert runs_and_locks(sample_root) == ([(1, "rolled_back"), (2, "completed")], 0)

    [declared] = [r for r in audit_records(sample_root) if r["action"] == "deploy-declared-ended"]
    assert (declared["actor"], declared["train"], declared["service"]) == (OPERATOR, TRAIN, HELD)
    assert declared["detail"] == {
        "run_id": 1,
        "service": HELD,
        "host": GONE,
        "process_group": 4242,
        "started_at": STAMP,
        "declared_from": HERE,
    }
    store = open_store(None, sample_root, create=False)
    assert store is not None
    try:
        [event] = [e for e in store.events(1) if e.kind == "deploy-declared-ended"]
    finally:
        store.close()
    assert event.service == HELD
    assert f"{OPERATOR} declared that the deploy of {HELD}" in event.message
    assert run_cli("--root", sample_root, "audit", "--verify").code == 0


@pytest.mark.parametrize("command", ["execute", "rollback"])
def test_deploy_ended_does_not_go_with_dry_run(
    sample_root: Path, run_cli: RunCli, command: str
) -> None:
    left_in_flight(sample_root, status="rolled_back", host=GONE)
    result = run_cli("--root", sample_root, command, TRAIN, "--dry-run", "--deploy-ended", HELD)
    assert result.code == 2, result
    assert "does not go with --dry-run" in " ".join(result.err.split()), result
    assert in_flight(sample_root) == [(1, HELD, 4242, GONE)]


def test_rollback_past_a_declared_deploy_rolls_back(sample_root: Path, run_cli: RunCli) -> None:
    assert run_cli("--root", sample_root, "execute", TRAIN).code == 0
    store = open_store(None, sample_root, create=True)
    assert store is not None
    try:  # a rollback's deploy command, say, left recorded by a host that is gone
        store.update_step(1, HELD, deploy_pgid=4343, deploy_host=GONE, deploy_started_at=STAMP)
    finally:
        store.close()
    refused = run_cli("--root", sample_root, "rollback", TRAIN, "--reason", "bad curve data")
    assert refused.code == 3, refused
    again = f"release-trains rollback {TRAIN} --reason '...' --deploy-ended {HELD}"
    assert again in " ".join(refused.err.split()), refused

    result = run_cli(
        "--root", sample_root, "rollback", TRAIN, "--reason", "bad curve data",
        "--deploy-ended", HELD,
    )  # fmt: skip
    assert result.code == 0, result
    assert in_flight(sample_root) == []
    actions = [r["action"] for r in audit_records(sample_root)]
    assert actions.index("deploy-declared-ended") < actions.index("rollback"), actions
    assert runs_and_locks(sample_root) == ([(1, "rolled_back")], 0)
