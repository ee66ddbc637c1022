"""Run one argv (never a shell) with a timeout that kills the whole process group.

Shared by the command deployer and the command health probe. The child starts a new
session, so a deploy script's own children (`sleep`, `kubectl`, ...) share its process group
and a timeout takes all of them down: SIGTERM to the group, a grace period, then SIGKILL.
Relative executables such as `./bin/deploy` are resolved against the current working
directory of the calling process (the CLI runs from the project root).
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

GRACE_S = 5.0
_KEEP_LINES = 200  # output kept for details; every line is still handed to `on_line`
_AFTER_EXIT_S = 0.2  # how long to keep reading once the leader has exited (see _pump)


@dataclass(frozen=True)
class RunResult:
    """What happened: `returncode` is None when the process did not start or was killed."""

    argv: tuple[str, ...]
    returncode: int | None
    lines: tuple[str, ...] = ()
    timed_out: bool = False
    error: str | None = None  # why it could not start

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    @property
    def last_line(self) -> str:
        return next((line for line in reversed(self.lines) if line.strip()), "")

    def reason(self, timeout_s: float) -> str:
        """Why it failed, for a detail line ("" when it succeeded)."""
        if self.error is not None:
            return self.error
        if self.timed_out:
            return f"timed out after {timeout_s:g} s (process group killed)"
        if self.returncode == 0:
            return ""
        status = (
            f"killed by signal {-self.returncode}"
            if self.returncode is not None and self.returncode < 0
            else f"exit {self.returncode}"
        )
        return f"{status}: {self.last_line}" if self.last_line else status


def run(
    argv: Sequence[str],
    *,
    timeout_s: float,
    on_line: Callable[[str], None] | None = None,
    grace_s: float = GRACE_S,
    on_start: Callable[[int], None] | None = None,
) -> RunResult:
    """Run `argv`, hand each output line (stdout and stderr merged) to `on_line`;
    `on_start` is told the child's process group id (its pid) as soon as it runs."""
    args = tuple(argv)
    try:
        proc = subprocess.Popen(
            args,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    except FileNotFoundError:
        where = f" (relative to {os.getcwd()})" if not os.path.isabs(args[0]) else ""
        return RunResult(args, None, error=f"executable not found: {args[0]}{where}")
    except PermissionError:
        return RunResult(args, None, error=f"not executable: {args[0]}")
    except OSError as e:
        return RunResult(args, None, error=f"cannot run {args[0]}: {e.strerror or e}")
    lines: list[str] = []

    def emit(line: str) -> None:
        lines.append(line)
        del lines[:-_KEEP_LINES]
        if on_line is not None:
            on_line(line)

    deadline = time.monotonic() + timeout_s
    with proc:
        assert proc.stdout is not None
        if on_start is not None:
            try:
                on_start(proc.pid)
            except BaseException:
                # Unrecorded, the child could outlive us unseen: it must not run at all.
                _kill_group(proc, grace_s=grace_s)
                raise
        finished = _pump(proc, deadline=deadline, emit=emit)
        if not finished:
            _kill_group(proc, grace_s=grace_s)
            _drain(proc, emit=emit)
            return RunResult(args, None, tuple(lines), timed_out=True)
        return RunResult(args, proc.returncode, tuple(lines))


def _pump(proc: subprocess.Popen[bytes], *, deadline: float, emit: Callable[[str], None]) -> bool:
    """Read output until the leader exits (True) or the deadline passes (False)."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    pending = b""
    exited_at: float | None = None
    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_READ)
        while True:
            now = time.monotonic()
            if exited_at is None and proc.poll() is not None:
                exited_at = now
            # A descendant that outlives the leader (a daemon the script started) may keep
            # the pipe open for ever: once the leader is gone, read only what is already there.
            if exited_at is not None:
                left = _AFTER_EXIT_S - (now - exited_at)
                if left <= 0:
                    break
            else:
                left = deadline - now
                if left <= 0:
                    return False
            if not sel.select(timeout=min(left, _AFTER_EXIT_S)):
                continue
            chunk = os.read(fd, 65536)
            if not chunk:  # EOF: every writer is gone, only the exit status is left
                if exited_at is None and not _wait(proc, deadline=deadline):
                    return False
                break
            pending = _split(pending + chunk, emit)
    if pending:
        emit(_decode(pending))
    return True


def _wait(proc: subprocess.Popen[bytes], *, deadline: float) -> bool:
    try:
        proc.wait(timeout=max(0.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        return False
    return True


def _split(data: bytes, emit: Callable[[str], None]) -> bytes:
    *complete, rest = data.split(b"\n")
    for raw in complete:
        emit(_decode(raw))
    return rest


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace").rstrip("\r")


def _kill_group(proc: subprocess.Popen[bytes], *, grace_s: float) -> None:
    """SIGTERM the group, give it `grace_s`, then SIGKILL whatever is left of it.

    The leader is not reaped until the SIGKILL has been sent: while it is a zombie its pid
    (the group id) cannot be reused, so the second killpg cannot hit an unrelated group.
    """
    pgid = proc.pid
    _signal_group(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and not _leader_exited(proc.pid):
        time.sleep(0.05)  # waiting on the child: no blocking wait exists that does not reap
    _signal_group(pgid, signal.SIGKILL)  # children that ignored SIGTERM, or outlived the leader
    proc.wait()


def _leader_exited(pid: int) -> bool:
    try:
        info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return True
    return info is not None


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):  # the whole group has already exited
        os.killpg(pgid, sig)


def _drain(proc: subprocess.Popen[bytes], *, emit: Callable[[str], None]) -> None:
    """Whatever the killed group had written and not yet been read."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    pending = b""
    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_READ)
        while sel.select(timeout=0):
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            pending = _split(pending + chunk, emit)
    if pending:
        emit(_decode(pending))


def leader_running(pgid: int) -> bool:
    """Whether the command that leads process group `pgid` still runs: the group's first
    process (its pid is the group id), not yet exited and still leading that group. Like
    `run`, it is the leader's exit that ends a command: a daemon it left in the group does not
    count, nor does its zombie (inside a container nobody may ever reap an orphan)."""
    try:
        with open(f"/proc/{pgid}/stat", encoding="utf-8", errors="replace") as f:
            stat = f.read()
    except FileNotFoundError:
        return False
    except OSError:  # no /proc here: whether the group has any process at all
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True  # it exists, and belongs to someone else
        return True
    fields = stat.rsplit(")", 1)[-1].split()  # the command name may hold spaces and ')'
    return len(fields) > 2 and fields[0] not in ("Z", "X") and fields[2] == str(pgid)
