"""Test helpers shared across test modules (import as `from helpers import ...`: pytest puts
tests/ on sys.path because tests/conftest.py sits outside any package).

- `ScriptedServer` / `serve()`: a threaded HTTP server on 127.0.0.1, port 0, whose replies a
  test scripts per path and that records every request it gets.
- `recording_script()`: an executable deploy script in a folder that appends its arguments
  (`service version`) to a record file, so a test can prove the argv and count attempts.
- `run_main()`: `release-trains ARGS` in-process through main(argv), output captured, for
  module-level helpers that have no `run_cli` fixture at hand.
- `cli_argv()`: the argv that runs the `release-trains` console script of the Python running
  the tests; every test that spawns the CLI goes through it (never through PATH, which may hold
  another checkout's copy).
- `write_script()`, `FakeEnvironment` (an in-memory LocalEnvironment), `wait_until()`,
  `process_gone()`, `closed_port()`.
"""

from __future__ import annotations

import json
import os
import shlex
import socket
import stat
import sys
import sysconfig
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

HANG_LIMIT_S = 30.0  # a hanging reply gives up after this even if the server is never closed
CONSOLE_SCRIPT = "release-trains"


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: Any = None  # dict/list: JSON; str: text; None: empty
    hang: bool = False  # accept and read the request, never answer (until the server closes)


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class ScriptedServer:
    url: str = ""
    requests: list[Seen] = field(default_factory=list)
    _replies: dict[str, deque[Reply]] = field(default_factory=dict)
    _then: dict[str, Reply] = field(default_factory=dict)
    _changed: threading.Condition = field(default_factory=threading.Condition)
    _closing: threading.Event = field(default_factory=threading.Event)

    def script(self, path: str, *replies: Reply, then: Reply | None = None) -> None:
        """Answer requests to `path` ("*" for any path) with `replies` in order, then `then`
        for ever (default: the last reply again)."""
        with self._changed:
            self._replies[path] = deque(replies)
            self._then[path] = then or (replies[-1] if replies else Reply())

    def wait_for(self, count: int, *, timeout_s: float = 5.0) -> list[Seen]:
        """Block until at least `count` requests have arrived (AssertionError at the deadline)."""
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while len(self.requests) < count:
                left = deadline - time.monotonic()
                assert left > 0, f"only {len(self.requests)} of {count} requests arrived"
                self._changed.wait(left)
            return list(self.requests)

    def next_reply(self, seen: Seen) -> Reply:
        with self._changed:
            self.requests.append(seen)
            self._changed.notify_all()
            key = seen.path.split("?")[0]
            key = key if key in self._then else "*"
            queue = self._replies.get(key)
            if queue:
                return queue.popleft()
            return self._then.get(key, Reply(404, {"error": f"nothing scripted for {key}"}))


def _handler(server: ScriptedServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
            pass

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            reply = server.next_reply(Seen(self.command, self.path, headers, body))
            if reply.hang:
                server._closing.wait(HANG_LIMIT_S)
                return
            if isinstance(reply.body, (dict, list)):
                data, kind = json.dumps(reply.body).encode(), "application/json"
            else:
                data, kind = (reply.body or "").encode(), "text/plain"
            self.send_response(reply.status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = _answer

    return Handler


@contextmanager
def serve() -> Iterator[ScriptedServer]:
    """A ScriptedServer running on 127.0.0.1 for the duration of the block."""
    scripted = ScriptedServer()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(scripted))
    httpd.daemon_threads = True
    scripted.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield scripted
    finally:
        scripted._closing.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def console_script() -> Path:
    """The `release-trains` console script installed for the Python running the tests.

    It sits next to sys.executable in a virtualenv or a pyenv/conda install; a distribution's
    Python installs scripts under its own scripts directory (`/usr/local/bin`), which sysconfig
    names. PATH is never searched: it may hold an older install from another checkout, and the
    tests would then pass or fail on code that is not the one under test.
    """
    candidates = [Path(sys.executable).parent / CONSOLE_SCRIPT]
    candidates.append(Path(sysconfig.get_path("scripts")) / CONSOLE_SCRIPT)
    for path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            return path
    looked = ", ".join(str(c) for c in dict.fromkeys(candidates))
    raise AssertionError(
        f"no {CONSOLE_SCRIPT} console script for {sys.executable} (looked at {looked}): "
        f'install the project into this Python first: {sys.executable} -m pip install -e ".[test]"'
    )


def run_main(*args: str | Path) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of main(ARGS), run in this process."""
    import io
    from contextlib import redirect_stderr, redirect_stdout

    from release_trains.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main([str(a) for a in args])
    return code, out.getvalue(), err.getvalue()


def cli_argv(*args: str | Path) -> list[str]:
    """`release-trains ARGS` as an argv for subprocess (the console script, see above)."""
    return [str(console_script()), *(str(a) for a in args)]


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def write_script(path: Path, body: str) -> Path:
    """An executable /bin/sh script at `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + body, encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


@dataclass(frozen=True)
class Recorder:
    script: Path
    record: Path

    def lines(self) -> list[str]:
        if not self.record.exists():
            return []
        return self.record.read_text(encoding="utf-8").splitlines()


def recording_script(
    folder: Path, *, name: str = "deploy", exit_code: int = 0, output: str = ""
) -> Recorder:
    """A script that appends its arguments to `<name>.record`, prints, and exits."""
    record = folder / f"{name}.record"
    body = f'printf "%s\\n" "$*" >> {shlex.quote(str(record))}\necho "{name} $*"\n'
    if output:
        body += f"printf '%s\\n' {shlex.quote(output)}\n"
    body += f"exit {exit_code}\n"
    return Recorder(write_script(folder / name, body), record)


@dataclass
class FakeEnvironment:
    """An in-memory LocalEnvironment: environment -> service -> version."""

    versions: dict[str, dict[str, str | None]] = field(default_factory=dict)

    def deployed_version(self, environment: str, service: str) -> str | None:
        return self.versions.get(environment, {}).get(service)

    def set_deployed_version(
        self, environment: str, service: str, version: str | None
    ) -> str | None:
        here = self.versions.setdefault(environment, {})
        old, here[service] = here.get(service), version
        return old


def wait_until(
    predicate: Callable[[], bool], *, timeout_s: float = 5.0, what: str = "condition"
) -> None:
    """Poll `predicate` until it holds; fail at the deadline (never a fixed sleep)."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, f"{what} not reached within {timeout_s} s"
        time.sleep(0.02)


def process_gone(pid: int) -> bool:
    """True when `pid` no longer runs (a zombie awaiting its reaper counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state == "Z"


OLD_STORE_SQL = Path(__file__).parent / "data" / "state" / "store-0.1.0.sql"


def schema_0_1_0() -> str:
    """Release 0.1.0's CREATE statements (tests/data/state/store-0.1.0.sql without its rows)."""
    return OLD_STORE_SQL.read_text().split("\nINSERT", 1)[0] + "\n"
