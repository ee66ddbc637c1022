"""The PostgreSQL server the benchmarks measure against (B3 and B5 on PostgreSQL).

A private server started on this machine by tests/pg_server.PrivateServer (the test suite's own
code, imported, not copied), but with durable settings: fsync, synchronous_commit and
full_page_writes ON, PostgreSQL's defaults, so every commit waits for its WAL to reach the disk
as a shared production store would. (The test fixture turns all three off: nothing it stores
has to survive a crash.) `RELEASE_TRAINS_TEST_POSTGRES=URL` points the benchmarks at an
existing server instead, as it does the tests; its settings are then whatever it has, and are
recorded.

One server serves the whole run: started on first use, stopped by `stop()` (run.py's `finally`),
and by pg_server's own atexit hook and watchdog should the runner die. While it is up its
password's source (PGPASSFILE, or PGPASSWORD) is in os.environ, so the measured release-trains
processes find it; no URL carries a password.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

import pg_server  # noqa: E402  (tests/pg_server.py: stdlib only at import)

PostgresUnavailable = pg_server.PostgresUnavailable

# PostgreSQL's own defaults, written out so the server log and the results say so.
DURABLE_SETTINGS: Mapping[str, str] = {
    "fsync": "on",
    "synchronous_commit": "on",
    "full_page_writes": "on",
}
SHOWN = ("server_version", "fsync", "synchronous_commit", "full_page_writes", "shared_buffers")

_server: Any = None  # pg_server.PrivateServer | pg_server.ExternalServer
_saved_env: dict[str, str | None] = {}


def server() -> Any:
    """The benchmarks' server, started on first use; PostgresUnavailable when there is none."""
    global _server
    if _server is None:
        external = os.environ.get("RELEASE_TRAINS_TEST_POSTGRES")
        if external:
            started: Any = pg_server.ExternalServer(external).check()
        else:
            started = pg_server.PrivateServer(settings=DURABLE_SETTINGS).start()
        for key, value in started.env().items():
            _saved_env.setdefault(key, os.environ.get(key))
            os.environ[key] = value
        _server = started
    return _server


def stop() -> None:
    global _server
    if _server is None:
        return
    try:
        _server.stop()
    finally:
        _server = None
        for key, value in _saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        _saved_env.clear()


def describe() -> dict[str, Any] | None:
    """The server's kind, URL (no password), start-up time and durability settings."""
    if _server is None:
        return None
    with _server.admin_connect() as conn:
        shown = {key: str(conn.execute(f"SHOW {key}").fetchone()[0]) for key in SHOWN}
    startup = _server.startup_s
    return {
        "kind": "private (tests/pg_server.PrivateServer)" if _server.private else "external",
        "url": _server.url,
        "startup_s": None if startup is None else round(startup, 2),
        **shown,
    }


@contextlib.contextmanager
def fresh_database(root: Path, *, settings: Mapping[str, str] | None = None) -> Iterator[str]:
    """A new database holding an empty release-trains store (its tables made, nothing else):
    a shared store exists before anyone runs a train on it, so creating its tables is not part
    of a run. `settings` are set for that database alone (ALTER DATABASE ... SET)."""
    from psycopg import sql

    from release_trains.state import open_store

    with server().fresh_database() as url:
        if settings:
            dbname = _dbname(url)
            with server().admin_connect() as conn:
                for key, value in settings.items():
                    conn.execute(
                        sql.SQL("ALTER DATABASE {} SET {} = {}").format(
                            sql.Identifier(dbname), sql.Identifier(key), sql.Literal(value)
                        )
                    )
        store = open_store(url, root, create=True)
        assert store is not None
        store.close()
        yield url


def commits(url: str, *, deadline_s: float = 10.0) -> int | None:
    """Transactions committed in the database `url` names so far (pg_stat_database). A session
    adds its counts there when it ends, which its server process does a moment after the client
    exited: this waits (up to `deadline_s`) until no session is left in that database, and
    answers None (unknown) if one still is."""
    dbname = _dbname(url)
    deadline = time.monotonic() + deadline_s
    with server().admin_connect() as conn:  # any database: the statistics are the cluster's
        while True:
            left = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (dbname,)
            ).fetchone()[0]
            if not left:
                break
            if time.monotonic() > deadline:
                return None
            time.sleep(0.02)
        conn.execute("SELECT pg_stat_clear_snapshot()")
        row = conn.execute(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = %s", (dbname,)
        ).fetchone()
    return int(row[0])


def _dbname(url: str) -> str:
    return url.rsplit("/", 1)[1].split("?", 1)[0]
