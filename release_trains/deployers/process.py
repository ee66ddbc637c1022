"""Run one argv (never a shell) with a timeout that kills the whole process group.

Shared by the command deployer and the command health probe. The child starts a new
session, so a deploy script's own children (`sleep`, `kubectl`, ...) share its process group
and a timeout takes all of them down: SIGTERM to the group, a grace period, then SIGKILL.
Callers resolve relative executables such as `./bin/deploy` against --root first
(executables.py); a bare name is looked up on PATH.

Output caps. The output (stdout and stderr merged) is always read to its end, so a chatty
command never blocks on a full pipe, but only a bounded part of it is kept (`_Capture`):
- `LOG_HEAD_BYTES` (64 KiB): the first lines are handed to `on_line` as they come (the
  deployers write them to release_monitoring.log). Past that, nothing more is handed on until
  the command ends; then one line `[... N bytes cut]` and the kept end follow.
- `KEEP_BYTES` (64 KiB, callers may ask for another bound): the end of the output, kept as
  `RunResult.lines`; what is cut before it is counted in `cut_bytes`. Versions, signal values
  and failure reasons are read from these lines.
- `DETAIL_CHARS` (500): the last output line quoted in a failure reason, which becomes a
  step's error, an event, an audit record and part of `status --json`.
So 60 MB of deploy output costs at most about 200 KiB of memory and log.
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
LOG_HEAD_BYTES = 64 * 1024  # output handed to `on_line` as it comes (the monitoring log)
KEEP_BYTES = 64 * 1024  # the end of the output kept in RunResult.lines (and logged at the end)
DETAIL_CHARS = 500  # the last output line quoted in a failure reason (step error, audit)
_READ_BYTES = 65536
_AFTER_EXIT_S = 0.2  # how long to keep reading once the leader has exited (see _pump)


@dataclass(frozen=True)
class RunResult:
    """What happened: `returncode` is None when the process did not start or was killed."""

    argv: tuple[str, ...]
    returncode: int | None
    lines: tuple[str, ...] = ()
    timed_out: bool = False
    error: str | None = None  # why it could not start
    cut_bytes: int = 0  # output before `lines` that was read and dropped (see KEEP_BYTES)

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
        line = self.last_line
        if len(line) > DETAIL_CHARS:  # the output is untrusted and unbounded: quote its end
            line = f"[... {len(line) - DETAIL_CHARS} chars cut]{line[-DETAIL_CHARS:]}"
        return f"{status}: {line}" if line else status


def run(
    argv: Sequence[str],
    *,
    timeout_s: float,
    on_line: Callable[[str], None] | None = None,
    grace_s: float = GRACE_S,
    keep_bytes: int = KEEP_BYTES,
    on_start: Callable[[int], None] | None = None,
) -> RunResult:
    """Run `argv`, hand its output lines (stdout and stderr merged) to `on_line`, keep the
    last `keep_bytes` of it (the module docstring says what is kept and handed on);
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
        # relative paths were made absolute under --root (executables.py): a bare name was
        # looked up on PATH
        where = " (looked up on PATH)" if "/" not in args[0] else ""
        return RunResult(args, None, error=f"executable not found: {args[0]}{where}")
    except PermissionError:
        return RunResult(args, None, error=f"not executable: {args[0]}")
    except OSError as e:
        return RunResult(args, None, error=f"cannot run {args[0]}: {e.strerror or e}")
    capture = _Capture(on_line, keep_bytes=keep_bytes)
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
        finished = _pump(proc, deadline=deadline, feed=capture.feed)
        if not finished:
            _kill_group(proc, grace_s=grace_s)
            _drain(proc, feed=capture.feed)
        lines, cut = capture.finish()
        if not finished:
            return RunResult(args, None, lines, timed_out=True, cut_bytes=cut)
        return RunResult(args, proc.returncode, lines, cut_bytes=cut)


class _Capture:
    """A command's output as it is read: the head handed on line by line (LOG_HEAD_BYTES),
    the last `keep_bytes` kept, everything else counted and dropped (module docstring)."""

    def __init__(self, on_line: Callable[[str], None] | None, *, keep_bytes: int) -> None:
        self._on_line = on_line
        self._keep = keep_bytes
        self._total = 0  # bytes read so far
        self._recent = bytearray()  # the last `keep_bytes` of them
        self._logging = on_line is not None  # still handing the head on
        self._log_left = LOG_HEAD_BYTES
        self._pending = bytearray()  # the head's incomplete last line
        self._logged_end = 0  # stream offset just after the last line handed on

    def feed(self, chunk: bytes) -> None:
        start = self._total
        self._total += len(chunk)
        self._recent += chunk
        excess = len(self._recent) - self._keep
        if excess > 0:
            del self._recent[:excess]
        if self._logging:
            self._hand_on(chunk, start=start)

    def _hand_on(self, chunk: bytes, *, start: int) -> None:
        assert self._on_line is not None
        data = bytes(self._pending) + chunk
        offset = start - len(self._pending)  # stream offset of data[0]
        pos = 0
        while (end := data.find(b"\n", pos)) >= 0:
            if end + 1 - pos > self._log_left:
                self._stop_logging()
                return
            self._on_line(_decode(data[pos:end]))
            self._log_left -= end + 1 - pos
            pos = end + 1
            self._logged_end = offset + pos
        if len(data) - pos > self._log_left:
            self._stop_logging()
            return
        self._pending = bytearray(data[pos:])

    def _stop_logging(self) -> None:
        self._logging = False
        self._pending = bytearray()

    def finish(self) -> tuple[tuple[str, ...], int]:
        """Hand on what is left to log; the kept lines and how many bytes were cut before them."""
        # The kept end may start inside a line: it is kept as it is, the marker before it in
        # the log says that something was cut, and `cut_bytes` says how much.
        recent_start = self._total - len(self._recent)
        if self._on_line is not None:
            if self._logging:
                if self._pending:
                    self._on_line(_decode(bytes(self._pending)))
            else:
                begin = max(self._logged_end, recent_start)
                if begin > self._logged_end:
                    self._on_line(f"[... {begin - self._logged_end} bytes cut]")
                for line in _lines(bytes(self._recent[begin - recent_start :])):
                    self._on_line(line)
        return _lines(bytes(self._recent)), recent_start


def _lines(data: bytes) -> tuple[str, ...]:
    if not data:
        return ()
    return tuple(_decode(raw) for raw in data.removesuffix(b"\n").split(b"\n"))


def _pump(proc: subprocess.Popen[bytes], *, deadline: float, feed: Callable[[bytes], None]) -> bool:
    """Read output until the leader exits (True) or the deadline passes (False)."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
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
            chunk = os.read(fd, _READ_BYTES)
            if not chunk:  # EOF: every writer is gone, only the exit status is left
                if exited_at is None and not _wait(proc, deadline=deadline):
                    return False
                break
            feed(chunk)
    return True


def _wait(proc: subprocess.Popen[bytes], *, deadline: float) -> bool:
    try:
        proc.wait(timeout=max(0.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        return False
    return True


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


def _drain(proc: subprocess.Popen[bytes], *, feed: Callable[[bytes], None]) -> None:
    """Whatever the killed group had written and not yet been read."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_READ)
        while sel.select(timeout=0):
            chunk = os.read(fd, _READ_BYTES)
            if not chunk:
                break
            feed(chunk)


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
