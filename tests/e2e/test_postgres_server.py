"""The PostgreSQL test server (tests/pg_server.py, fixtures in tests/pg_fixtures.py) is real,
private, password-protected, and leaves nothing behind, however its session ends."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
from helpers import closed_port, process_gone, wait_until
from pg_server import ExternalServer, PrivateServer

TESTS = Path(__file__).resolve().parents[1]


def _private(server: PrivateServer | ExternalServer) -> PrivateServer:
    if not isinstance(server, PrivateServer):
        pytest.skip("checks the private server; RELEASE_TRAINS_TEST_POSTGRES names another")
    return server


def test_a_table_written_is_read_back(postgres_db_url: str) -> None:
    with psycopg.connect(postgres_db_url) as conn:
        conn.execute("CREATE TABLE runs (id integer PRIMARY KEY, status text NOT NULL)")
        conn.execute("INSERT INTO runs VALUES (1, 'executing'), (2, 'completed')")
        conn.commit()
    with psycopg.connect(postgres_db_url) as conn:
        rows = conn.execute("SELECT id, status FROM runs ORDER BY id").fetchall()
    assert rows == [(1, "executing"), (2, "completed")]


def test_two_connections_see_each_others_committed_rows(postgres_db_url: str) -> None:
    with psycopg.connect(postgres_db_url) as a, psycopg.connect(postgres_db_url) as b:
        a.execute("CREATE TABLE locks (train text PRIMARY KEY, holder text)")
        a.commit()
        a.execute("INSERT INTO locks VALUES ('T', 'host-a')")
        assert b.execute("SELECT count(*) FROM locks").fetchone() == (0,)  # not committed yet
        b.rollback()  # end b's snapshot, as a new transaction would
        a.commit()
        assert b.execute("SELECT holder FROM locks").fetchall() == [("host-a",)]
        b.execute("UPDATE locks SET holder = 'host-b'")
        b.commit()
        assert a.execute("SELECT holder FROM locks").fetchall() == [("host-b",)]


def test_each_test_database_is_new_empty_and_dropped_afterwards(
    postgres_server: PrivateServer | ExternalServer, postgres_db_url: str
) -> None:
    with psycopg.connect(postgres_db_url) as conn:
        tables = conn.execute(
            "SELECT count(*) FROM pg_tables"
            " WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
        )
        assert tables.fetchone() == (0,)
        conn.execute("CREATE TABLE mine (x integer)")
        conn.commit()
    with postgres_server.fresh_database() as other:
        name = urlsplit(other).path.lstrip("/")
        assert other != postgres_db_url
        with psycopg.connect(other) as conn:
            assert conn.execute("SELECT to_regclass('mine')").fetchone() == (None,)
    with psycopg.connect(postgres_db_url) as conn:
        left = conn.execute("SELECT count(*) FROM pg_database WHERE datname = %s", [name])
        assert left.fetchone() == (0,)


def test_the_server_listens_on_127_0_0_1_only(
    postgres_server: PrivateServer | ExternalServer, postgres_url: str
) -> None:
    server = _private(postgres_server)
    with psycopg.connect(postgres_url) as conn:
        assert conn.execute("SHOW listen_addresses").fetchone() == ("127.0.0.1",)
        assert conn.execute("SELECT host(inet_server_addr())").fetchone() == ("127.0.0.1",)
    with server.admin_connect() as conn:  # only a superuser may read this setting
        (sockets,) = conn.execute("SHOW unix_socket_directories").fetchone()
    # The unix socket is in the server's own folder, which only its user may enter.
    assert Path(sockets) == server.socket_dir
    assert server.socket_dir.stat().st_mode & 0o077 == 0
    assert urlsplit(postgres_url).hostname == "127.0.0.1"


def test_no_url_or_repr_carries_the_password(
    postgres_server: PrivateServer | ExternalServer,
    postgres_url: str,
    postgres_db_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = _private(postgres_server)
    for shown in (postgres_url, postgres_db_url, repr(server), str(server)):
        assert server.password not in shown
    assert urlsplit(postgres_url).password is None
    assert urlsplit(postgres_db_url).password is None
    # The URL alone connects, through the passfile the fixture put in the environment ...
    assert os.environ["PGPASSFILE"] == str(server.passfile)
    with psycopg.connect(postgres_db_url) as conn:
        assert conn.execute("SELECT current_user").fetchone() == ("release_trains",)
    # ... and without the passfile the server refuses: it is not open to anyone on the host.
    monkeypatch.delenv("PGPASSWORD", raising=False)
    with pytest.raises(psycopg.OperationalError, match="password"):
        psycopg.connect(postgres_db_url, passfile=os.devnull, connect_timeout=10).close()


def test_an_external_url_with_a_password_is_used_without_showing_it(
    postgres_server: PrivateServer | ExternalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # RELEASE_TRAINS_TEST_POSTGRES's path, pointed at the private server with a password URL.
    server = _private(postgres_server)
    external = ExternalServer(server.password_url_for()).check()
    assert server.password not in external.url + repr(external)
    assert external.env() == {"PGPASSWORD": server.password}
    monkeypatch.setenv("PGPASSFILE", os.devnull)  # only PGPASSWORD may let it in
    monkeypatch.setenv("PGPASSWORD", server.password)
    with external.fresh_database() as url:
        assert server.password not in url
        with psycopg.connect(url) as conn:
            conn.execute("CREATE TABLE t (x integer)")  # the role owns what it created


@pytest.mark.slow
def test_a_second_server_runs_beside_the_first(
    postgres_server: PrivateServer | ExternalServer,
) -> None:
    first = _private(postgres_server)
    second = PrivateServer().start()
    try:
        assert second.port != first.port
        assert second.base is not None and first.base is not None
        assert second.base != first.base
        with second.admin_connect() as conn:
            conn.execute("CREATE DATABASE only_in_second")
        with first.admin_connect() as conn:
            found = conn.execute(
                "SELECT count(*) FROM pg_database WHERE datname = 'only_in_second'"
            )
            assert found.fetchone() == (0,)
        pid, base, port = second.pid, second.base, second.port
        assert pid is not None
    finally:
        second.stop()
    assert not base.exists()
    assert process_gone(pid)
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port)):
        pass
    with first.admin_connect() as conn:  # the session's server is untouched
        assert conn.execute("SELECT 1").fetchone() == (1,)


# A process that starts a server, says where it lives, and waits to be ended.
_HOLDER = """
import json, sys
from pg_server import PrivateServer
server = PrivateServer().start()
print(json.dumps({"base": str(server.base), "pid": server.pid, "port": server.port}), flush=True)
sys.stdin.readline()
"""


@pytest.mark.slow
@pytest.mark.parametrize(
    "sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT], ids=lambda s: s.name
)
def test_an_ended_session_leaves_no_server_and_no_folder(sig: signal.Signals) -> None:
    # SIGKILL and SIGTERM skip atexit: the watchdog cleans up. SIGINT is a Ctrl-C: atexit does.
    env = {**os.environ, "PYTHONPATH": str(TESTS)}
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env
    )
    try:
        assert holder.stdout is not None
        line = holder.stdout.readline()
        assert line, "the holder did not start its server"
        started = json.loads(line)
        base, pid = Path(started["base"]), int(started["pid"])
        assert base.is_dir() and not process_gone(pid)
        holder.send_signal(sig)
        holder.wait(timeout=60)
        wait_until(lambda: process_gone(pid), timeout_s=30, what="the postmaster ended")
        wait_until(lambda: not base.exists(), timeout_s=30, what="the server folder removed")
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()


def _pytest_needing_postgres(
    tmp_path: Path, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """A pytest session of two tests that need a server, in `env`; its result."""
    (tmp_path / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    (tmp_path / "test_needs_pg.py").write_text(
        "def test_one(postgres_db_url):\n    pass\n\n\ndef test_two(postgres_url):\n    pass\n",
        encoding="utf-8",
    )
    inherited = {
        k: v
        for k, v in os.environ.items()
        if k not in ("RELEASE_TRAINS_TEST_POSTGRES", "RELEASE_TRAINS_TEST_PG_BINDIR", "CI")
    }
    return subprocess.run(
        [
            *(sys.executable, "-m", "pytest", "-rA"),
            *("-p", "pg_fixtures", "-p", "no:cacheprovider"),
            str(tmp_path / "test_needs_pg.py"),
        ],
        cwd=tmp_path,
        env={**inherited, "PYTHONPATH": str(TESTS), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_without_binaries_the_tests_that_need_a_server_fail_rather_than_skip(
    tmp_path: Path,
) -> None:
    empty = tmp_path / "no-binaries"
    empty.mkdir()
    proc = _pytest_needing_postgres(
        tmp_path, {"RELEASE_TRAINS_TEST_PG_BINDIR": str(empty), "CI": "true"}
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "2 errors" in proc.stdout and "skipped" not in proc.stdout, proc.stdout
    assert "no PostgreSQL server for the tests in CI" in proc.stdout, proc.stdout
    assert "apt-get install -y postgresql" in proc.stdout, proc.stdout


def test_an_unreachable_external_server_fails_the_tests_without_showing_its_password(
    tmp_path: Path,
) -> None:
    url = f"postgresql://rt:s3cret-pw@127.0.0.1:{closed_port()}/rt"
    proc = _pytest_needing_postgres(tmp_path, {"RELEASE_TRAINS_TEST_POSTGRES": url})
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "2 errors" in proc.stdout and "skipped" not in proc.stdout, proc.stdout
    assert "cannot connect to RELEASE_TRAINS_TEST_POSTGRES" in proc.stdout, proc.stdout
    assert "s3cret-pw" not in proc.stdout + proc.stderr
