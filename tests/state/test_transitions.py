"""transition() is the one writer of a run's status: a compare-and-set checked against the
lifecycle table in the write transaction; create_run checks the train's latest run in the
transaction that creates the new one, so racing executes cannot both start a train."""

from __future__ import annotations

import itertools
import multiprocessing
from pathlib import Path

import pytest

from release_trains.errors import EXIT_NOT_NOW, TransitionError
from release_trains.lifecycle import RunStatus
from release_trains.state import Store, open_store

NOW = "2026-01-05T09:00:00.000+00:00"
LATER = "2026-01-05T09:05:00.000+00:00"


def store_at(path: Path) -> Store:
    store = open_store(str(path), path.parent, create=True)
    assert store is not None
    return store


def new_run(store: Store, train: str = "T") -> int:
    return store.create_run(
        train=train, status="planning", actor="me@h", plan="{}", max_parallel=1, now=NOW
    ).id


def walk(store: Store, run_id: int, *statuses: str) -> None:
    for was, becomes in itertools.pairwise(statuses):
        store.transition(run_id, expected=RunStatus(was), new=RunStatus(becomes), now=LATER)


def test_a_legal_move_from_the_expected_status_is_written(tmp_path: Path) -> None:
    store = store_at(tmp_path / "s.db")
    try:
        run_id = new_run(store)
        run = store.transition(
            run_id, expected=RunStatus.PLANNING, new=RunStatus.VALIDATING, now=LATER
        )
        assert (run.status, run.finished_at, run.phase_started_at) == ("validating", None, LATER)
        walk(store, run_id, "validating", "failed")
        run = store.transition(
            run_id, expected=RunStatus.FAILED, new=RunStatus.ROLLED_BACK, now=LATER, reason="r"
        )
        assert (run.status, run.finished_at, run.reason) == ("rolled_back", LATER, "r")
        assert store.run(run_id) == run
    finally:
        store.close()


def test_a_stale_expected_status_is_refused_and_nothing_changes(tmp_path: Path) -> None:
    store = store_at(tmp_path / "s.db")
    try:
        run_id = new_run(store)
        walk(store, run_id, "planning", "validating", "staging")
        before = store.run(run_id)
        # another process saw `validating` and wants `paused`: legal from there, but stale
        with pytest.raises(TransitionError) as refused:
            store.transition(run_id, expected=RunStatus.VALIDATING, new=RunStatus.PAUSED, now=LATER)
        assert refused.value.exit_code == EXIT_NOT_NOW
        assert "is staging, not validating" in str(refused.value)
        assert store.run(run_id) == before
    finally:
        store.close()


def test_an_illegal_move_is_refused_even_from_the_right_status(tmp_path: Path) -> None:
    store = store_at(tmp_path / "s.db")
    try:
        run_id = new_run(store)
        walk(store, run_id, "planning", "validating", "staging", "executing", "verifying")
        walk(store, run_id, "verifying", "completed")
        with pytest.raises(TransitionError) as refused:
            store.transition(
                run_id, expected=RunStatus.COMPLETED, new=RunStatus.EXECUTING, now=LATER
            )
        assert "it cannot become executing" in str(refused.value)
        run = store.run(run_id)
        assert run is not None and run.status == "completed"
    finally:
        store.close()


def _race_create(path: str, seen: int, start: object, results: object) -> None:
    store = open_store(path, Path(path).parent, create=True)
    assert store is not None
    start.wait()  # type: ignore[attr-defined]
    try:
        run = store.create_run(
            train="T",
            status="planning",
            actor="me@h",
            plan="{}",
            max_parallel=1,
            now=LATER,
            expect_latest=seen,
        )
        results.put(("created", run.id))  # type: ignore[attr-defined]
    except TransitionError as e:
        results.put(("refused", str(e)))  # type: ignore[attr-defined]
    finally:
        store.close()


def race(path: Path, seen: int, n: int = 6) -> list[tuple[str, object]]:
    """`n` processes that all saw run `seen` as the latest create a new run at once."""
    ctx = multiprocessing.get_context("fork")  # each process opens its own store
    start = ctx.Barrier(n)
    results = ctx.Queue()
    procs = [
        ctx.Process(target=_race_create, args=(str(path), seen, start, results)) for _ in range(n)
    ]
    for p in procs:
        p.start()
    outcomes = [results.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    return outcomes


def test_processes_racing_to_start_a_rolled_back_train_create_one_run(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = store_at(path)
    run_id = new_run(store)
    walk(store, run_id, "planning", "validating", "failed", "rolled_back")
    store.close()
    outcomes = race(path, run_id)
    assert sorted(kind for kind, _ in outcomes) == ["created"] + ["refused"] * 5, outcomes
    store = store_at(path)
    try:
        assert [r.id for r in store.runs("T")] == [run_id, run_id + 1]
    finally:
        store.close()


def test_processes_racing_to_start_a_completed_train_create_nothing(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = store_at(path)
    run_id = new_run(store)
    walk(store, run_id, "planning", "validating", "staging", "executing", "verifying")
    walk(store, run_id, "verifying", "completed")
    store.close()
    outcomes = race(path, run_id)
    assert [kind for kind, _ in outcomes] == ["refused"] * 6, outcomes
    assert all("it is completed" in str(why) for _, why in outcomes), outcomes
    store = store_at(path)
    try:
        assert [r.id for r in store.runs("T")] == [run_id]
    finally:
        store.close()
