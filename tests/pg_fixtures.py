"""pytest fixtures for a real PostgreSQL server (a plugin: tests/conftest.py loads it).

- `postgres_server` (session): the server of this test session: a private one started from the
  machine's binaries (pg_server.PrivateServer), or the existing one that
  `RELEASE_TRAINS_TEST_POSTGRES=postgresql://USER@HOST:PORT/DBNAME` names. While it is up, the
  password's source (PGPASSFILE, or PGPASSWORD for an external URL that carried one) is in
  os.environ, so psycopg and the release-trains subprocesses the tests start find it.
- `postgres_url` (session): the URL of the session's database. It carries no password.
- `postgres_db_url` (function): the URL of a new empty database for this test alone
  (`t_<pid>_<n>`, owned by the test role), dropped after the test.

When no server can be had, every test that asks for one fails (never skips) with the reason and
how to install one: the PostgreSQL store is tested on every run, CI included.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from pg_server import ExternalServer, PostgresUnavailable, PrivateServer

_started: list[Any] = []  # the session's server, for the terminal summary


def open_server(environ: dict[str, str] | os._Environ[str]) -> PrivateServer | ExternalServer:
    """The server the session uses; PostgresUnavailable with the reason when there is none."""
    external = environ.get("RELEASE_TRAINS_TEST_POSTGRES")
    if external:
        return ExternalServer(external).check()
    return PrivateServer(environ=environ).start()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PrivateServer | ExternalServer]:
    try:
        server = open_server(os.environ)
    except PostgresUnavailable as e:
        reason = str(e)
    else:
        reason = ""
    if reason:  # failed outside the except block: one message, not a chain of two
        where = "in CI" if os.environ.get("CI") == "true" else "here"
        pytest.fail(
            f"no PostgreSQL server for the tests {where}: {reason}\n"
            "(the PostgreSQL tests fail rather than skip, so the store is always tested)",
            pytrace=False,
        )
    _started.append(server)
    saved = {key: os.environ.get(key) for key in server.env()}
    os.environ.update(server.env())
    try:
        yield server
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        server.stop()


@pytest.fixture(scope="session")
def postgres_url(postgres_server: PrivateServer | ExternalServer) -> str:
    return postgres_server.url


@pytest.fixture
def postgres_db_url(postgres_server: PrivateServer | ExternalServer) -> Iterator[str]:
    with postgres_server.fresh_database() as url:
        yield url


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for server in _started:
        if server.startup_s is not None:
            terminalreporter.write_line(
                f"PostgreSQL test server {server.url}: started in {server.startup_s:.2f} s"
            )
        else:
            terminalreporter.write_line(f"PostgreSQL test server {server.url} (external)")
