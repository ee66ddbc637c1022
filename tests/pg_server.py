"""A real PostgreSQL server for the tests: a private one started from the machine's binaries, or
an existing one named by `RELEASE_TRAINS_TEST_POSTGRES=URL`. The fixtures are in pg_fixtures.py.

The private server (`PrivateServer`):
- runs `initdb` / `pg_ctl` from `pg_config --bindir`, `/usr/lib/postgresql/*/bin` or PATH
  (`RELEASE_TRAINS_TEST_PG_BINDIR` picks a folder), as the `postgres` user when we are root
  (initdb refuses root);
- lives in its own temporary folder and listens on 127.0.0.1 only, on a free port (its unix
  socket is in that folder), so two test sessions at once get two servers;
- requires a password (scram-sha-256) for every connection; the passwords are in a passfile in
  that folder (`env()` gives `PGPASSFILE`), never in a URL;
- is stopped (`pg_ctl stop -m fast`) and its folder removed by `stop()`, at interpreter exit,
  and, should the test process die without either (SIGKILL, SIGTERM), by a watchdog process
  that waits for the end of a pipe only the test process holds.

Run as a script (`python pg_server.py watch ...`) this module is that watchdog, so it imports
nothing beyond the standard library at module level.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

INSTALL_HINT = (
    "install PostgreSQL's server binaries (Debian/Ubuntu: `apt-get install -y postgresql`; "
    ".ci/run does this when pg_ctl is missing), or point RELEASE_TRAINS_TEST_POSTGRES at an "
    "existing server: postgresql://USER@HOST:PORT/DBNAME, whose USER may CREATE DATABASE"
)

ADMIN_ROLE = "rt_admin"  # the superuser initdb creates; only the fixtures use it
# What the tests connect as: owns its databases and may create more (as a role named by
# RELEASE_TRAINS_TEST_POSTGRES must), no superuser.
TEST_ROLE = "release_trains"
TEST_DATABASE = "release_trains"
START_DEADLINE_S = 60.0
STOP_DEADLINE_S = 30.0
PORT_ATTEMPTS = 3  # another process may take the free port between our probe and the bind
SOCKET_PATH_MAX = 100  # sun_path is 108 bytes; the socket is "<dir>/.s.PGSQL.<port>"

# A throwaway server trades durability for speed: nothing in it has to survive an OS crash.
# Killing a client (the kill -9 tests) is unaffected. A benchmark passes its own settings.
FAST_SETTINGS: Mapping[str, str] = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "shared_buffers": "32MB",  # several sessions may run on one small machine
}


class PostgresUnavailable(Exception):
    """No server can be used; the message says why and what to install."""


# --- binaries and the user the server runs as -------------------------------------------------


def _version_key(bindir: Path) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", bindir.parent.name)) or (0,)


def _is_server_bindir(folder: Path) -> bool:
    return all(os.access(folder / tool, os.X_OK) for tool in ("initdb", "pg_ctl", "postgres"))


def find_bindir(environ: Mapping[str, str] | None = None) -> Path:
    """The folder holding initdb, pg_ctl and postgres."""
    environ = os.environ if environ is None else environ
    chosen = environ.get("RELEASE_TRAINS_TEST_PG_BINDIR")
    if chosen:
        if _is_server_bindir(Path(chosen)):
            return Path(chosen)
        raise PostgresUnavailable(
            f"RELEASE_TRAINS_TEST_PG_BINDIR={chosen} holds no initdb, pg_ctl and postgres; "
            + INSTALL_HINT
        )
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        # libpq-dev's pg_config may name a bindir without a server in it: checked below.
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True
            ).stdout.strip()
            if out:
                candidates.append(Path(out))
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=_version_key, reverse=True)
    pg_ctl = shutil.which("pg_ctl")
    if pg_ctl:
        candidates.append(Path(pg_ctl).resolve().parent)
    for folder in candidates:
        if _is_server_bindir(folder):
            return folder
    looked = ", ".join(str(c) for c in candidates) or "pg_config, /usr/lib/postgresql/*/bin, PATH"
    raise PostgresUnavailable(
        f"no PostgreSQL server binaries (initdb, pg_ctl) found (looked in {looked}); "
        + INSTALL_HINT
    )


def require_psycopg() -> Any:
    """The psycopg module; PostgresUnavailable, saying how to get it, when it is missing."""
    try:
        import psycopg
    except ImportError as e:
        raise PostgresUnavailable(
            f"the PostgreSQL driver is missing ({e}): pip install -e '.[test]'"
        ) from e
    return psycopg


def server_user() -> pwd.struct_passwd | None:
    """Who runs the server: None (ourselves) unless we are root, whom initdb refuses."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise PostgresUnavailable(
        "running as root, which initdb refuses, and there is no 'postgres' (or 'nobody') user "
        "to run the server as; " + INSTALL_HINT
    )


def _as_user(user: pwd.struct_passwd | None) -> dict[str, Any]:
    """subprocess arguments that run a child as `user` (no supplementary groups of ours)."""
    if user is None:
        return {}
    return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}


def _server_env(user: pwd.struct_passwd | None) -> dict[str, str]:
    # A clean environment: no PG* variable of the developer's shell may steer initdb or pg_ctl.
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "LANG": "C"}
    env["HOME"] = user.pw_dir if user is not None else os.environ.get("HOME", "/")
    return env


def _traversable_by_others(folder: Path) -> bool:
    return all(p.stat().st_mode & 0o001 for p in (folder, *folder.parents))


def _make_base(user: pwd.struct_passwd | None) -> Path:
    parent = Path(tempfile.gettempdir()).resolve()
    # The server user must reach its folder, and the socket path must fit in sun_path.
    sock_path = f"{parent}/release-trains-pg-XXXXXXXX/server/socket/.s.PGSQL.65535"
    unreachable = user is not None and not _traversable_by_others(parent)
    if unreachable or len(sock_path) > SOCKET_PATH_MAX:
        parent = Path("/tmp")
    base = Path(tempfile.mkdtemp(prefix="release-trains-pg-", dir=parent))
    if user is not None:
        base.chmod(0o711)  # the server user may pass through, not list; server/ is its own
    return base


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tail(path: Path, *, start: int = 0, lines: int = 15) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(start)
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


# --- stopping: shared by stop(), atexit and the watchdog ---------------------------------------


def _postmaster_pid(data: Path) -> int | None:
    try:
        return int((data / "postmaster.pid").read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return None


def _pid_alive(pid: int) -> bool:
    """False once `pid` has exited: a zombie awaiting a slow init's reaping counts as gone."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


def stop_and_remove(
    base: Path, *, bindir: Path, user: pwd.struct_passwd | None, mode: str = "fast"
) -> None:
    """Stop the server whose folder is `base` (if it runs) and remove the folder."""
    data = base / "server" / "data"
    pid = _postmaster_pid(data)
    if pid is not None and _pid_alive(pid):
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            subprocess.run(
                [
                    str(bindir / "pg_ctl"),
                    "stop",
                    *("--pgdata", str(data), "--mode", mode),
                    *("--wait", "--timeout", str(int(STOP_DEADLINE_S))),
                ],
                capture_output=True,
                timeout=STOP_DEADLINE_S + 10,
                env=_server_env(user),
                cwd="/",
                **_as_user(user),
            )
        if _pid_alive(pid):
            # pg_ctl could not stop it: the postmaster is ours, so end it by its own id.
            # SIGQUIT is PostgreSQL's immediate shutdown (it takes its children down).
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGQUIT)
            deadline = time.monotonic() + STOP_DEADLINE_S
            while _pid_alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            if _pid_alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
    shutil.rmtree(base, ignore_errors=True)


# --- the servers --------------------------------------------------------------------------------


def _write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read, from its first byte."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)


def _quote_conf(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def _passfile_field(value: str) -> str:
    return value.replace("\\", "\\\\").replace(":", "\\:")


def _strip_password(url: str) -> tuple[str, str | None]:
    """(url without its password, the password or None)."""
    parts = urlsplit(url)
    userinfo, at, hostinfo = parts.netloc.rpartition("@")
    if not at or ":" not in userinfo:
        return url, None
    user, _, password = userinfo.partition(":")
    netloc = f"{user}@{hostinfo}"
    return urlunsplit(parts._replace(netloc=netloc)), unquote(password)


def _replace_dbname(url: str, dbname: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/" + dbname))


class _Databases:
    """CREATE DATABASE / DROP DATABASE for one test each; subclasses say how to connect."""

    url: str
    _names = itertools.count(1)

    def admin_connect(self) -> Any:  # psycopg.Connection, imported lazily
        raise NotImplementedError

    def url_for(self, dbname: str) -> str:
        return _replace_dbname(self.url, dbname)

    def env(self) -> dict[str, str]:
        """Environment variables a client needs besides the URL (the password's source)."""
        return {}

    @contextlib.contextmanager
    def fresh_database(self) -> Iterator[str]:
        """A new empty database owned by the test role; its URL; dropped afterwards."""
        from psycopg import sql

        # The pid keeps two sessions sharing one external server apart.
        name = f"t_{os.getpid()}_{next(self._names)}"
        create = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if self.owner is not None:
            create += sql.SQL(" OWNER {}").format(sql.Identifier(self.owner))
        with self.admin_connect() as conn:
            conn.execute(create)
        try:
            yield self.url_for(name)
        finally:
            with self.admin_connect() as conn:
                # FORCE: a test's killed subprocess may have left a connection behind.
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )

    @property
    def owner(self) -> str | None:
        """The role that owns a fresh database (None: whoever creates it)."""
        return None


class PrivateServer(_Databases):
    """A PostgreSQL server of our own, in a temporary folder, on 127.0.0.1 only."""

    private = True

    def __init__(
        self,
        *,
        settings: Mapping[str, str] = FAST_SETTINGS,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self._settings = dict(settings)
        self._environ = os.environ if environ is None else environ
        self.port = 0
        self.base: Path | None = None
        self.startup_s: float | None = None
        self._password = secrets.token_hex(16)
        self._admin_password = secrets.token_hex(16)
        self._watchdog: subprocess.Popen[bytes] | None = None
        self._watch_fd: int | None = None
        self._stopped = False

    def __repr__(self) -> str:  # never the passwords
        return f"PrivateServer(url={getattr(self, 'url', None)!r}, base={self.base})"

    # -- paths ---------------------------------------------------------------------------------

    @property
    def _server_dir(self) -> Path:
        assert self.base is not None
        return self.base / "server"

    @property
    def data(self) -> Path:
        return self._server_dir / "data"

    @property
    def log(self) -> Path:
        return self._server_dir / "server.log"

    @property
    def socket_dir(self) -> Path:
        return self._server_dir / "socket"

    @property
    def passfile(self) -> Path:
        assert self.base is not None
        return self.base / "pgpass"

    @property
    def pid(self) -> int | None:
        return _postmaster_pid(self.data)

    @property
    def owner(self) -> str:
        return TEST_ROLE

    def env(self) -> dict[str, str]:
        return {"PGPASSFILE": str(self.passfile)}

    def password_url_for(self, dbname: str = TEST_DATABASE) -> str:
        """A URL *with* the test role's password, for tests proving it is never shown."""
        return f"postgresql://{TEST_ROLE}:{self._password}@127.0.0.1:{self.port}/{dbname}"

    @property
    def password(self) -> str:
        return self._password

    # -- life ------------------------------------------------------------------------------------

    def start(self) -> PrivateServer:
        started = time.monotonic()
        require_psycopg()
        self._bindir = find_bindir(self._environ)
        self._user = server_user()
        self.base = _make_base(self._user)
        # From here on the folder exists: whatever happens, it must go.
        atexit.register(self.stop)
        try:
            self._start_watchdog()
            self._initdb()
            self._launch()
            self._wait_ready(deadline=started + START_DEADLINE_S)
            self._create_test_role_and_database()
        except BaseException:
            self.stop()
            raise
        self.url = f"postgresql://{TEST_ROLE}@127.0.0.1:{self.port}/{TEST_DATABASE}"
        self.startup_s = time.monotonic() - started
        return self

    def _run(self, argv: list[str], *, what: str, timeout_s: float = START_DEADLINE_S) -> None:
        try:
            proc = subprocess.run(
                argv,
                capture_output=True,
                text=True,
                timeout=timeout_s,
                env=_server_env(self._user),
                cwd=self._server_dir,
                # Its own session: a Ctrl-C on the terminal reaches pytest, which then stops the
                # server in order, instead of killing the postmaster under a running test.
                start_new_session=True,
                **_as_user(self._user),
            )
        except (OSError, subprocess.SubprocessError) as e:
            raise PostgresUnavailable(f"{what} could not run: {e}") from e
        if proc.returncode != 0:
            raise PostgresUnavailable(
                f"{what} failed (exit {proc.returncode}): {(proc.stdout + proc.stderr).strip()}"
            )

    def _own(self, path: Path) -> None:
        if self._user is not None:
            os.chown(path, self._user.pw_uid, self._user.pw_gid)

    def _initdb(self) -> None:
        self._server_dir.mkdir(mode=0o700)
        self._own(self._server_dir)
        pwfile = self._server_dir / "admin-password"
        _write_private(pwfile, self._admin_password + "\n")
        self._own(pwfile)
        self._run(
            [
                str(self._bindir / "initdb"),
                *("--pgdata", str(self.data), "--username", ADMIN_ROLE, "--pwfile", str(pwfile)),
                *("--auth", "scram-sha-256", "--encoding", "UTF8", "--locale", "C"),
                "--no-sync",  # a throwaway cluster: no fsync of every file it creates
            ],
            what="initdb",
        )
        pwfile.unlink()
        self.socket_dir.mkdir(mode=0o700)
        self._own(self.socket_dir)
        settings = {
            "listen_addresses": "127.0.0.1",
            "unix_socket_directories": str(self.socket_dir),
            **self._settings,
        }
        with open(self.data / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.write("\n# release-trains test server\n")
            for key, value in settings.items():
                conf.write(f"{key} = {_quote_conf(value)}\n")

    def _launch(self) -> None:
        for attempt in range(1, PORT_ATTEMPTS + 1):
            self.port = free_port()
            self._write_passfile()
            log_start = self.log.stat().st_size if self.log.exists() else 0
            try:
                self._run(
                    [
                        str(self._bindir / "pg_ctl"),
                        "start",
                        *("--pgdata", str(self.data), "--log", str(self.log)),
                        *("--wait", "--timeout", str(int(START_DEADLINE_S))),
                        *("-o", f"-p {self.port}"),
                    ],
                    what="pg_ctl start",
                    timeout_s=START_DEADLINE_S + 10,
                )
                return
            except PostgresUnavailable as e:
                log = _tail(self.log, start=log_start)
                if "could not bind" in log and attempt < PORT_ATTEMPTS:
                    continue  # the port was taken meanwhile: another one
                raise PostgresUnavailable(f"{e}\nserver log ({self.log}):\n{log}") from e

    def _write_passfile(self) -> None:
        lines = [
            f"{host}:{self.port}:*:{role}:{_passfile_field(password)}\n"
            for host in ("127.0.0.1", "localhost")
            for role, password in ((TEST_ROLE, self._password), (ADMIN_ROLE, self._admin_password))
        ]
        _write_private(self.passfile, "".join(lines))  # libpq ignores a passfile others can read

    def admin_connect(self, dbname: str = "postgres") -> Any:
        import psycopg

        return psycopg.connect(
            host="127.0.0.1",
            port=self.port,
            user=ADMIN_ROLE,
            password=self._admin_password,
            dbname=dbname,
            autocommit=True,
            connect_timeout=10,
        )

    def _wait_ready(self, *, deadline: float) -> None:
        # pg_ctl --wait already waited for the postmaster; poll a real connection anyway, with
        # the same deadline, since that is what the tests need.
        import psycopg

        while True:
            try:
                with self.admin_connect():
                    return
            except psycopg.OperationalError as e:
                if time.monotonic() > deadline:
                    raise PostgresUnavailable(
                        f"the server on 127.0.0.1:{self.port} did not accept connections within "
                        f"{START_DEADLINE_S:.0f} s: {e}\nserver log:\n{_tail(self.log)}"
                    ) from e
                time.sleep(0.05)

    def _create_test_role_and_database(self) -> None:
        from psycopg import sql

        with self.admin_connect() as conn:
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN CREATEDB PASSWORD {}").format(
                    sql.Identifier(TEST_ROLE), sql.Literal(self._password)
                )
            )
            conn.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(
                    sql.Identifier(TEST_DATABASE), sql.Identifier(TEST_ROLE)
                )
            )

    def _start_watchdog(self) -> None:
        assert self.base is not None
        read_fd, write_fd = os.pipe()  # both ends non-inheritable: no other child holds them
        try:
            self._watchdog = subprocess.Popen(
                [
                    *(sys.executable, __file__, "watch", str(self.base), str(self._bindir)),
                    self._user.pw_name if self._user is not None else "",
                ],
                stdin=read_fd,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,  # a Ctrl-C or a kill of our process group spares it
            )
        finally:
            os.close(read_fd)
        self._watch_fd = write_fd

    def stop(self) -> None:
        """Stop the server and remove its folder; safe to call more than once."""
        if self._stopped or self.base is None:
            return
        self._stopped = True
        atexit.unregister(self.stop)
        try:
            stop_and_remove(self.base, bindir=self._bindir, user=self._user)
        finally:
            # The folder is gone: the watchdog, seeing its pipe close, has nothing left to do.
            if self._watch_fd is not None:
                os.close(self._watch_fd)
                self._watch_fd = None
            if self._watchdog is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self._watchdog.wait(timeout=STOP_DEADLINE_S)


class ExternalServer(_Databases):
    """The server RELEASE_TRAINS_TEST_POSTGRES names; its user must be allowed CREATE DATABASE.

    A password in that URL is moved to PGPASSWORD, so no URL a test prints carries it."""

    private = False
    startup_s: float | None = None

    def __init__(self, url: str) -> None:
        if urlsplit(url).scheme not in ("postgresql", "postgres"):
            raise PostgresUnavailable(
                "RELEASE_TRAINS_TEST_POSTGRES must be a postgresql://USER@HOST:PORT/DBNAME URL"
            )
        self.url, self._password = _strip_password(url)

    def __repr__(self) -> str:
        return f"ExternalServer(url={self.url!r})"

    def env(self) -> dict[str, str]:
        return {"PGPASSWORD": self._password} if self._password is not None else {}

    def admin_connect(self) -> Any:
        import psycopg

        return psycopg.connect(
            self.url, password=self._password, autocommit=True, connect_timeout=10
        )

    def check(self) -> ExternalServer:
        psycopg = require_psycopg()
        try:
            with self.admin_connect():
                return self
        except psycopg.Error as e:
            raise PostgresUnavailable(
                f"cannot connect to RELEASE_TRAINS_TEST_POSTGRES ({self.url}): {e}"
            ) from e

    def stop(self) -> None:
        """Not ours to stop."""


def _watch(base: Path, bindir: Path, user_name: str) -> None:
    """The watchdog: block until the pipe from the test process ends, then clean up."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sys.stdin.buffer.read()  # returns at EOF: the test process closed it, or died
    if base.exists():
        user = pwd.getpwnam(user_name) if user_name else None
        stop_and_remove(base, bindir=bindir, user=user)


if __name__ == "__main__" and sys.argv[1:2] == ["watch"]:
    _watch(Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4])
