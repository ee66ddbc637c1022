"""End to end, under load: twenty `status --json` readers hammering the state store while a
train executes, and two trains that share a service started at the same instant.

Every reader call and every executor is a real `release-trains` subprocess. Nothing
waits on luck: a deploy is held (flag file) until the readers have seen the train mid-release,
and the two executors are released together from a file barrier.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from e2e_support import (
    TARGET,
    TRAIN,
    Background,
    Project,
    Result,
    chain,
    child_env,
    make_project,
    wait_for_calls,
)
from helpers import wait_until

from release_trains.cli.main import COMMANDS
from release_trains.identity import actor

pytestmark = pytest.mark.slow

READERS = 20
READ_LIMIT_S = 60.0  # readers stop when the executor ends, or after this at the latest
SERVICES = [f"s{i:02d}" for i in range(10)]
HELD = (SERVICES[3], SERVICES[7])  # the executor waits in these deploys while readers look
RUN_STATUSES = ("validating", "staging", "executing", "verifying", "completed")


@dataclass(frozen=True)
class Reading:
    code: int
    status: str | None
    progress: float | None
    err: str


@dataclass
class Reader:
    """One thread that runs `status TRAIN --json` again and again until told to stop."""

    project: Project
    stop: threading.Event
    readings: list[Reading] = field(default_factory=list)
    thread: threading.Thread | None = None

    def start(self) -> None:
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        deadline = time.monotonic() + READ_LIMIT_S
        while not self.stop.is_set() and time.monotonic() < deadline:
            try:
                proc = subprocess.run(
                    self.project.argv("status", TRAIN, "--json"), capture_output=True, text=True,
                    env=child_env(), stdin=subprocess.DEVNULL, timeout=READ_LIMIT_S,
                )  # fmt: skip
            except subprocess.TimeoutExpired:
                self.readings.append(Reading(-1, None, None, "status hung"))
                return
            status = progress = None
            if proc.returncode == 0:
                try:
                    doc = json.loads(proc.stdout)
                    status, progress = doc["status"], float(doc["progress"])
                except (ValueError, KeyError, TypeError):
                    pass
            self.readings.append(Reading(proc.returncode, status, progress, proc.stderr))


def _audited_statuses(project: Project) -> set[str]:
    """Every train status the audit log says the run passed through (both ends of each move)."""
    seen: set[str] = set()
    for line in project.audit_lines():
        record = json.loads(line)
        if record["action"] == "status" and record["train"] == TRAIN:
            before, _, after = record["detail"].partition(" -> ")
            seen |= {before.strip(), after.split()[0].strip()}
    return seen


@pytest.mark.skipif("status" not in COMMANDS, reason="the `status` command does not exist yet")
def test_twenty_status_readers_during_an_execute(
    tmp_path: Path, start: Callable[..., Background]
) -> None:
    p = make_project(tmp_path, services=chain(SERVICES), sleep_s=0.2)
    holds = [p.hold(service) for service in HELD]
    stop = threading.Event()
    readers = [Reader(p, stop) for _ in range(READERS)]

    def readings() -> list[Reading]:
        return [r for reader in readers for r in list(reader.readings)]

    try:
        for reader in readers:
            reader.start()
        executor = start(p, "execute", TRAIN, name="executor")
        before = 0.0
        for service, hold in zip(HELD, holds, strict=True):
            # The executor is inside this service's deploy: wait until a reader has seen the
            # progress it made since the last hold, then let it go on.
            wait_for_calls(p, SERVICES.index(service) + 1, timeout_s=READ_LIMIT_S, proc=executor)

            def moved_on(floor: float = before) -> bool:
                return any(
                    r.status == "executing" and (r.progress or 0) > floor for r in readings()
                )

            wait_until(
                moved_on, timeout_s=READ_LIMIT_S, what=f"a reader seeing progress past {before}"
            )
            before = max(r.progress or 0 for r in readings() if r.status == "executing")
            hold.unlink()
        result = executor.wait(timeout_s=READ_LIMIT_S)
    finally:
        stop.set()
        for reader in readers:
            if reader.thread is not None:
                reader.thread.join(timeout=READ_LIMIT_S)
        for hold in holds:
            if hold.exists():
                hold.unlink()

    assert result.code == 0, result
    assert p.run_status() == ("completed", None)
    assert p.called() == [(s, TARGET) for s in SERVICES]

    passed = _audited_statuses(p)
    assert passed == {"planning", *RUN_STATUSES}, passed
    allowed = passed  # `planning` is the YAML status a reader sees before the run exists
    seen = readings()
    assert all(reader.readings for reader in readers), "every reader read at least once"
    problems = [r for r in seen if r.code != 0 or r.status is None]
    assert problems == [], problems[:3]
    assert not any("locked" in r.err.lower() for r in seen)
    assert {r.status for r in seen} <= allowed
    mid = sorted({r.progress for r in seen if r.status == "executing" and r.progress is not None})
    assert len([x for x in mid if 0 < x < 100]) >= 2, f"seen mid-release at two holds: {mid}"
    for i, reader in enumerate(readers):
        progress = [r.progress for r in reader.readings if r.progress is not None]
        assert progress == sorted(progress), f"reader {i}: progress went backwards: {progress}"
        statuses = [r.status for r in reader.readings if r.status is not None]
        order = ["planning", *RUN_STATUSES]
        assert [order.index(s) for s in statuses] == sorted(order.index(s) for s in statuses), (
            f"reader {i}: status went backwards: {statuses}"
        )

    final = p.run("status", TRAIN, "--json")
    assert final.code == 0, final
    assert (final.json()["status"], final.json()["progress"]) == ("completed", 100.0)
    assert p.integrity() == "ok"


# --- two trains sharing a service, started at the same instant --------------------------------


def _barrier_start(
    p: Project, train: str, *, name: str, go: Path
) -> tuple[subprocess.Popen[bytes], Path, Path]:
    """`execute TRAIN` in a shell that announces itself, then waits for `go` before exec'ing."""
    ready = p.work / f"{name}.ready"
    out, err = p.work / f"{name}.out", p.work / f"{name}.err"
    q = shlex.quote
    script = (
        f"touch {q(str(ready))}; n=0; "
        f"while [ ! -e {q(str(go))} ] && [ $n -lt 3000 ]; do sleep 0.01; n=$((n+1)); done; "
        f"exec {shlex.join(p.argv('execute', train))}"
    )
    with open(out, "wb") as o, open(err, "wb") as e:
        proc = subprocess.Popen(
            ["/bin/sh", "-c", script], stdout=o, stderr=e, stdin=subprocess.DEVNULL, env=child_env()
        )
    return proc, ready, err


def test_two_trains_sharing_a_later_service_started_together_exactly_one_runs(
    tmp_path: Path,
) -> None:
    # The shared service comes *last* in both trains, so a run that took its service locks one
    # at a time would only meet the other run after deploying something: the locks must cover
    # every participant before the first deploy.
    trains = [
        {"name": "T1", "target_version": TARGET, "participants": ["one", "shared"]},
        {"name": "T2", "target_version": TARGET, "participants": ["two", "shared"]},
    ]
    p = make_project(
        tmp_path,
        services={"one": [], "two": [], "shared": ["one", "two"]},
        trains=trains,
        sleep_s=1.0,
    )
    holds = [p.hold("one"), p.hold("two")]  # the winner waits in its first deploy
    go = p.work / "go"
    procs: dict[str, tuple[subprocess.Popen[bytes], Path, Path]] = {}
    try:
        for train in ("T1", "T2"):
            procs[train] = _barrier_start(p, train, name=train, go=go)
        wait_until(
            lambda: all(ready.exists() for _, ready, _ in procs.values()),
            timeout_s=30,
            what="both at the barrier",
        )
        go.touch()

        wait_until(
            lambda: any(proc.poll() is not None for proc, _, _ in procs.values()),
            timeout_s=30,
            what="one executor refused",
        )
        [lost] = [t for t, (proc, _, _) in procs.items() if proc.poll() is not None]
        won = "T2" if lost == "T1" else "T1"
        assert procs[won][0].poll() is None, "the winner is still running"
        loser = Result(procs[lost][0].returncode, "", procs[lost][2].read_text(encoding="utf-8"))
        # The loser may be refused before the winner's first deploy command has started: wait
        # for that deploy (it then waits on its hold), then check nothing else was deployed.
        wait_until(lambda: p.called() != [], timeout_s=30, what="the winner's first deploy")
        assert p.called() == [("one" if won == "T1" else "two", TARGET)], (
            p.called()
        )  # only the winner deployed
        for hold in holds:
            hold.unlink()
        winner_code = procs[won][0].wait(timeout=60)
    finally:
        go.touch()
        for hold in holds:
            if hold.exists():
                hold.unlink()
        for proc, _, _ in procs.values():
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=10)

    assert winner_code == 0, procs[won][2].read_text(encoding="utf-8")
    assert loser.code == 3, loser
    assert "Traceback" not in loser.err
    assert "shared" in loser.err and won in loser.err, loser  # the service, and who holds it
    assert actor() in loser.err, loser
    assert f"pid {procs[won][0].pid}" in loser.err, loser  # /bin/sh exec'd into the executor
    assert p.run_status(won) == ("completed", None)
    assert p.run_status(lost) is None  # refused before it wrote any state
    assert p.called() == [("one" if won == "T1" else "two", TARGET), ("shared", TARGET)]
    assert p.integrity() == "ok"
