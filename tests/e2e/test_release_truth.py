"""End to end: a release is only called done when it is, and two deploys of one service never
overlap (issue 10, "Deploying twice, or calling a release done when it is not").

- a deploy left running by `kill -9` of its executor is waited for by the next run;
- "already released" means released at the version this run targets;
- a deploy that exits 0 while current_version still reports the old version fails;
- staging checks the rollback point's artifact too;
- the rollback timeout cuts the rollback command in flight;
- a retried step never shows the last attempt's end time;
- an unset `${VAR}` fails the run in validating;
- validation.health_check_timeout bounds one service's whole health verification.
"""

from __future__ import annotations

import os
import shlex
import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

import yaml
from e2e_support import (
    FROM,
    TARGET,
    TRAIN,
    Background,
    Project,
    chain,
    make_project,
    wait_for_calls,
    write_yaml,
)
from helpers import Reply, process_gone, serve, wait_until, write_script


def overlaps(project: Project) -> list[str]:
    """Services whose deploy started while another deploy of them was still running."""
    running: Counter[str] = Counter()
    bad = []
    for line in project.timeline_lines():
        edge, service = line.split()
        if edge == "start":
            running[service] += 1
            if running[service] > 1:
                bad.append(service)
        else:
            running[service] -= 1
    return bad


def edit_config(project: Project, change: Any) -> None:
    path = project.root / "config" / "upgrade-policies.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(doc["release_trains"])
    write_yaml(path, doc)


def edit_trains(project: Project, change: Any) -> None:
    path = project.root / "catalog" / "release-trains.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(doc["trains"][0])
    write_yaml(path, doc)


def wait_for_recorded_group(project: Project, service: str) -> int:
    """The deploy's process group as the executor recorded it with the step (a kill before
    that write lands is the one moment an orphan goes unrecorded: see the executor)."""
    rows: list[tuple[Any, ...]] = []

    def recorded() -> bool:
        rows[:] = project.query(
            "SELECT deploy_pgid FROM steps WHERE service = ? AND deploy_pgid IS NOT NULL",
            (service,),
        )
        return bool(rows)

    wait_until(recorded, timeout_s=20, what=f"the deploy of {service} recorded")
    return int(rows[0][0])


def all_deploys_ended(project: Project) -> None:
    wait_until(
        lambda: all(process_gone(pid) for _, _, pid in project.calls()),
        timeout_s=40,
        what="every deploy ended",
    )


# --- 1. the orphan of a killed executor ------------------------------------------------------


def test_a_deploy_orphaned_by_kill_9_is_waited_for_never_overlapped(tmp_path: Path, start) -> None:
    p = make_project(tmp_path, services=chain(["a", "b"]))
    hold = p.hold("a")
    first: Background = start(p, "execute", TRAIN, name="first")
    wait_for_calls(p, 1, proc=first)
    recorded = wait_for_recorded_group(p, "a")
    first.kill()  # the deploy of a runs on, in its own session, held
    [(_, _, orphan)] = p.calls()
    assert recorded == orphan  # the script's own pid leads its group
    assert not process_gone(orphan)

    second: Background = start(p, "execute", TRAIN, name="second")
    # Either the new run waits for the orphan, or (the bug) it deploys a beside it.
    wait_until(
        lambda: "waiting up to" in " ".join(second.err().split()) or len(p.calls()) > 1,
        timeout_s=20,
        what="the second run waits for the orphan",
    )
    assert len(p.calls()) == 1, p.timeline_lines()
    assert f"process group {orphan}" in " ".join(second.err().split())  # however it wraps
    hold.unlink()
    result = second.wait()
    all_deploys_ended(p)

    assert overlaps(p) == [], p.timeline_lines()
    assert result.code == 0, result
    # the orphan finished the deploy; the new run saw that and did not deploy a again
    assert p.called() == [("a", TARGET), ("b", TARGET)]
    assert (p.deployed("a"), p.deployed("b")) == (TARGET, TARGET)
    assert p.run_status() == ("completed", None)
    assert not p.query("SELECT service FROM steps WHERE deploy_pgid IS NOT NULL")


def test_an_orphan_that_fails_is_waited_for_then_deployed_again(tmp_path: Path, start) -> None:
    """The reconcile branch: once the orphan has ended without deploying, a is deployed
    again, after it, never beside it."""
    p = make_project(tmp_path, services=chain(["a", "b"]))
    hold = p.hold("a")
    fail = p.fail("a", TARGET)  # the orphan will fail once let go
    first: Background = start(p, "execute", TRAIN, name="first")
    wait_for_calls(p, 1, proc=first)
    wait_for_recorded_group(p, "a")
    first.kill()
    # The next run deploys through a wrapper that drops the flag first, so only the orphan fails.
    wrapper = write_script(
        p.work / "deploy-again",
        f'rm -f {shlex.quote(str(fail))}\nexec {shlex.quote(str(p.deploy_script))} "$@"\n',
    )
    edit_config(
        p, lambda rt: rt["deployer"].update(deploy=[str(wrapper), "{service}", "{version}"])
    )

    second: Background = start(p, "execute", TRAIN, name="second")
    wait_until(
        lambda: "waiting up to" in " ".join(second.err().split()) or len(p.calls()) > 1,
        timeout_s=20,
        what="the second run waits for the orphan",
    )
    assert len(p.calls()) == 1, p.timeline_lines()
    hold.unlink()
    result = second.wait()
    all_deploys_ended(p)
    assert overlaps(p) == [], p.timeline_lines()
    assert result.code == 0, result
    assert p.called() == [("a", TARGET), ("a", TARGET), ("b", TARGET)]
    [(_, service, message)] = p.events("reconcile")
    assert service == "a" and "deploying again" in message, message
    # a rollback after the resumed run goes back to the versions from before the first run
    dry = p.run("rollback", TRAIN, "--dry-run", "--reason", "r", "--json")
    assert dry.code == 0, dry
    assert [(s["service"], s["from_version"], s["to_version"]) for s in dry.json()["services"]] == [
        ("b", TARGET, FROM),
        ("a", TARGET, FROM),
    ]


def test_an_orphan_still_running_after_the_deployer_timeout_is_refused_with_exit_3(
    tmp_path: Path, start
) -> None:
    p = make_project(tmp_path, services={"a": []})
    hold = p.hold("a")
    first: Background = start(p, "execute", TRAIN, name="first")
    wait_for_calls(p, 1, proc=first)
    recorded = wait_for_recorded_group(p, "a")
    first.kill()
    [(_, _, orphan)] = p.calls()
    assert recorded == orphan
    # The next run waits only as long as the deployer's timeout (plus its grace period).
    edit_config(p, lambda rt: rt["deployer"].update(timeout=1))

    second = p.run("execute", TRAIN, "--json")
    assert second.code == 3, second
    err = " ".join(second.err.split())  # however the terminal wrapped it
    assert f"process group {orphan}" in err, second
    assert "still running" in err and "not killed" in err, second
    assert not process_gone(orphan)  # refused, not killed
    assert len(p.calls()) == 1
    assert not p.query("SELECT * FROM locks")

    hold.unlink()
    all_deploys_ended(p)
    third = p.run("execute", TRAIN, "--json")
    assert third.code == 0, third
    assert p.called() == [("a", TARGET)]
    assert overlaps(p) == []


def test_an_orphan_on_another_host_is_refused_naming_the_host(tmp_path: Path) -> None:
    p = make_project(tmp_path, services={"a": []})
    p.fail("a", TARGET)
    assert p.run("execute", TRAIN).code == 1  # leaves a failed step to hang the record on
    con = sqlite3.connect(p.db)
    with con:
        con.execute(
            "UPDATE steps SET deploy_pgid = 4242, deploy_host = 'elsewhere.example',"
            " deploy_started_at = '2026-01-01T00:00:00+00:00' WHERE service = 'a'"
        )
    con.close()
    result = p.run("execute", TRAIN)
    assert result.code == 3, result
    err = " ".join(result.err.split())
    assert "elsewhere.example" in err and "process group 4242" in err, result
    assert len(p.calls()) == 1


# --- 2. "already released" means at this run's target ----------------------------------------


def test_a_failed_train_retargeted_deploys_the_new_version_and_never_redeploys_the_rest(
    tmp_path: Path,
) -> None:
    p = make_project(
        tmp_path,
        services={"pricing": [], "steady": [], "other": ["pricing", "steady"]},
        service_extra={"pricing": {"version": "3.0.0"}},
        trains=[
            {
                "name": TRAIN,
                "target_version": TARGET,
                "participants": [{"name": "pricing", "version": "3.1.0"}, "steady", "other"],
                "status": "planning",
            }
        ],
    )
    flag = p.fail("other", TARGET)
    first = p.run("execute", TRAIN, "--json")
    assert first.code == 1, first
    assert p.step_status("pricing") == "released"
    assert p.step_status("steady") == "released"
    assert p.step_status("other") == "failed"

    edit_trains(p, lambda t: t["participants"][0].update(version="3.2.0"))
    plan = p.run("plan", TRAIN, "--json")
    pricing = next(x for x in plan.json()["participants"] if x["service"] == "pricing")
    assert (pricing["from_version"], pricing["to_version"]) == ("3.1.0", "3.2.0")
    flag.unlink()

    second = p.run("execute", TRAIN, "--json")
    assert second.code == 0, second
    assert p.deployed("pricing") == "3.2.0"
    counts = Counter(p.called())
    assert counts[("pricing", "3.2.0")] == 1, p.called()
    assert counts[("steady", TARGET)] == 1, p.called()  # released at its target: not twice
    steps = p.steps()
    assert steps["pricing"]["status"] == "released"
    assert steps["pricing"]["to_version"] == "3.2.0"
    assert steps["pricing"]["from_version"] == "3.0.0"  # the rollback point before the train
    [(_, service, message)] = p.events("retarget")
    assert service == "pricing" and "3.1.0" in message and "3.2.0" in message


# --- 3. exit 0 is not a release --------------------------------------------------------------


def test_a_deploy_that_exits_0_but_changes_nothing_fails_naming_both_versions(
    tmp_path: Path,
) -> None:
    p = make_project(tmp_path, services={"a": []})
    noop = write_script(p.work / "noop", "exit 0\n")
    edit_config(p, lambda rt: rt["deployer"].update(deploy=[str(noop), "{service}", "{version}"]))
    p.versions.mkdir(parents=True)
    (p.versions / "a").write_text(f"{FROM}\n", encoding="utf-8")

    result = p.run("execute", TRAIN, "--json")
    assert result.code == 1, result
    step = p.steps()["a"]
    assert step["status"] == "failed"
    expected = f"deploy exited 0 but current_version reports {FROM}, expected {TARGET}"
    assert step["error"] == expected, step
    assert p.run_status()[0] == "failed"


def test_a_rollback_that_exits_0_but_changes_nothing_is_not_rolled_back(tmp_path: Path) -> None:
    p = make_project(tmp_path, services={"a": []})
    noop = write_script(p.work / "noop", "exit 0\n")
    edit_config(p, lambda rt: rt["deployer"].update(rollback=[str(noop), "{service}"]))
    assert p.run("execute", TRAIN).code == 0

    result = p.run("rollback", TRAIN, "--reason", "undo", "--json")
    assert result.code == 1, result
    step = p.steps()["a"]
    assert step["status"] == "failed", step
    expected = f"rollback exited 0 but current_version reports {TARGET}, expected {FROM}"
    assert expected in step["error"], step
    assert p.run_status()[0] == "failed"


# --- 4. the rollback point's artifact --------------------------------------------------------


def _with_artifact_check(tmp_path: Path, *, rollback_enabled: bool) -> Project:
    p = make_project(tmp_path, services={"a": []}, name=f"rb-{rollback_enabled}")
    store = p.work / "artifacts"
    store.mkdir()
    (store / f"a-{TARGET}").write_text("", encoding="utf-8")  # the previous one is missing
    check = write_script(
        p.work / "check",
        f'if [ -e {shlex.quote(str(store))}/"$1-$2" ]; then echo "found $1 $2"; exit 0; fi\n'
        'echo "no artifact for $1 $2"; exit 1\n',
    )
    edit_config(p, lambda rt: rt["deployer"].update(check=[str(check), "{service}", "{version}"]))
    edit_trains(p, lambda t: t.update(rollback={"enabled": rollback_enabled}))
    return p


def test_a_missing_rollback_artifact_stops_the_run_before_any_deploy(tmp_path: Path) -> None:
    p = _with_artifact_check(tmp_path, rollback_enabled=True)
    result = p.run("execute", TRAIN, "--json")
    assert result.code == 1, result
    status, reason = p.run_status()
    assert status == "failed"
    assert reason and f"rollback point {FROM}" in reason and "no artifact for a 1.0.0" in reason
    assert p.called() == []


def test_a_missing_rollback_artifact_is_a_warning_when_rollback_is_disabled(
    tmp_path: Path,
) -> None:
    p = _with_artifact_check(tmp_path, rollback_enabled=False)
    result = p.run("execute", TRAIN, "--json")
    assert result.code == 0, result
    [(_, service, message)] = p.events("warning")
    assert service == "a" and f"rollback point {FROM}" in message, message
    assert p.called() == [("a", TARGET)]


# --- 5. the rollback timeout cuts the command in flight -------------------------------------


def test_a_hanging_rollback_command_is_cut_off_at_the_rollback_timeout(tmp_path: Path) -> None:
    p = make_project(tmp_path, services={"a": []}, deployer_extra={"timeout": 50})
    hang = write_script(p.work / "hang", "exec sleep 45\n")
    edit_config(p, lambda rt: rt["deployer"].update(rollback=[str(hang), "{service}"]))
    edit_trains(p, lambda t: t.update(rollback={"timeout": "2s"}))
    assert p.run("execute", TRAIN).code == 0

    result = p.run("rollback", TRAIN, "--reason", "hanging rollback", "--json")
    assert result.code == 1, result
    status, reason = p.run_status()
    assert status == "failed", reason
    assert reason and "rollback timed out after 2 s" in reason, reason
    error = p.steps()["a"]["error"]
    assert "at the deadline of the whole operation" in error, error
    assert "50 s" not in error


# --- 6. a retried step's times -------------------------------------------------------------


def test_a_retried_step_never_keeps_the_last_attempts_end_time(tmp_path: Path, start) -> None:
    p = make_project(tmp_path, services={"a": []})
    flag = p.fail("a", TARGET)
    assert p.run("execute", TRAIN).code == 1
    [(first_start, first_end)] = p.query("SELECT started_at, finished_at FROM steps")
    assert first_start <= first_end
    flag.unlink()

    hold = p.hold("a")
    second: Background = start(p, "execute", TRAIN, name="second")
    wait_for_calls(p, 2, proc=second)
    [(started, finished, error)] = p.query("SELECT started_at, finished_at, error FROM steps")
    assert started >= first_end
    assert finished is None and error is None  # still deploying: no end yet, no old error
    hold.unlink()
    assert second.wait().code == 0
    [(started, finished)] = p.query("SELECT started_at, finished_at FROM steps")
    assert started <= finished


# --- 8. what the environment must supply is checked in validating ---------------------------


def test_an_unset_header_variable_of_the_deployer_fails_in_validating(tmp_path: Path) -> None:
    p = make_project(
        tmp_path,
        services={"a": []},
        deployer={
            "type": "http",
            "url": "http://127.0.0.1:9/deploy",
            "headers": {"Authorization": "Bearer ${RT_TEST_UNSET_TOKEN}"},
        },
    )
    assert "RT_TEST_UNSET_TOKEN" not in os.environ
    result = p.run("execute", TRAIN, "--json")
    assert result.code == 1, result
    status, reason = p.run_status()
    assert status == "failed"
    assert reason and "RT_TEST_UNSET_TOKEN" in reason and "deployer of a" in reason, reason
    assert not p.query("SELECT * FROM steps")  # stopped before staging
    statuses = [m for _, _, m in p.events("status")]
    assert statuses[-1].startswith("validating -> failed"), statuses


def test_an_unset_header_variable_of_a_trigger_signal_fails_in_validating(tmp_path: Path) -> None:
    p = make_project(
        tmp_path,
        services={"a": []},
        release_trains={
            "signals": {
                "error_rate": {
                    "http_json": "http://127.0.0.1:9/metrics",
                    "path": "rate",
                    "headers": {"Authorization": "Bearer ${RT_TEST_UNSET_SIGNAL}"},
                }
            },
            "rollback": {"triggers": [{"expression": "error_rate > 5"}]},
        },
    )
    result = p.run("execute", TRAIN, "--json")
    assert result.code == 1, result
    status, reason = p.run_status()
    assert status == "failed"
    assert reason and "signal error_rate" in reason and "RT_TEST_UNSET_SIGNAL" in reason, reason
    assert p.called() == []


# --- 9. validation.health_check_timeout ----------------------------------------------------


def test_health_check_timeout_bounds_the_whole_verification(tmp_path: Path) -> None:
    p = make_project(tmp_path, services={"a": []})
    slow = write_script(p.work / "slow-health", "sleep 0.3\necho not ready\nexit 1\n")
    edit_config(
        p,
        lambda rt: rt.update(
            health={"type": "command", "command": [str(slow)], "retries": 100, "interval": 0.1},
            validation={"health_check_timeout": 1},
        ),
    )
    result = p.run("execute", TRAIN, "--json")
    assert result.code == 1, result
    step = p.steps()["a"]
    assert step["status"] == "failed" and step["health"] == "unhealthy", step
    assert "limit of the whole health verification" in step["error"], step
    assert p.run_status()[0] == "failed"


def test_health_check_timeout_bounds_an_http_endpoint_that_keeps_failing_slowly(
    tmp_path: Path,
) -> None:
    with serve() as server:
        server.script("/health", Reply(hang=True))  # every probe times out, after 0.3 s
        p = make_project(
            tmp_path,
            services={"a": []},
            health={
                "type": "http",
                "url": f"{server.url}/health",
                "timeout": 0.3,
                "retries": 100,
                "interval": 0.1,
            },
            release_trains={"validation": {"health_check_timeout": 1.5}},
        )
        result = p.run("execute", TRAIN, "--json")
    assert result.code == 1, result
    step = p.steps()["a"]
    assert step["health"] == "unhealthy", step
    assert "gave up at the 1.5 s limit of the whole health verification" in step["error"], step
    assert len(server.requests) < 101  # not every retry of the check was made
