"""The server keeps answers only while nothing is committed (server/unchanged.py): each
commit, by any connection or process, is seen by the very next request, on SQLite and on
PostgreSQL; what is computed from the clock is kept no longer than REUSE_STATUS_S."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from test_api_store_opens import _root

from release_trains import tokens
from release_trains.server import trains as train_routes
from release_trains.server.app import create_app
from release_trains.server.unchanged import Unchanged
from release_trains.state import Store, default_path, open_store

T0 = datetime(2026, 12, 2, 12, 0, tzinfo=timezone.utc)


def _store(url: str | None, root: Path) -> Store:
    store = open_store(url, root, create=True)
    assert store is not None
    return store


def _unchanged(url: str | None, root: Path) -> Unchanged:
    return Unchanged(lambda: open_store(url, root, create=False), lambda s: None, 60.0)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_an_answer_is_kept_until_anyone_commits(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    root = _root(tmp_path)
    url = (
        str(default_path(root))
        if backend == "sqlite"
        else request.getfixturevalue("postgres_db_url")
    )
    writer = _store(url, root)  # another connection, as another process would be
    kept = _unchanged(url, root)
    computed: list[int] = []

    def compute() -> int:
        computed.append(1)
        return len(computed)

    try:
        first = kept.get(kept.mark(), "k", compute)
        writer.latest_run("T")  # reads change nothing
        assert kept.get(kept.mark(), "k", compute) == first == 1
        assert kept.peek(kept.mark(), "k") == 1

        tokens.create(writer, name="bot", role="viewer", now=T0.isoformat())  # a commit
        mark = kept.mark()
        assert kept.peek(mark, "k") is None  # nothing kept for the new state
        assert kept.get(mark, "k", compute) == 2
        assert kept.get(kept.mark(), "k", compute) == 2

        # `fresh` turns a kept answer down; no store (no mark): computed every time
        assert kept.get(kept.mark(), "k", compute, fresh=lambda v: False) == 3
        assert kept.get(None, "k", compute) == 4
    finally:
        kept.close()
        writer.close()


def test_a_status_document_shows_a_commit_of_another_process_at_once(tmp_path: Path) -> None:
    root = _root(tmp_path)
    writer = _store(None, root)
    secret = tokens.create(writer, name="bot", role="viewer", now=T0.isoformat())
    clock: dict[str, datetime] = {"now": T0}
    app = create_app(root=root, state_url=None, clock=lambda: clock["now"])
    headers = {"Authorization": f"Bearer {secret}"}
    url = "/api/v1/release-trains/T/status"

    def status() -> dict[str, Any]:
        r = client.get(url, headers=headers)
        assert r.status_code == 200, r.text
        doc: dict[str, Any] = r.json()
        return doc

    with TestClient(app) as client:
        status()  # the token's first use writes its last-used time: a commit
        first = status()
        assert first["freeze"] is None
        clock["now"] = T0 + timedelta(seconds=train_routes.REUSE_STATUS_S / 2)
        assert status()["generated_at"] == first["generated_at"]  # kept: nothing changed

        writer.add_freeze(reason="incident 42", actor="ops", now=T0.isoformat(), until=None)
        frozen = status()  # the very next request, still within the reuse window
        assert frozen["freeze"] is not None and frozen["freeze"]["reason"] == "incident 42"
        assert frozen["generated_at"] != first["generated_at"]

        # nothing committed, but the clock moved past the window: taken again
        clock["now"] += timedelta(seconds=train_routes.REUSE_STATUS_S * 2)
        later = status()
        assert later["generated_at"] == clock["now"].isoformat(timespec="milliseconds")

        tokens.revoke(writer, "bot", now=T0.isoformat())  # the kept tokens go with it
        assert client.get(url, headers=headers).status_code == 401
    writer.close()
