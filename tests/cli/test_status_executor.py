"""`status` and `monitor` of a run left active by an executor that is gone, or left before it
stored its plan (killed in validating): a clear document and exit 1, never exit 2 or 4, and
`monitor --watch` ends. State stores are built here the way a killed executor leaves them."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from release_trains.state import Lock, open_store

RunCli = Callable[..., Any]  # conftest.run_cli: (*args) -> CliResult(code, out, err)
TRAIN = "Q4-curve-upgrade"
SERVICES = ["curve-service", "backtesting-service", "scenario-service"]
STAMP = "2026-01-05T09:00:00.000+00:00"


def left_by_a_killed_executor(root: Path, *, status: str, pid: int | None) -> None:
    """A run in `status` with the plan "{}" (validating writes the plan); its lock held by
    `pid` on this host (None: no lock)."""
    store = open_store(None, root, create=True)
    assert store is not None
    store.create_run(train=TRAIN, status=status, actor="op@h", plan="{}", max_parallel=1, now=STAMP)
    if pid is not None:
        held = Lock("", "abc123", TRAIN, "op@h", socket.gethostname(), pid, STAMP, STAMP)
        store.acquire([f"train:{TRAIN}"], held, stale_after_s=120, now_ts=0)
    store.close()


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.mark.parametrize("pid", ["dead", None], ids=["lock-of-a-dead-process", "no-lock"])
def test_status_of_a_run_killed_in_validating_exits_1_saying_the_executor_is_gone(
    sample_root: Path, run_cli: RunCli, pid: str | None
) -> None:
    left_by_a_killed_executor(
        sample_root, status="validating", pid=dead_pid() if pid == "dead" else None
    )
    result = run_cli("--root", sample_root, "status", TRAIN, "--json")
    assert result.code == 1, result
    doc = json.loads(result.out)
    assert (doc["status"], doc["run_id"], doc["progress"]) == ("validating", 1, 0.0)
    assert [(s["service"], s["status"]) for s in doc["services"]] == [
        (n, "pending") for n in SERVICES
    ]
    assert doc["executor"]["state"] == "gone" and doc["executor"]["since"] == STAMP
    assert doc["gates"]["total"] == 3  # planned now, from the catalog

    plain = run_cli("--root", sample_root, "status", TRAIN)
    assert plain.code == 1 and plain.err == ""
    assert f"executor gone since {STAMP}: run `execute` to resume" in plain.out
    every = run_cli("--root", sample_root, "status", "--json")
    assert every.code == 1
    rows = {r["train"]: r for r in json.loads(every.out)["trains"]}
    assert rows[TRAIN]["executor"]["state"] == "gone"
    listed = run_cli("--root", sample_root, "status")
    assert f"{TRAIN}: validating 0.0% (0/3; run 1, updated {STAMP}; executor gone since" in (
        listed.out
    )


def test_status_of_a_run_validating_under_a_live_executor_exits_0(
    sample_root: Path, run_cli: RunCli
) -> None:
    left_by_a_killed_executor(sample_root, status="validating", pid=os.getpid())
    result = run_cli("--root", sample_root, "status", TRAIN, "--json")
    assert result.code == 0, result
    doc = json.loads(result.out)
    assert doc["status"] == "validating" and doc["executor"]["state"] == "running"
    assert [s["status"] for s in doc["services"]] == ["pending"] * 3


def test_monitor_watch_of_a_run_whose_executor_is_gone_ends_with_1(
    sample_root: Path, run_cli: RunCli
) -> None:
    left_by_a_killed_executor(sample_root, status="executing", pid=dead_pid())
    # a subprocess with a deadline: a watcher that never ends fails the test, never hangs it
    done = subprocess.run(
        [sys.executable, "-m", "release_trains", "--root", str(sample_root), "monitor", TRAIN,
         "--watch", "--interval", "0.05"],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert done.returncode == 1, done
    assert "executor gone since" in done.stdout.splitlines()[0]
    once = run_cli("--root", sample_root, "monitor", TRAIN, "--json")
    assert once.code == 1 and json.loads(once.out)["executor"]["state"] == "gone"


def test_on_a_terminal_the_gone_executor_is_shown_too(
    sample_root: Path, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("release_trains.cli.status_cmd.is_tty", lambda: True)
    monkeypatch.setenv("COLUMNS", "200")
    left_by_a_killed_executor(sample_root, status="staging", pid=dead_pid())
    result = run_cli("--root", sample_root, "status", TRAIN)
    assert result.code == 1
    assert f"executor gone since {STAMP}: run `execute` to resume" in result.out
    listed = run_cli("--root", sample_root, "status")
    assert listed.code == 1 and "executor gone since" in listed.out
