"""The PostgreSQL backend sends a transaction's statements in batches (state/postgres.py):
a statement is queued and sent with the next one whose result is read, or with the COMMIT,
as a prepared statement of the session.
These tests pin what that must not change: results go to the statement that asked for them,
a statement the server refuses rolls the whole transaction back, text that looks like a
placeholder is text, and a write has committed when `tx()` returns."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from release_trains.errors import StateError, StateUnavailableError
from release_trains.state import Store, open_store


@pytest.fixture
def store(postgres_db_url: str, tmp_path: Path) -> Iterator[Store]:
    opened = open_store(postgres_db_url, tmp_path, create=True)
    assert opened is not None
    yield opened
    opened.close()


def _count(store: Store) -> int:
    return int(store.db.select("SELECT COUNT(*) FROM deployed")[0][0])


def test_each_result_belongs_to_its_own_statement_in_a_batch(store: Store) -> None:
    with store.db.tx() as tx:
        first = tx.execute(
            "INSERT INTO deployed (environment, service, version, updated_at)"
            " VALUES (?, ?, ?, ?), (?, ?, ?, ?)",
            ("prod", "a", "1.0", "t", "prod", "b", "2.0", "t"),
        )
        second = tx.execute("UPDATE deployed SET version = ? WHERE service = ?", ("3.0", "b"))
        rows = tx.execute("SELECT service, version FROM deployed ORDER BY service")
        nothing = tx.execute("SELECT version FROM deployed WHERE service = ?", ("zzz",))
        # read out of order: the later reads come from the same batch
        assert [tuple(r) for r in rows.fetchall()] == [("a", "1.0"), ("b", "3.0")]
        assert nothing.fetchone() is None
        assert first.rowcount == 2 and second.rowcount == 1
    assert _count(store) == 2


def test_a_refused_statement_rolls_back_every_statement_of_its_transaction(
    store: Store, postgres_db_url: str, tmp_path: Path
) -> None:
    with pytest.raises(StateError), store.db.tx() as tx:
        tx.execute(
            "INSERT INTO deployed (environment, service, version, updated_at) VALUES (?, ?, ?, ?)",
            ("prod", "a", "1.0", "t"),
        )
        # the same key again: refused by the server, in the same batch as the COMMIT
        tx.execute(
            "INSERT INTO deployed (environment, service, version, updated_at) VALUES (?, ?, ?, ?)",
            ("prod", "a", "2.0", "t"),
        )
    assert _count(store) == 0
    other = open_store(postgres_db_url, tmp_path, create=False)
    assert other is not None and other.deployed_versions("prod") == {}
    other.close()
    # the connection is usable afterwards
    store.set_deployed_version("prod", "a", "1.0", now="t")
    assert store.deployed_version("prod", "a") == "1.0"


def test_quotes_backslashes_question_marks_and_percent_signs_stay_text(store: Store) -> None:
    """Parameters go to the server apart from the statement (bound to its prepared form): a
    value cannot end a literal nor add a statement, and `?`/`%` in a literal stay text."""
    tricky = "50% done; what? it's 'quoted' -- not a comment %s ? \\' ); DROP TABLE runs; --"
    with store.db.tx() as tx:
        tx.execute(
            "INSERT INTO deployed (environment, service, version, updated_at)"
            " VALUES ('lit?%', ?, ?, ?)",
            ("s", tricky, "t"),
        )
    rows = store.db.select("SELECT environment, version FROM deployed")
    assert [tuple(r) for r in rows] == [("lit?%", tricky)]


def test_a_write_is_committed_and_seen_by_another_session_when_tx_returns(
    store: Store, postgres_db_url: str, tmp_path: Path
) -> None:
    other = open_store(postgres_db_url, tmp_path, create=False)
    assert other is not None
    with store.db.tx() as tx:
        tx.execute(
            "INSERT INTO deployed (environment, service, version, updated_at) VALUES (?, ?, ?, ?)",
            ("prod", "a", "1.0", "t"),
        )
        assert other.deployed_version("prod", "a") is None  # not sent, let alone committed
    assert other.deployed_version("prod", "a") == "1.0"
    other.close()


def test_a_comment_ending_one_statement_does_not_swallow_the_next(store: Store) -> None:
    with store.db.tx() as tx:
        first = tx.execute("SELECT 1 -- a comment to the end of the line")
        second = tx.execute("SELECT ?", (2,))
        assert first.fetchone()[0] == 1 and second.fetchone()[0] == 2


def test_a_statement_is_prepared_once_per_session_and_reused(store: Store) -> None:
    """The server parses and plans each of the store's statements once per connection: the
    second transaction runs the statement the first one prepared."""
    insert = "INSERT INTO deployed (environment, service, version, updated_at) VALUES (?, ?, ?, ?)"
    for service in ("a", "b", "c"):
        with store.db.tx() as tx:
            tx.execute(insert, ("prod", service, "1.0", "t"))
    with store.db.tx(write=False) as tx:
        prepared = tx.execute(
            "SELECT statement FROM pg_prepared_statements WHERE statement LIKE ?",
            ("INSERT INTO deployed%",),
        ).fetchall()
    assert len(prepared) == 1  # one, made by the first transaction, run by all three
    assert _count(store) == 3


def test_a_new_session_prepares_again_after_the_server_dropped_the_old_one(
    store: Store, postgres_db_url: str, tmp_path: Path
) -> None:
    store.set_deployed_version("prod", "a", "1.0", now="t")  # prepared in this session
    pid = store.db.select("SELECT pg_backend_pid()")[0][0]
    other = open_store(postgres_db_url, tmp_path, create=False)
    assert other is not None
    other.db.select("SELECT pg_terminate_backend(?)", (pid,))
    other.close()
    with pytest.raises(StateUnavailableError):  # the change the server never saw is reported
        store.set_deployed_version("prod", "b", "1.0", now="t")
    # the next transaction opens a new session, whose statements are prepared anew
    store.set_deployed_version("prod", "b", "1.0", now="t")
    assert store.deployed_versions("prod") == {"a": "1.0", "b": "1.0"}


def test_a_batch_that_fails_while_being_sent_or_after_a_read_writes_nothing(store: Store) -> None:
    """An error raised by the client in the middle of sending a batch (a value the driver
    cannot send), or by the caller after a batch went out, rolls back what went before."""
    insert = "INSERT INTO deployed (environment, service, version, updated_at) VALUES (?, ?, ?, ?)"
    with pytest.raises(StateError), store.db.tx() as tx:
        tx.execute(insert, ("prod", "a", "1.0", "t"))
        tx.execute(insert, ("prod", "b", object(), "t"))
    with pytest.raises(RuntimeError), store.db.tx() as tx:
        tx.execute(insert, ("prod", "c", "1.0", "t"))
        assert tx.execute("SELECT COUNT(*) FROM deployed").fetchone()[0] == 1  # sent, uncommitted
        raise RuntimeError("the caller gives up")
    store.set_deployed_version("prod", "d", "1.0", now="t")  # the session is usable
    assert store.deployed_versions("prod") == {"d": "1.0"}


def test_a_refused_statement_early_in_a_long_batch_logs_nothing(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    """The server's refusal can come back while the rest of the batch is still being sent;
    the error is reported once, as the caller's error, and psycopg logs nothing of the
    statements the server skipped (it would print them to stderr)."""
    store.set_deployed_version("prod", "a", "1.0", now="t")
    insert = "INSERT INTO deployed (environment, service, version, updated_at) VALUES (?, ?, ?, ?)"
    caplog.set_level(logging.WARNING, logger="psycopg")
    for _ in range(20):
        with pytest.raises(StateError, match="duplicate key"), store.db.tx() as tx:
            tx.execute(insert, ("prod", "a", "2.0", "t"))  # refused: the key exists
            for i in range(40):
                tx.execute("UPDATE deployed SET version = ? WHERE service = ?", (f"{i}", "zz"))
    assert [r.getMessage() for r in caplog.records] == []
    assert store.deployed_versions("prod") == {"a": "1.0"}


def test_statements_after_a_schema_change_run_in_that_transaction_and_the_next(
    store: Store,
) -> None:
    """psycopg forgets its prepared statements when it sees a DROP or ALTER and deallocates
    them with the next statement it sends; in a pipeline that can wipe one prepared in
    between. Nothing after a schema change is prepared, and the session ends with it."""
    with store.db.tx() as tx:
        tx.execute("CREATE TABLE IF NOT EXISTS scratch_t (a integer)")
        tx.execute("DROP TABLE IF EXISTS scratch_t")
        assert tx.execute("SELECT 1").fetchone()[0] == 1
        assert tx.execute("SELECT CAST(? AS integer) + 1", (1,)).fetchone()[0] == 2
        assert tx.execute("SELECT CAST(? AS integer) + 1", (2,)).fetchone()[0] == 3
    for n in range(3):
        with store.db.tx() as tx:
            assert tx.execute("SELECT CAST(? AS integer) + 1", (n,)).fetchone()[0] == n + 1
    store.set_deployed_version("prod", "a", "1.0", now="t")
    assert store.deployed_version("prod", "a") == "1.0"
