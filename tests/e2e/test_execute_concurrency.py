"""End to end: two executors at once, pause/resume, SIGTERM, stale locks, --max-parallel.

Every executor is a real `release-trains execute` subprocess; waiting is polling
(the deploy record file, the state store) with a deadline, never a fixed sleep.
"""

from __future__ import annotations

import shlex
import signal
from collections import Counter
from pathlib import Path

import pytest
from e2e_support import (
    TARGET,
    TRAIN,
    Background,
    chain,
    make_project,
    wait_for_calls,
)
from helpers import process_gone, wait_until, write_script

from release_trains.journal import actor


def _once_each_in_order(calls: list[tuple[str, str]], services: list[str]) -> None:
    assert calls == [(s, TARGET) for s in services], calls


# --- 8. two executors at once --------------------------------------------------------------------


@pytest.mark.slow
def test_two_concurrent_executes_of_one_train_exactly_one_proceeds(tmp_path: Path, start) -> None:
    services = ["a", "b"]
    p = make_project(tmp_path, services=chain(services), sleep_s=1.0)

    one: Background = start(p, "execute", TRAIN, name="one")
    two: Background = start(p, "execute", TRAIN, name="two")
    results = {bg.pid: bg.wait() for bg in (one, two)}

    codes = sorted(r.code for r in results.values())
    assert codes == [0, 3], "\n".join(map(str, results.values()))
    winner = next(pid for pid, r in results.items() if r.code == 0)
    loser = results[next(pid for pid, r in results.items() if r.code == 3)]
    assert actor() in loser.err, loser  # user@host of the holder
    assert f"pid {winner}" in loser.err, loser
    assert "unlock" in loser.err, loser  # says what to do if the holder is dead
    assert "Traceback" not in loser.err
    _once_each_in_order(p.called(), services)
    assert {pid for _, _, pid in p.calls()}  # deploys ran as the winner's children
    assert p.run_status() == ("completed", None)
    assert len(p.query("SELECT id FROM runs")) == 1
    assert p.integrity() == "ok"


@pytest.mark.slow
def test_two_trains_sharing_a_service_started_together_exactly_one_runs(
    tmp_path: Path, start
) -> None:
    trains = [
        {"name": "T1", "target_version": TARGET, "participants": ["shared", "one"]},
        {"name": "T2", "target_version": TARGET, "participants": ["shared", "two"]},
    ]
    p = make_project(
        tmp_path,
        services={"shared": [], "one": ["shared"], "two": ["shared"]},
        trains=trains,
        sleep_s=1.0,
    )

    first: Background = start(p, "execute", "T1", name="t1")
    second: Background = start(p, "execute", "T2", name="t2")
    r1, r2 = first.wait(), second.wait()

    assert sorted([r1.code, r2.code]) == [0, 3], f"{r1}\n{r2}"
    won, lost = ("T1", "T2") if r1.code == 0 else ("T2", "T1")
    loser = r2 if r1.code == 0 else r1
    assert "shared" in loser.err and won in loser.err, loser  # names the service and who holds it
    assert p.run_status(won) == ("completed", None)
    assert p.run_status(lost) is None  # refused before it wrote any state
    deployed = [s for s, _ in p.called()]
    assert deployed == ["shared", "one" if won == "T1" else "two"], deployed


# --- 9. pause / resume ---------------------------------------------------------------------------


@pytest.mark.slow
def test_pause_stops_the_executor_and_resume_completes_without_redeploying(
    tmp_path: Path, start
) -> None:
    services = ["a", "b", "c", "d"]
    p = make_project(tmp_path, services=chain(services), sleep_s=0.5)

    hold = p.hold("a")  # so the pause surely lands while a deploys, however slow the machine
    executor: Background = start(p, "execute", TRAIN, name="executor")
    wait_for_calls(p, 1, proc=executor)
    paused = p.run("pause", TRAIN, "--reason", "test")
    assert paused.code == 0, paused
    assert "pause requested" in paused.out, paused
    hold.unlink()

    stopped = executor.wait(timeout_s=20)  # it exits by itself
    assert stopped.code == 1, stopped
    assert p.run_status()[0] == "paused"
    assert "test" in (p.run_status()[1] or ""), p.run_status()
    assert "resume" in stopped.out, stopped
    assert p.called() == [("a", TARGET)]  # a finished, nothing after it started
    steps = p.steps()
    assert {s: st["status"] for s, st in steps.items()} == {
        "a": "released",
        "b": "pending",
        "c": "pending",
        "d": "pending",
    }
    assert not p.query("SELECT * FROM locks")

    resumed = p.run("resume", TRAIN, "--json")
    assert resumed.code == 0, resumed
    assert resumed.json()["status"] == "completed"
    _once_each_in_order(p.called(), services)
    assert {s: p.deployed(s) for s in services} == dict.fromkeys(services, TARGET)

    again = p.run("resume", TRAIN)
    assert again.code == 3, again
    assert "completed" in again.err, again
    assert p.integrity() == "ok"


def test_pause_requested_while_validating_is_honoured(tmp_path: Path, start) -> None:
    services = ["a", "b"]
    p = make_project(tmp_path, services=chain(services))
    # current_version (asked while validating) blocks while `hold` exists and `go` does not.
    hold, holding, go = p.work / "hold", p.work / "holding", p.work / "go"
    q = lambda x: shlex.quote(str(x))  # noqa: E731
    write_script(
        p.current_script,
        f"if [ -e {q(hold)} ]; then\n"
        f"  touch {q(holding)}\n"
        "  n=0\n"
        f"  while [ ! -e {q(go)} ] && [ $n -lt 200 ]; do sleep 0.05; n=$((n+1)); done\n"
        "fi\n"
        f'cat {q(p.versions)}/"$1" 2>/dev/null\nexit 0\n',
    )
    hold.touch()

    executor: Background = start(p, "execute", TRAIN, name="executor")
    wait_until(
        lambda: holding.exists() or executor.proc.poll() is not None,
        timeout_s=15,
        what="validating",
    )
    assert p.run_status()[0] == "validating", p.run_status()
    paused = p.run("pause", TRAIN, "--reason", "test")
    assert paused.code == 0, paused
    assert "pause requested" in paused.out
    go.touch()

    result = executor.wait(timeout_s=20)
    assert p.called() == [], p.called()  # stopped before its first service
    assert result.code == 1, result
    assert p.run_status()[0] == "paused"


# --- 10. SIGTERM ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_sigterm_finishes_the_current_deploy_and_leaves_the_train_paused(
    tmp_path: Path, start
) -> None:
    services = ["a", "b", "c"]
    p = make_project(tmp_path, services=chain(services), sleep_s=0.5)

    hold = p.hold("a")
    executor: Background = start(p, "execute", TRAIN, name="executor")
    wait_for_calls(p, 1, proc=executor)
    executor.proc.send_signal(signal.SIGTERM)
    assert "end a" not in p.timeline_lines()  # the signal came mid-deploy
    hold.unlink()
    stopped = executor.wait(timeout_s=20)
    assert stopped.code == 1, stopped
    assert p.called() == [("a", TARGET)]

    status, reason = p.run_status()
    assert status == "paused", (status, reason)
    assert "signal" in (reason or "").lower() or "sigterm" in (reason or "").lower(), reason
    # the deploy that was running when the signal came finished, and was recorded as such
    assert "end a" in p.timeline_lines(), p.timeline_lines()
    assert p.step_status("a") == "released", p.steps()
    assert p.deployed("a") == TARGET
    assert not p.query("SELECT * FROM locks")

    again = p.run("execute", TRAIN, "--json")
    assert again.code == 0, again
    assert again.json()["status"] == "completed"
    _once_each_in_order(p.called(), services)
    assert p.integrity() == "ok"


# --- 11. a stale lock ----------------------------------------------------------------------------


@pytest.mark.slow
def test_a_killed_executors_lock_is_taken_over(tmp_path: Path, start) -> None:
    services = ["a", "b", "c"]
    p = make_project(tmp_path, services=chain(services), sleep_s=0.3)

    executor: Background = start(p, "execute", TRAIN, name="executor")
    wait_for_calls(p, 1, proc=executor)
    dead_pid = executor.pid
    executor.kill()
    locks = p.query(
        "SELECT k.resource, k.lock_id, l.pid FROM locks k JOIN leases l ON l.lock_id = k.lock_id"
    )
    assert {r[0] for r in locks} == {"train:T", "service:a", "service:b", "service:c"}, locks
    assert {r[2] for r in locks} == {dead_pid}
    lock_id = locks[0][1]
    # the deploy the killed executor started finishes on its own; let it, so nothing races it
    wait_until(
        lambda: all(process_gone(pid) for _, _, pid in p.calls()), timeout_s=10, what="deploy done"
    )

    wrong = p.run("unlock", TRAIN, "WRONG_ID")
    assert wrong.code == 2, wrong
    assert lock_id in wrong.err, wrong  # names the locks that are held
    assert len(p.query("SELECT * FROM locks")) == 4  # untouched
    assert len(p.query("SELECT * FROM leases")) == 1  # one lease holds the four

    again = p.run("execute", TRAIN)
    assert again.code == 0, again
    assert "took over" in again.err, again
    assert lock_id in again.err and str(dead_pid) in again.err, again
    _once_each_in_order(p.called(), services)  # a was done: reconciled, not deployed again
    assert p.run_status() == ("completed", None)
    assert not p.query("SELECT * FROM locks")
    assert any('"lock-takeover"' in line for line in p.audit_lines())
    assert p.run("audit", "--verify").code == 0


# --- 12. --max-parallel --------------------------------------------------------------------------


@pytest.mark.slow
def test_max_parallel_keeps_dependency_order(tmp_path: Path) -> None:
    services = {"a": [], "b": [], "c": [], "d": [], "e": [], "f": ["a"]}  # one edge: f after a
    p = make_project(tmp_path, services=services, sleep_s=0.5)

    result = p.run("execute", TRAIN, "--max-parallel", "4", "--json")
    assert result.code == 0, result
    assert result.json()["status"] == "completed"
    assert Counter(s for s, _ in p.called()) == Counter(list(services))

    timeline = p.timeline_lines()
    assert timeline.index("end a") < timeline.index("start f"), timeline
    running, most = 0, 0
    for line in timeline:
        running += 1 if line.startswith("start ") else -1
        most = max(most, running)
    assert most <= 4, timeline
    assert most >= 2, timeline  # it did run services side by side


def test_pause_after_the_executor_was_killed_makes_the_train_resumable(
    tmp_path: Path, start
) -> None:
    services = ["a", "b", "c"]
    p = make_project(tmp_path, services=chain(services), sleep_s=0.3)
    executor: Background = start(p, "execute", TRAIN, name="executor")
    wait_for_calls(p, 1, proc=executor)
    executor.kill()
    wait_until(
        lambda: all(process_gone(pid) for _, _, pid in p.calls()), timeout_s=10, what="deploy done"
    )
    assert p.run_status()[0] == "executing"

    paused = p.run("pause", TRAIN, "--reason", "operator saw the crash")
    assert paused.code == 0, paused
    assert p.run_status()[0] == "paused", (paused, p.run_status())
    resumed = p.run("resume", TRAIN)
    assert resumed.code == 0, resumed
    _once_each_in_order(p.called(), services)
