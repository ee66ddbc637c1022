"""The server keeps answers only while nothing is committed (server/unchanged.py): each
commit, by any connection or process, is seen by the very next request, on SQLite and on
PostgreSQL; what is computed from the clock is kept no longer than REUSE_STATUS_S."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, cast

import pytest
from fastapi.testclient import TestClient
from test_api_store_opens import _root

from release_trains import tokens
from release_trains.server import trains as train_routes
from release_trains.server.app import create_app
from release_trains.server.unchanged import FILE_CHECK_S, Unchanged
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


@dataclass
class _Db:
    raw: int = 0
    kind: str = "sqlite"

    def change_mark(self) -> int:
        return self.raw


@dataclass
class _Watcher:
    """Stands for the watcher's store: the ordering of marks is the Unchanged's own logic."""

    db: _Db = field(default_factory=_Db)

    def close(self) -> None:
        pass


def _watched(db: _Db, opened: list[int]) -> Unchanged:
    def open_watcher() -> Store:
        opened.append(1)
        return cast(Store, _Watcher(db))

    return Unchanged(open_watcher, lambda s: None, 60.0)


def _never(*_: object) -> Any:
    raise AssertionError("computed: a kept answer was there to give")


def test_marks_are_ordered_as_read_and_a_new_watcher_starts_above() -> None:
    db, opened = _Db(raw=7), list[int]()
    kept = _watched(db, opened)
    first = kept.mark()
    assert first is not None and kept.mark() == first  # nothing committed
    db.raw = 3  # the store's own mark need not grow (data_version): ours does
    second = kept.mark()
    assert second is not None and second > first
    kept.close()
    third = kept.mark()  # a new connection, same store mark: still a new mark
    assert third is not None and third > second and len(opened) == 2


def test_a_request_that_read_an_older_mark_is_given_the_newer_answer() -> None:
    db = _Db()
    kept = _watched(db, [])
    older = kept.mark()
    db.raw += 1  # a commit while that request waited for a thread
    newer = kept.mark()
    assert kept.get(newer, "k", lambda: "after") == "after"
    # what a read made after the older mark was read: as good for that request, not computed
    assert kept.get(older, "k", _never) == "after"
    assert kept.peek(older, "k") == "after"


def test_an_answer_computed_at_an_older_mark_does_not_replace_newer_ones() -> None:
    db = _Db()
    kept = _watched(db, [])
    older = kept.mark()
    started, finish = threading.Event(), threading.Event()
    result: list[str] = []

    def slow() -> str:
        started.set()
        assert finish.wait(10)
        return "old"

    t = threading.Thread(target=lambda: result.append(kept.get(older, "k", slow)))
    t.start()
    assert started.wait(10)
    db.raw += 1  # a commit after that computation began
    newer = kept.mark()
    assert kept.get(newer, "j", lambda: "new") == "new"
    finish.set()
    t.join(10)
    assert result == ["old"]  # the request that computed it is answered with it
    assert kept.peek(newer, "j") == "new"  # but the newer answers stay
    assert kept.peek(newer, "k") is None  # and the older one is not given at the newer mark


def test_an_answer_kept_at_a_newer_mark_uses_no_older_answer_of_another_key() -> None:
    db = _Db()
    kept = _watched(db, [])
    older = kept.mark()
    assert kept.get(older, "records", lambda: db.raw) == 0
    db.raw += 1  # a commit; another request has read the new mark, not yet answered
    newer = kept.mark()

    def document() -> tuple[str, int]:  # as the status document uses the kept records
        return "doc", kept.get(older, "records", lambda: db.raw)

    # a request that read the older mark takes the document: it is kept for the newer mark
    # (what it reads is that new), so the records in it must be too
    assert kept.get(older, "doc", document) == ("doc", 1)
    assert kept.get(newer, "doc", _never) == ("doc", 1)


def test_while_one_request_refreshes_an_answer_the_others_are_given_the_kept_one() -> None:
    db = _Db()
    kept = _watched(db, [])
    mark = kept.mark()
    state = {"fresh": True}

    def fresh(v: str) -> bool:
        return state["fresh"]

    assert kept.get(mark, "k", lambda: "first", fresh=fresh) == "first"
    state["fresh"] = False  # the clock moved on: the kept answer is to be taken again
    started, finish = threading.Event(), threading.Event()

    def refresh() -> str:
        started.set()
        assert finish.wait(10)
        return "second"

    t = threading.Thread(target=lambda: kept.get(mark, "k", refresh, fresh=fresh))
    t.start()
    assert started.wait(10)
    # while it is refreshed: the kept one if `meanwhile` allows it, else wait for the new one
    assert kept.peek(mark, "k", fresh=fresh, meanwhile=lambda v: True) == "first"
    assert kept.peek(mark, "k", fresh=fresh, meanwhile=lambda v: False) is None
    db.raw += 1  # after a commit, never the kept one: it may show what no longer holds
    assert kept.peek(kept.mark(), "k", fresh=fresh, meanwhile=lambda v: True) is None
    finish.set()
    t.join(10)
    state["fresh"] = True
    assert kept.peek(mark, "k", fresh=fresh) == "second"
    # not refreshing any more: a stale answer is not given even where `meanwhile` allows it
    state["fresh"] = False
    assert kept.peek(mark, "k", fresh=fresh, meanwhile=lambda v: True) is None


def _gated(release: threading.Event, value: Any, calls: list[Any]) -> Any:
    def compute() -> Any:
        calls.append(value)
        assert release.wait(10)
        if isinstance(value, Exception):
            raise value
        return value

    return compute


def _on_a_loop_of_its_own(main: Any) -> None:
    """asyncio.run(main()) in a thread of its own: in the whole suite, the browser tests'
    Playwright keeps an event loop running in the test thread."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, main()).result(timeout=30)


async def _until(condition: Any) -> None:
    for _ in range(1000):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("not within 5 s")


def test_requests_asking_while_an_answer_is_computed_await_that_one_computation() -> None:
    db = _Db()
    kept = _watched(db, [])
    release, calls = threading.Event(), list[Any]()

    async def main() -> None:
        mark = kept.mark()
        first = asyncio.ensure_future(kept.get_async(mark, "k", _gated(release, "a", calls)))
        await _until(lambda: calls)  # being computed in the thread pool
        others = [asyncio.ensure_future(kept.get_async(mark, "k", _never)) for _ in range(49)]
        first.cancel()  # its request went away: the others still get the answer
        release.set()
        assert await asyncio.gather(*others) == ["a"] * 49
        assert calls == ["a"]
        assert await kept.get_async(kept.mark(), "k", _never) == "a"  # and it is kept

    _on_a_loop_of_its_own(main)


def test_a_request_that_read_a_newer_mark_does_not_await_an_older_computation() -> None:
    db = _Db()
    kept = _watched(db, [])
    release, calls = threading.Event(), list[Any]()

    async def main() -> None:
        older = asyncio.ensure_future(
            kept.get_async(kept.mark(), "k", _gated(release, "before", calls))
        )
        await _until(lambda: calls)
        db.raw += 1  # committed after that computation began: it may not show it
        newer = asyncio.ensure_future(kept.get_async(kept.mark(), "k", lambda: "after"))
        release.set()
        assert await older == "before"
        assert await newer == "after"

    _on_a_loop_of_its_own(main)


def test_a_failed_computation_fails_those_that_awaited_it_and_is_not_kept() -> None:
    db = _Db()
    kept = _watched(db, [])
    release, calls = threading.Event(), list[Any]()

    async def main() -> None:
        mark = kept.mark()
        failing = _gated(release, LookupError("no such train"), calls)
        tasks = [asyncio.ensure_future(kept.get_async(mark, "k", failing)) for _ in range(3)]
        await _until(lambda: calls)
        release.set()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        assert [type(r) for r in results] == [LookupError] * 3 and len(calls) == 1
        assert await kept.get_async(mark, "k", lambda: "found") == "found"  # asked again

    _on_a_loop_of_its_own(main)


def test_at_the_cap_a_kept_answer_is_still_replaced(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("release_trains.server.unchanged.MAX_ANSWERS", 2)
    kept = _watched(_Db(), [])
    mark = kept.mark()
    state = {"fresh": True}

    def fresh(v: str) -> bool:
        return state["fresh"]

    assert kept.get(mark, "status", lambda: "first", fresh=fresh) == "first"
    assert kept.get(mark, "other", lambda: "x") == "x"  # the cap is reached
    assert kept.get(mark, "third", lambda: "y") == "y" and kept.peek(mark, "third") is None
    state["fresh"] = False  # aged: taken again, and the new one is kept in its place
    assert kept.get(mark, "status", lambda: "second", fresh=fresh) == "second"
    state["fresh"] = True
    assert kept.get(mark, "status", _never, fresh=fresh) == "second"


def test_while_a_request_awaits_a_refresh_others_on_the_loop_get_the_kept_answer() -> None:
    kept = _watched(_Db(), [])
    release, calls = threading.Event(), list[Any]()
    state = {"fresh": True}

    def fresh(v: str) -> bool:
        return state["fresh"]

    def meanwhile(v: str) -> bool:
        return True

    async def main() -> None:
        mark = kept.mark()
        assert await kept.get_async(mark, "k", lambda: "first", fresh=fresh) == "first"
        state["fresh"] = False
        refresh = asyncio.ensure_future(
            kept.get_async(mark, "k", _gated(release, "second", calls), fresh=fresh)
        )
        await asyncio.sleep(0)  # the refresh is a flight now, its thread maybe not started
        got = await kept.get_async(mark, "k", _never, fresh=fresh, meanwhile=meanwhile)
        assert got == "first"  # neither waiting for the refresh nor computing again
        release.set()
        assert await refresh == "second"

    _on_a_loop_of_its_own(main)


def test_the_mark_is_read_on_the_loop_only_while_nothing_may_reopen_the_watcher(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = {"now": 100.0}
    monkeypatch.setattr("release_trains.server.unchanged.time.monotonic", lambda: clock["now"])
    kept = _watched(_Db(), [])
    assert not kept.quick()  # no watcher yet: opening it is for the thread pool
    kept.mark()
    assert kept.quick()
    clock["now"] += FILE_CHECK_S  # the SQLite file is due a look (a restore reopens it)
    assert not kept.quick()
    kept.mark()  # looked at, in the thread pool
    assert kept.quick()
    db = _Db(kind="postgresql")
    pg = _watched(db, [])
    pg.mark()
    assert not pg.quick()  # a round trip to the server


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

        # an unknown train is a 404, and nothing is kept for it
        assert client.get("/api/v1/release-trains/nope/status", headers=headers).status_code == 404
        kept = client.app.state.context.unchanged
        assert not any("nope" in str(k) for k in kept._answers)

        tokens.revoke(writer, "bot", now=T0.isoformat())  # the kept tokens go with it
        assert client.get(url, headers=headers).status_code == 401
    writer.close()
