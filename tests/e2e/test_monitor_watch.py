"""`release-trains monitor TRAIN --watch` against a train that another process is executing
(its command deployer sleeps 0.3 s per service): the monitor waits for the state store to
appear, follows the run, and exits by itself with the train's code; on a pseudo-terminal it
draws the live dashboard; Ctrl-C stops only the monitor (exit 130), never the train."""

from __future__ import annotations

import fcntl
import itertools
import json
import os
import re
import select
import signal
import struct
import subprocess
import termios
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import cli_argv, wait_until, write_script

TRAIN = "Q4-curve-upgrade"
SERVICES = ["curve-service", "backtesting-service", "scenario-service"]
DEADLINE_S = 60.0


def cli() -> list[str]:
    """The console script of the Python running the tests (never one found on PATH)."""
    return cli_argv()


def slow_deployer(root: Path, *, fail: str | None = None) -> None:
    body = "sleep 0.3\n"
    if fail:
        # only the release of `fail` fails: its rollback (the previous version) succeeds
        body += f'if [ "$1" = "{fail}" ] && [ "$2" = "2.0.0-rc" ]; then exit 1; fi\n'
    body += "exit 0\n"
    script = write_script(root / "bin" / "deploy", body)
    path = root / "config" / "upgrade-policies.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    doc["release_trains"]["deployer"] = {
        "type": "command",
        "deploy": [str(script), "{service}", "{version}"],
    }
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    if fail:
        trains = root / "catalog" / "release-trains.yaml"
        tdoc = yaml.safe_load(trains.read_text(encoding="utf-8"))
        train = next(t for t in tdoc["trains"] if t["name"] == TRAIN)
        train["target_version"] = "2.0.0-rc"  # every participant gets 2.0.0-rc
        trains.write_text(yaml.safe_dump(tdoc, sort_keys=False), encoding="utf-8")


class Lines:
    """Reads a pipe line by line on a thread, so a test can wait for output without blocking."""

    def __init__(self, stream: Any) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self._thread.start()

    def _pump(self, stream: Any) -> None:
        for line in stream:
            self.lines.append(line.rstrip("\n"))

    def join(self) -> list[str]:
        self._thread.join(timeout=DEADLINE_S)
        return self.lines


@contextmanager
def started(argv: list[str], **kw: Any) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(argv, text=True, stdin=subprocess.DEVNULL, **kw)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()  # only a test that already failed gets here
        proc.wait(timeout=DEADLINE_S)


def execute(root: Path, log: Path) -> subprocess.Popen[str]:
    out = open(log, "w", encoding="utf-8")  # noqa: SIM115 - closed by the OS with the child
    return subprocess.Popen(
        [*cli(), "--root", str(root), "execute", TRAIN],
        stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


def monitor_argv(root: Path, *extra: str) -> list[str]:
    return [*cli(), "--root", str(root), "monitor", TRAIN, "--watch", "--interval", "0.1", *extra]


def final_status(root: Path) -> dict[str, Any]:
    done = subprocess.run(
        [*cli(), "--root", str(root), "status", TRAIN, "--json"],
        capture_output=True, text=True, timeout=DEADLINE_S,
    )  # fmt: skip
    doc: dict[str, Any] = json.loads(done.stdout)
    return doc


# --- without a terminal: one plain line per change ---------------------------------------


def test_watch_follows_a_running_train_and_exits_0_when_it_completes(
    sample_root: Path, tmp_path: Path
) -> None:
    slow_deployer(sample_root)
    with started(
        monitor_argv(sample_root), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as monitor:
        out = Lines(monitor.stdout)
        # it polls before any state store exists, without creating one
        wait_until(lambda: bool(out.lines), timeout_s=DEADLINE_S, what="the monitor's first line")
        assert "planning 0.0% (0/3 released) (never ran" in out.lines[0]
        assert not (sample_root / "analysis" / "state").exists()

        executor = execute(sample_root, tmp_path / "execute.log")
        assert executor.wait(timeout=DEADLINE_S) == 0
        assert monitor.wait(timeout=DEADLINE_S) == 0  # it ends by itself, with the train's code
        lines = out.join()
        assert monitor.stderr is not None and monitor.stderr.read() == ""

    changes = [line.split(" ", 1)[1] for line in lines if line[:4].isdigit()]
    for name in SERVICES:
        assert any(c.startswith(f"{TRAIN} {name}: released ") for c in changes), changes
    assert any(c.startswith(f"{TRAIN}: completed 100.0% (3/3 released)") for c in changes)
    assert f"Train {TRAIN} (run 1): completed, 100.0% (3/3 released)" in lines  # the final snapshot
    # each line is a change: the same line never repeats back to back
    assert all(a != b for a, b in itertools.pairwise(changes))


def test_watch_exits_1_when_the_train_rolls_back(sample_root: Path, tmp_path: Path) -> None:
    slow_deployer(sample_root, fail="scenario-service")  # Q4 rolls back automatically
    executor = execute(sample_root, tmp_path / "execute.log")
    with started(
        monitor_argv(sample_root, "--json"), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as monitor:
        out, err = monitor.communicate(timeout=DEADLINE_S)
        assert monitor.returncode == 1, err
    assert executor.wait(timeout=DEADLINE_S) == 1
    doc = json.loads(out)  # --json: the final snapshot is the only thing on stdout
    assert doc["status"] == "rolled_back" and doc["progress"] == 0.0
    assert "rolled_back" in err  # the per-change lines went to stderr


# --- on a pseudo-terminal: the live dashboard ----------------------------------------------


def read_pty(fd: int, proc: subprocess.Popen[bytes]) -> bytes:
    """Everything the child writes to the terminal until it exits (bounded by the deadline)."""
    chunks: list[bytes] = []
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                data = os.read(fd, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    return b"".join(chunks)


def test_watch_on_a_terminal_draws_the_live_dashboard_and_exits(
    sample_root: Path, tmp_path: Path
) -> None:
    slow_deployer(sample_root)
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 160, 0, 0))
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "160", "LINES": "50", "NO_COLOR": "1"}
    executor = execute(sample_root, tmp_path / "execute.log")
    try:
        proc = subprocess.Popen(
            monitor_argv(sample_root), stdin=slave, stdout=slave, stderr=slave, env=env
        )
        os.close(slave)
        screen = read_pty(master, proc)
        assert proc.wait(timeout=DEADLINE_S) == 0
    finally:
        os.close(master)
    assert executor.wait(timeout=DEADLINE_S) == 0
    text = screen.decode("utf-8", "replace")
    assert "Traceback" not in text and "internal error" not in text
    assert "\x1b[37m" not in text, "NO_COLOR is honoured"
    assert "refreshing every 0.1s" in text  # the live dashboard's footer was drawn
    assert "\x1b[?25l" in text  # rich.live hid the cursor while it redrew in place
    shown = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)  # what a person reads
    assert f"Train {TRAIN} (run 1): completed" in shown  # then the final snapshot, as tables
    assert "Services, in release order" in shown


# --- Ctrl-C ------------------------------------------------------------------------------------


def test_ctrl_c_stops_the_monitor_with_130_and_leaves_the_train_running(
    sample_root: Path, tmp_path: Path
) -> None:
    slow_deployer(sample_root)
    executor = execute(sample_root, tmp_path / "execute.log")
    with started(
        monitor_argv(sample_root), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as monitor:
        out = Lines(monitor.stdout)
        wait_until(lambda: bool(out.lines), timeout_s=DEADLINE_S, what="the monitor's first line")
        monitor.send_signal(signal.SIGINT)
        assert monitor.wait(timeout=DEADLINE_S) == 130
        assert monitor.stderr is not None and "Traceback" not in monitor.stderr.read()
    assert executor.wait(timeout=DEADLINE_S) == 0  # the train carried on to the end
    assert final_status(sample_root)["status"] == "completed"


@pytest.mark.parametrize("interval", ["0", "-1", "soon"])
def test_a_bad_interval_is_bad_input(sample_root: Path, interval: str) -> None:
    done = subprocess.run(
        [*cli(), "--root", str(sample_root), "monitor", TRAIN, "--watch", "--interval", interval],
        capture_output=True, text=True, timeout=DEADLINE_S, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert done.returncode == 2 and done.stdout == ""
