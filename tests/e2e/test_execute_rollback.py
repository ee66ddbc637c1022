"""End to end: manual `release-trains rollback` after a completed train, with the recording
deploy script (the default rollback deploys the recorded previous version)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from e2e_support import FROM, TARGET, TRAIN, Project, chain, make_project, wait_for_calls
from helpers import wait_until

SERVICES = ["a", "b", "c"]


def _released(tmp_path: Path) -> Project:
    p = make_project(tmp_path, services=chain(SERVICES))
    done = p.run("execute", TRAIN)
    assert done.code == 0, done
    assert p.called() == [(s, TARGET) for s in SERVICES]
    return p


def _snapshot(p: Project) -> tuple[str, int, list[tuple[str, str]], tuple[str, str | None] | None]:
    return (
        hashlib.sha256(p.db.read_bytes()).hexdigest(),
        len(p.audit_lines()),
        p.called(),
        p.run_status(),
    )


def test_rollback_dry_run_then_rollback_dependents_first(tmp_path: Path) -> None:
    p = _released(tmp_path)

    before = _snapshot(p)
    dry = p.run("rollback", TRAIN, "--reason", "r", "--dry-run", "--json")
    assert dry.code == 0, dry
    doc = dry.json()
    assert doc["train"] == TRAIN and doc["dry_run"] is True and doc["reason"] == "r"
    assert doc["order"] == ["c", "b", "a"]
    assert [(s["service"], s["from_version"], s["to_version"]) for s in doc["services"]] == [
        ("c", TARGET, FROM),
        ("b", TARGET, FROM),
        ("a", TARGET, FROM),
    ]
    assert _snapshot(p) == before  # state bytes, audit log, deploy record, status: unchanged

    # A subset that would leave dependents on a version whose dependency went back: refused.
    partial = p.run("rollback", TRAIN, "--reason", "r", "--service", "a")
    assert partial.code == 1, partial
    text = partial.out + partial.err
    assert "b" in text and "c" in text and "depends on a" in text, partial
    assert p.called() == before[2]
    assert p.run_status() == ("completed", None)

    real = p.run("rollback", TRAIN, "--reason", "r", "--json")
    assert real.code == 0, real
    doc = real.json()
    assert doc["order"] == ["c", "b", "a"]
    assert {s["service"]: s["outcome"] for s in doc["services"]} == dict.fromkeys(
        SERVICES, "rolled_back"
    )
    assert p.called()[3:] == [
        ("c", FROM),
        ("b", FROM),
        ("a", FROM),
    ]  # previous versions, dependents first
    assert {s: p.deployed(s) for s in SERVICES} == dict.fromkeys(SERVICES, FROM)
    assert p.query("SELECT status FROM runs") == [("rolled_back",)]
    assert p.steps()["a"]["status"] == "rolled_back"
    assert p.run("audit", "--verify").code == 0
    assert p.integrity() == "ok"


def test_failed_rollback_names_what_is_left_and_force_retries_it(tmp_path: Path) -> None:
    p = _released(tmp_path)
    flag = p.fail("b", FROM)  # going back to 1.0.0 fails for b

    failed = p.run("rollback", TRAIN, "--reason", "r", "--json")
    assert failed.code == 1, failed
    doc = failed.json()
    assert doc["status"] == "failed"
    assert {s["service"]: s["outcome"] for s in doc["services"]} == {
        "c": "rolled_back",
        "b": "failed",
        "a": "not_started",
    }
    assert "still on the new version: a, b" in doc["detail"], doc["detail"]
    assert p.called()[3:] == [("c", FROM), ("b", FROM)]  # stopped at the failure
    assert p.query("SELECT status FROM runs") == [("failed",)]
    assert (p.deployed("a"), p.deployed("b"), p.deployed("c")) == (TARGET, TARGET, FROM)

    # Without --force a failed rollback is not retried.
    again = p.run("rollback", TRAIN, "--reason", "r")
    assert again.code == 3, again
    assert "--force" in again.err, again
    assert p.called()[5:] == []

    flag.unlink()
    forced = p.run("rollback", TRAIN, "--reason", "retry", "--force", "--json")
    assert forced.code == 0, forced
    assert forced.json()["order"] == ["b", "a"]
    assert p.called()[5:] == [("b", FROM), ("a", FROM)]  # c, already back, is not touched
    assert {s: p.deployed(s) for s in SERVICES} == dict.fromkeys(SERVICES, FROM)
    assert p.query("SELECT status FROM runs") == [("rolled_back",)]
    assert p.run("audit", "--verify").code == 0


def test_partial_rollback_leaves_the_rest_rollbackable(tmp_path: Path) -> None:
    p = _released(tmp_path)

    leaf = p.run("rollback", TRAIN, "--reason", "only c", "--service", "c", "--json")
    assert leaf.code == 0, leaf
    assert p.called()[3:] == [("c", FROM)]
    assert (p.deployed("a"), p.deployed("b"), p.deployed("c")) == (TARGET, TARGET, FROM)

    rest = p.run("rollback", TRAIN, "--reason", "the rest")
    assert rest.code == 0, rest
    assert p.called()[4:] == [("b", FROM), ("a", FROM)]
    assert {s: p.deployed(s) for s in SERVICES} == dict.fromkeys(SERVICES, FROM)


@pytest.mark.slow
def test_rollback_while_executing_stops_the_executor_first(tmp_path: Path, start) -> None:
    services = ["a", "b", "c", "d"]
    p = make_project(tmp_path, services=chain(services), sleep_s=0.5)
    hold = p.hold("a")
    executor = start(p, "execute", TRAIN, name="executor")
    wait_for_calls(p, 1, proc=executor)

    rollback = start(p, "rollback", TRAIN, "--reason", "abort", "--json", name="rollback")
    # it asks the executor to stop, then waits for it
    wait_until(
        lambda: (
            bool(p.query("SELECT 1 FROM runs WHERE pause_requested IS NOT NULL"))
            or rollback.proc.poll() is not None
        ),
        timeout_s=15,
        what="the rollback asking the executor to stop",
    )
    assert p.called() == [("a", TARGET)]
    hold.unlink()
    stopped = executor.wait(timeout_s=20)
    rolled = rollback.wait(timeout_s=20)
    assert stopped.code == 1, stopped  # it stopped before its next service
    assert rolled.code == 0, rolled
    deployed = [s for s, v in p.called() if v == TARGET]
    assert deployed == ["a"], p.called()
    # every deployed service went back, dependents first, and only after the deploys ended
    assert p.called()[len(deployed) :] == [(s, FROM) for s in reversed(deployed)]
    assert rolled.json()["order"] == list(reversed(deployed))
    assert {s: p.deployed(s) for s in deployed} == dict.fromkeys(deployed, FROM)
    assert p.query("SELECT status FROM runs") == [("rolled_back",)]
    assert not p.query("SELECT * FROM locks")
    assert p.run("audit", "--verify").code == 0


def test_rollback_point_is_what_the_deployer_reported_not_the_catalog(tmp_path: Path) -> None:
    p = make_project(tmp_path, services=chain(["a", "b"]))
    p.versions.mkdir(parents=True)
    (p.versions / "a").write_text("1.5.0\n", encoding="utf-8")  # a runs 1.5.0, catalog says 1.0.0

    done = p.run("execute", TRAIN, "--json")
    assert done.code == 0, done
    assert [(s["service"], s["from_version"]) for s in done.json()["services"]] == [
        ("a", "1.5.0"),
        ("b", FROM),
    ]
    back = p.run("rollback", TRAIN, "--reason", "r", "--json")
    assert back.code == 0, back
    assert p.called()[2:] == [("b", FROM), ("a", "1.5.0")]
    assert (p.deployed("a"), p.deployed("b")) == ("1.5.0", FROM)
