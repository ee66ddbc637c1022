"""One conformance suite for the state store interface, run against SQLite and against a real
PostgreSQL server (the `store_url` fixture: a file under tmp_path, or a fresh database of the
session's server, pg_fixtures.py). Every test opens stores through
`release_trains.state.open_store`, as the CLI does, and checks what a caller of the interface
relies on: runs, steps, events, deployed versions, locks and leases, the one status writer
`transition`, fencing, the audit anchor, schema versions and migrations, and `state copy`.

A second `open_store` on the same URL stands for another process: a separate connection
(SQLite: another file handle; PostgreSQL: another session), so what one writes the other sees
only once committed, and the store-wide write serialisation is really exercised.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from helpers import schema_0_1_0

from release_trains.errors import (
    InputError,
    LockHeldError,
    LostLockError,
    ReleaseTrainError,
    TransitionError,
)
from release_trains.lifecycle import RunStatus, StepStatus
from release_trains.state import (
    SCHEMA_VERSION,
    AuditEntry,
    Lock,
    Step,
    Store,
    open_store,
    this_host,
)

T0 = datetime(2026, 1, 1, 12, 0, 0, tzinfo=timezone.utc)
STALE_S = 10.0


def at(seconds: float) -> str:
    """The timestamp `seconds` after T0, as the store records times."""
    return (T0 + timedelta(seconds=seconds)).isoformat(timespec="milliseconds")


def ts(seconds: float) -> float:
    return (T0 + timedelta(seconds=seconds)).timestamp()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite://{tmp_path / 'state' / 'release-trains.db'}"
    url: str = request.getfixturevalue("postgres_db_url")
    return url


@pytest.fixture
def opener(store_url: str, tmp_path: Path) -> Iterator[Callable[[], Store]]:
    """opener() -> a new connection (a writer) to the test's store; all closed at teardown."""
    opened: list[Store] = []

    def open_one() -> Store:
        store = open_store(store_url, tmp_path, create=True)
        assert store is not None
        opened.append(store)
        return store

    yield open_one
    for store in opened:
        store.close()


@pytest.fixture
def store(opener: Callable[[], Store]) -> Store:
    return opener()


def new_run(store: Store, train: str = "T", *, status: RunStatus = RunStatus.PLANNING) -> int:
    run = store.create_run(
        train=train, status=status, actor="tester@host", plan='{"steps": []}', max_parallel=2,
        now=at(0),
    )  # fmt: skip
    return run.id


def lease(
    lock_id: str,
    *,
    train: str = "T",
    host: str = "other-host",
    pid: int = 1,
    heartbeat: float = 0.0,
) -> Lock:
    """A lease as a holder asks for it (its resource is filled in by acquire)."""
    return Lock(
        resource="",
        lock_id=lock_id,
        train=train,
        holder=f"tester@{host}",
        host=host,
        pid=pid,
        started_at=at(heartbeat),
        heartbeat_at=at(heartbeat),
    )


def dead_pid() -> int:
    """The pid of a process of this host that has ended (and been reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


RESOURCES = ["train:T", "service:a", "service:b"]


# --- runs ------------------------------------------------------------------------------------


def test_runs_create_read_latest_and_list(store: Store, opener: Callable[[], Store]) -> None:
    first = new_run(store)
    other = new_run(store, "U")
    second = new_run(store)
    assert first < other < second

    run = store.run(first)
    assert run is not None
    assert (run.train, run.status, run.actor, run.max_parallel) == (
        "T",
        RunStatus.PLANNING,
        "tester@host",
        2,
    )
    assert isinstance(run.status, RunStatus) and run.status == "planning"
    assert (run.started_at, run.updated_at, run.finished_at, run.reason) == (
        at(0),
        at(0),
        None,
        None,
    )
    assert run.plan_doc() == {"steps": []}
    assert store.run(10_000) is None

    reader = opener()  # another connection sees every committed run
    latest = reader.latest_run("T")
    assert latest is not None and latest.id == second
    assert reader.latest_run("nobody") is None
    assert [r.id for r in reader.runs("T")] == [first, second]
    assert [r.id for r in reader.runs()] == [first, other, second]
    assert reader.runs("nobody") == []


def _create(store: Store, **kw: object) -> int:
    run = store.create_run(
        train="T", status=RunStatus.PLANNING, actor="tester@host", plan="{}", max_parallel=1,
        now=at(20), **kw,  # type: ignore[arg-type]
    )  # fmt: skip
    return run.id


def test_a_new_run_checks_the_latest_run_in_its_own_transaction(
    store: Store, opener: Callable[[], Store]
) -> None:
    """What lets `execute` re-check a train's status under its lock: the run it saw is still
    the latest, and that one may be followed by a new run (a completed one may not)."""
    first = new_run(store, status=RunStatus.COMPLETED)
    other = opener()
    with pytest.raises(TransitionError) as completed:
        _create(other, expect_latest=first)
    assert completed.value.exit_code == 3 and "completed" in str(completed.value)
    with pytest.raises(TransitionError):  # it saw no run, but there is one now
        _create(other, expect_latest=None)
    assert [r.id for r in store.runs("T")] == [first]

    store.transition(first, expected=RunStatus.COMPLETED, new=RunStatus.ROLLED_BACK, now=at(10))
    store.acquire(RESOURCES, lease("A"), stale_after_s=STALE_S, now_ts=ts(0))
    with pytest.raises(LostLockError):  # a lease that does not hold the train
        _create(other, expect_latest=first, lock_id="NOT-A")
    second = _create(other, expect_latest=first, lock_id="A")
    assert [r.id for r in store.runs("T")] == [first, second]


def test_run_plan_and_pause_request(store: Store) -> None:
    run_id = new_run(store)
    store.set_run_plan(run_id, '{"steps": [1]}', max_parallel=4, now=at(5))
    run = store.run(run_id)
    assert run is not None and (run.plan_doc(), run.max_parallel, run.updated_at) == (
        {"steps": [1]},
        4,
        at(5),
    )
    store.update_plan(run_id, '{"steps": [2]}')
    assert store.run(run_id).plan_doc() == {"steps": [2]}  # type: ignore[union-attr]
    assert store.pause_request(run_id) is None
    store.request_pause(run_id, "ops: maintenance")
    assert store.pause_request(run_id) == "ops: maintenance"
    store.request_pause(run_id, None)
    assert store.pause_request(run_id) is None


# --- steps -----------------------------------------------------------------------------------


def _steps(run_id: int) -> list[Step]:
    return [
        Step(run_id, "b", 1, StepStatus.PENDING, "1.0.0", "2.0.0"),
        Step(run_id, "a", 0, StepStatus.PENDING, None, "2.0.0"),  # a first install
    ]


def test_steps_add_read_update(store: Store, opener: Callable[[], Store]) -> None:
    run_id = new_run(store)
    store.add_steps(_steps(run_id))
    store.add_steps(_steps(run_id))  # adding again changes nothing (a resumed run)
    steps = opener().steps(run_id)
    assert [(s.service, s.position, s.status, s.from_version) for s in steps] == [
        ("a", 0, StepStatus.PENDING, None),
        ("b", 1, StepStatus.PENDING, "1.0.0"),
    ]
    assert all(isinstance(s.status, StepStatus) for s in steps)
    assert steps[0].health == "not verified" and steps[0].attempts == 0

    store.update_step(
        run_id, "a", status=StepStatus.DEPLOYING, attempts=1, started_at=at(1),
        deploy_pgid=4242, deploy_host="h1", deploy_started_at=at(1),
    )  # fmt: skip
    [in_flight] = store.deploys_in_flight(["a", "b"])
    assert (in_flight.service, in_flight.deploy_pgid, in_flight.deploy_host) == ("a", 4242, "h1")
    assert store.deploys_in_flight([]) == []
    store.update_step(run_id, "a", deploy_pgid=None, deploy_host=None, deploy_started_at=None)
    assert store.deploys_in_flight(["a"]) == []

    with pytest.raises(ValueError):
        store.update_step(run_id, "a", no_such_field=1)
    with pytest.raises(ValueError):
        store.update_step(run_id, "a", position=5)  # the key fields never change


def test_a_retried_attempt_clears_the_finish_time(store: Store) -> None:
    run_id = new_run(store)
    store.add_steps(_steps(run_id))
    store.update_step(
        run_id, "a", status=StepStatus.FAILED, attempts=1, started_at=at(1), finished_at=at(2),
        error="exit 1",
    )  # fmt: skip
    store.update_step(
        run_id, "a", status=StepStatus.DEPLOYING, attempts=2, started_at=at(3), finished_at=None,
        error=None,
    )  # fmt: skip
    a = store.steps(run_id)[0]
    assert (a.status, a.attempts, a.started_at, a.finished_at, a.error) == (
        StepStatus.DEPLOYING,
        2,
        at(3),
        None,
        None,
    )


def test_record_release_writes_the_step_and_the_version_together(store: Store) -> None:
    run_id = new_run(store)
    store.add_steps(_steps(run_id))
    store.record_release(
        run_id, "a", environment="prod", version="2.0.0", now=at(4),
        status=StepStatus.RELEASED, finished_at=at(4), health="healthy",
    )  # fmt: skip
    a = store.steps(run_id)[0]
    assert (a.status, a.finished_at, a.health) == (StepStatus.RELEASED, at(4), "healthy")
    assert store.deployed_version("prod", "a") == "2.0.0"
    assert [s.run_id for s in store.service_steps("a")] == [run_id]
    assert store.step_counts("T") == {run_id: (1, 2)}
    assert store.step_counts("nobody") == {}


# --- events ----------------------------------------------------------------------------------


def test_events_add_limit_per_train_kind_and_service(
    store: Store, opener: Callable[[], Store]
) -> None:
    t_run, u_run = new_run(store), new_run(store, "U")
    for i, (kind, service) in enumerate(
        [("status", None), ("deploy", "a"), ("released", "a"), ("deploy", "b"), ("failed", "b")]
    ):
        store.add_event(t_run, ts=at(i), kind=kind, service=service, message=f"m{i} 100%")
    store.add_event(u_run, ts=at(9), kind="deploy", service="a", message="u")

    reader = opener()
    events = reader.events(t_run)
    assert [e.message for e in events] == [f"m{i} 100%" for i in range(5)]  # a literal % kept
    assert [e.id for e in events] == sorted(e.id for e in events)
    assert (events[1].kind, events[1].service, events[1].ts) == ("deploy", "a", at(1))
    assert [e.message for e in reader.events(t_run, limit=2)] == ["m3 100%", "m4 100%"]
    assert [e.message for e in reader.events(t_run, limit=10)] == [e.message for e in events]
    assert reader.events(10_000) == []
    assert [e.message for e in reader.train_events("T", ["deploy", "failed"])] == [
        "m1 100%",
        "m3 100%",
        "m4 100%",
    ]
    assert [e.message for e in reader.train_events("U", ["deploy"])] == ["u"]
    assert [e.message for e in reader.service_events("a")] == ["m1 100%", "m2 100%", "u"]


# --- deployed versions -----------------------------------------------------------------------


def test_deployed_versions_set_read_everywhere(store: Store, opener: Callable[[], Store]) -> None:
    assert store.deployed_version("prod", "a") is None
    assert store.set_deployed_version("prod", "a", "1.0.0", now=at(0)) is None
    # replaces, and says what it replaced (read in the same transaction)
    assert store.set_deployed_version("prod", "a", "2.0.0", now=at(1)) == "1.0.0"
    store.set_deployed_version("prod", "b", "1.5.0", now=at(1))
    store.set_deployed_version("staging", "a", "2.1.0", now=at(1))
    store.set_deployed_version("dev", "a", None, now=at(2))  # undeployed there

    reader = opener()
    assert reader.deployed_version("prod", "a") == "2.0.0"
    assert reader.deployed_version("dev", "a") is None
    assert reader.deployed_versions("prod") == {"a": "2.0.0", "b": "1.5.0"}
    assert reader.deployed_versions("dev") == {}
    assert reader.deployed_everywhere("a") == {"dev": None, "prod": "2.0.0", "staging": "2.1.0"}
    assert list(reader.deployed_everywhere("a")) == ["dev", "prod", "staging"]
    assert reader.deployed_everywhere("nobody") == {}


# --- locks and leases ------------------------------------------------------------------------


def test_acquire_takes_every_resource_or_none(store: Store, opener: Callable[[], Store]) -> None:
    other = opener()
    assert store.acquire(RESOURCES, lease("A"), stale_after_s=STALE_S, now_ts=ts(1)) == []
    held = other.locks()
    assert [(lk.resource, lk.lock_id) for lk in held] == sorted((r, "A") for r in RESOURCES)
    assert {(lk.holder, lk.host, lk.pid, lk.train) for lk in held} == {
        ("tester@other-host", "other-host", 1, "T")
    }
    assert [lk.resource for lk in other.locks("T")] == sorted(RESOURCES)
    assert other.locks("U") == []

    # U wants a free train and a service A holds: refused, and it holds nothing after
    with pytest.raises(LockHeldError) as refused:
        other.acquire(
            ["train:U", "service:b"], lease("B", train="U"), stale_after_s=STALE_S, now_ts=ts(2)
        )
    assert refused.value.exit_code == 3
    message = str(refused.value)
    assert "service b" in message and "A" in message and "unlock" in message
    assert other.locks("U") == []
    assert {lk.lock_id for lk in store.locks()} == {"A"}

    # acquiring again under the same lease is not a conflict (a resumed holder)
    assert store.acquire(RESOURCES, lease("A"), stale_after_s=STALE_S, now_ts=ts(3)) == []


def test_stale_lease_of_a_dead_process_on_this_host_is_taken_over(
    store: Store, opener: Callable[[], Store]
) -> None:
    here = this_host()
    dead = lease("A", host=here, pid=dead_pid(), heartbeat=100.0)  # a fresh heartbeat
    store.acquire(RESOURCES, dead, stale_after_s=STALE_S, now_ts=ts(100))
    taken = opener().acquire(
        RESOURCES, lease("B", host=here, pid=os.getpid()), stale_after_s=STALE_S, now_ts=ts(101)
    )
    assert {lk.lock_id for lk in taken} == {"A"}
    assert {lk.lock_id for lk in store.locks()} == {"B"}
    assert store.heartbeat("A", at(102)) is False  # the old holder learns it lost the lease


def test_live_lease_on_this_host_is_not_taken_over_whatever_its_heartbeat(
    store: Store, opener: Callable[[], Store]
) -> None:
    live = lease("A", host=this_host(), pid=os.getpid(), heartbeat=0.0)
    store.acquire(RESOURCES, live, stale_after_s=STALE_S, now_ts=ts(0))
    with pytest.raises(LockHeldError):
        # its heartbeat is old, but its process runs here: that is what counts on this host
        opener().acquire(RESOURCES, lease("B"), stale_after_s=STALE_S, now_ts=ts(1000))
    assert {lk.lock_id for lk in store.locks()} == {"A"}


def test_lease_of_another_host_is_stale_by_its_heartbeat_only(
    store: Store, opener: Callable[[], Store]
) -> None:
    other = opener()
    store.acquire(RESOURCES, lease("A", pid=os.getpid()), stale_after_s=STALE_S, now_ts=ts(0))
    with pytest.raises(LockHeldError):  # heartbeat 5 s old: live
        other.acquire(RESOURCES, lease("B", heartbeat=5), stale_after_s=STALE_S, now_ts=ts(5))
    assert store.heartbeat("A", at(8)) is True
    with pytest.raises(LockHeldError):  # 12 s after the start, but 4 s after the heartbeat
        other.acquire(RESOURCES, lease("B", heartbeat=12), stale_after_s=STALE_S, now_ts=ts(12))
    taken = other.acquire(
        RESOURCES, lease("B", heartbeat=19), stale_after_s=STALE_S, now_ts=ts(19)
    )  # 11 s after the last heartbeat: stale
    assert [(lk.lock_id, lk.heartbeat_at) for lk in taken][:1] == [("A", at(8))]
    assert {lk.lock_id for lk in store.locks()} == {"B"}


def test_heartbeat_renews_one_row_and_returns_false_once_taken_over(
    store: Store, opener: Callable[[], Store]
) -> None:
    many = [*RESOURCES, *(f"service:s{i}" for i in range(20))]
    store.acquire(many, lease("A"), stale_after_s=STALE_S, now_ts=ts(0))
    with store.db.tx(write=False) as tx:
        [(leases,)] = [tuple(r) for r in tx.execute("SELECT COUNT(*) FROM leases").fetchall()]
    assert leases == 1  # one lease row per holder, whatever the number of resources
    assert store.heartbeat("A", at(3)) is True
    assert {lk.heartbeat_at for lk in opener().locks()} == {at(3)}  # every resource renewed
    assert store.heartbeat("nobody", at(3)) is False

    opener().acquire(many, lease("B", heartbeat=20), stale_after_s=STALE_S, now_ts=ts(20))
    assert store.heartbeat("A", at(21)) is False
    assert {lk.lock_id for lk in store.locks()} == {"B"}  # and it renewed nothing of B's
    assert {lk.heartbeat_at for lk in store.locks()} == {at(20)}


def test_release_frees_every_resource_of_the_lease(
    store: Store, opener: Callable[[], Store]
) -> None:
    store.acquire(RESOURCES, lease("A"), stale_after_s=STALE_S, now_ts=ts(0))
    store.acquire(["train:U"], lease("C", train="U"), stale_after_s=STALE_S, now_ts=ts(0))
    store.release("A")
    assert [lk.lock_id for lk in opener().locks()] == ["C"]
    store.release("A")  # twice: nothing to do
    assert opener().acquire(RESOURCES, lease("B"), stale_after_s=STALE_S, now_ts=ts(1)) == []


def test_unlock_refuses_a_live_lease_unless_forced(
    store: Store, opener: Callable[[], Store]
) -> None:
    live = lease("A", host=this_host(), pid=os.getpid())
    store.acquire(RESOURCES, live, stale_after_s=STALE_S, now_ts=ts(0))
    operator = opener()

    with pytest.raises(LockHeldError) as refused:
        operator.unlock("T", "A", force=False, now_ts=ts(1), stale_after_s=STALE_S)
    assert refused.value.exit_code == 3 and "--force" in str(refused.value)
    assert {lk.lock_id for lk in store.locks()} == {"A"}
    with pytest.raises(InputError):  # a lock id the train does not hold: bad input, named
        operator.unlock("T", "WRONG", force=True, now_ts=ts(1), stale_after_s=STALE_S)

    removed = operator.unlock("T", "A", force=True, now_ts=ts(1), stale_after_s=STALE_S)
    assert sorted(lk.resource for lk in removed) == sorted(RESOURCES)
    assert store.locks() == []
    assert store.heartbeat("A", at(2)) is False  # its holder now learns it must stop


def test_unlock_of_a_stale_lease_needs_no_force(store: Store, opener: Callable[[], Store]) -> None:
    store.acquire(RESOURCES, lease("A", heartbeat=0), stale_after_s=STALE_S, now_ts=ts(0))
    opener().unlock("T", "A", force=False, now_ts=ts(60), stale_after_s=STALE_S)
    assert store.locks() == []


# --- transitions -----------------------------------------------------------------------------


def test_transition_is_a_compare_and_set_on_the_legal_moves(
    store: Store, opener: Callable[[], Store]
) -> None:
    run_id = new_run(store)
    run = store.transition(
        run_id, expected=RunStatus.PLANNING, new=RunStatus.VALIDATING, now=at(1), reason="go"
    )
    assert (run.status, run.updated_at, run.phase_started_at, run.reason) == (
        RunStatus.VALIDATING,
        at(1),
        at(1),
        "go",
    )
    assert run.finished_at is None

    other = opener()
    with pytest.raises(TransitionError) as stale:  # it is validating now, not planning
        other.transition(run_id, expected=RunStatus.PLANNING, new=RunStatus.VALIDATING, now=at(2))
    assert stale.value.exit_code == 3
    with pytest.raises(TransitionError):  # validating -> completed is no legal move
        other.transition(run_id, expected=RunStatus.VALIDATING, new=RunStatus.COMPLETED, now=at(2))
    unchanged = store.run(run_id)
    assert unchanged is not None and (unchanged.status, unchanged.updated_at) == (
        RunStatus.VALIDATING,
        at(1),
    )

    for i, new in enumerate((RunStatus.STAGING, RunStatus.EXECUTING, RunStatus.VERIFYING)):
        previous = store.run(run_id).status  # type: ignore[union-attr]
        store.transition(run_id, expected=previous, new=new, now=at(3 + i))
    done = store.transition(
        run_id, expected=RunStatus.VERIFYING, new=RunStatus.COMPLETED, now=at(9)
    )
    assert (done.status, done.finished_at, done.reason) == (RunStatus.COMPLETED, at(9), "go")
    # a new attempt (failed -> validating) clears the finish time again
    failed = store.transition(
        run_id, expected=RunStatus.COMPLETED, new=RunStatus.FAILED, now=at(10)
    )
    assert failed.finished_at == at(10)
    again = store.transition(
        run_id, expected=RunStatus.FAILED, new=RunStatus.VALIDATING, now=at(11)
    )
    assert again.finished_at is None


def test_only_one_of_many_concurrent_transitions_from_one_status_wins(
    opener: Callable[[], Store],
) -> None:
    first = opener()
    run_id = new_run(first, status=RunStatus.FAILED)
    stores = [opener() for _ in range(6)]
    outcomes: list[str] = []
    barrier = threading.Barrier(len(stores))

    def attempt(store: Store) -> None:
        barrier.wait()
        try:
            store.transition(run_id, expected=RunStatus.FAILED, new=RunStatus.VALIDATING, now=at(1))
            outcomes.append("won")
        except TransitionError:
            outcomes.append("refused")

    threads = [threading.Thread(target=attempt, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(outcomes) == ["refused"] * (len(stores) - 1) + ["won"], outcomes


def test_transition_with_a_lock_id_needs_the_lease_to_hold_the_train(
    store: Store, opener: Callable[[], Store]
) -> None:
    run_id = new_run(store)
    store.acquire(RESOURCES, lease("A"), stale_after_s=STALE_S, now_ts=ts(0))
    store.transition(
        run_id, expected=RunStatus.PLANNING, new=RunStatus.VALIDATING, now=at(1), lock_id="A"
    )
    opener().acquire(RESOURCES, lease("B", heartbeat=30), stale_after_s=STALE_S, now_ts=ts(30))
    with pytest.raises(LostLockError) as lost:
        store.transition(
            run_id, expected=RunStatus.VALIDATING, new=RunStatus.STAGING, now=at(31), lock_id="A"
        )
    assert lost.value.exit_code == 3
    assert "lost the lock on T" in str(lost.value)
    assert store.run(run_id).status == RunStatus.VALIDATING  # type: ignore[union-attr]


# --- fencing ---------------------------------------------------------------------------------


def test_writes_through_a_fenced_store_fail_once_its_lease_is_taken_over(
    store: Store, opener: Callable[[], Store], capfd: pytest.CaptureFixture[str]
) -> None:
    run_id = new_run(store)
    store.add_steps(_steps(run_id))
    store.acquire(RESOURCES, lease("A"), stale_after_s=STALE_S, now_ts=ts(0))
    old = store.fenced("A")
    old.update_step(run_id, "a", status=StepStatus.DEPLOYING, attempts=1)
    old.add_event(run_id, ts=at(1), kind="deploy", service="a", message="by A")
    old.transition(run_id, expected=RunStatus.PLANNING, new=RunStatus.VALIDATING, now=at(1))

    newcomer = opener()
    newcomer.acquire(RESOURCES, lease("B", heartbeat=30), stale_after_s=STALE_S, now_ts=ts(30))
    writes: list[Callable[[], object]] = [
        lambda: old.update_step(run_id, "a", status=StepStatus.RELEASED),
        lambda: old.add_event(run_id, ts=at(31), kind="released", service="a", message="A"),
        lambda: old.record_release(
            run_id, "a", environment="prod", version="2.0.0", now=at(31), status="released"
        ),
        lambda: old.set_deployed_version("prod", "a", "2.0.0", now=at(31)),
        lambda: old.transition(
            run_id, expected=RunStatus.VALIDATING, new=RunStatus.STAGING, now=at(31)
        ),
        lambda: old.add_steps([Step(run_id, "c", 2, StepStatus.PENDING, None, "2.0.0")]),
        # an audited event: the step, the event and the audit record in one transaction
        lambda: old.record(
            run_id,
            ts=at(31),
            kind="released",
            service="a",
            message="A",
            step={"status": StepStatus.RELEASED},
            audit=AuditEntry(at(31), "a@h1", "released", "T", "a", "A"),
            origin="h1:/a",
        ),
        lambda: old.add_events(run_id, [(at(31), "note", None, "A")]),
    ]
    for write in writes:
        with pytest.raises(LostLockError) as lost:
            write()
        assert lost.value.exit_code == 3 and "lost the lock on T" in str(lost.value)
        # the new holder is named, however the backend noticed the loss
        assert "lock B" in str(lost.value), str(lost.value)
    assert capfd.readouterr().err == ""  # the library prints nothing (no driver warnings)
    assert newcomer.audit_chain() == []
    # nothing of those writes landed
    assert [s.status for s in newcomer.steps(run_id)] == [StepStatus.DEPLOYING, StepStatus.PENDING]
    assert [e.message for e in newcomer.events(run_id)] == ["by A"]
    assert newcomer.deployed_version("prod", "a") is None
    assert newcomer.run(run_id).status == RunStatus.VALIDATING  # type: ignore[union-attr]
    with pytest.raises(LostLockError):
        store.fenced("A")  # a lease that is gone cannot be fenced on again

    new = newcomer.fenced("B")
    new.update_step(run_id, "a", status=StepStatus.RELEASED)
    new.add_event(run_id, ts=at(32), kind="released", service="a", message="by B")
    new.transition(run_id, expected=RunStatus.VALIDATING, new=RunStatus.STAGING, now=at(32))
    assert store.steps(run_id)[0].status == StepStatus.RELEASED
    assert [e.message for e in store.events(run_id)] == ["by A", "by B"]


def test_writes_through_a_fenced_store_fail_after_unlock_force(
    store: Store, opener: Callable[[], Store]
) -> None:
    run_id = new_run(store)
    store.acquire(
        RESOURCES,
        lease("A", host=this_host(), pid=os.getpid()),
        stale_after_s=STALE_S,
        now_ts=ts(0),
    )
    fenced = store.fenced("A")
    opener().unlock("T", "A", force=True, now_ts=ts(1), stale_after_s=STALE_S)
    with pytest.raises(LostLockError):
        fenced.add_event(run_id, ts=at(2), kind="deploy", service="a", message="too late")
    assert store.events(run_id) == []


# --- the audit chain -------------------------------------------------------------------------


def test_audit_records_chain_across_connections(store: Store, opener: Callable[[], Store]) -> None:
    assert store.audit_chain() == [] and not store.has_audit_chain()
    first = store.append_audit(AuditEntry(at(0), "a@h1", "status", "T", None, "x"), origin="h1:/a")
    other = opener()  # another machine on the same store extends the same chain
    second = other.append_audit(
        AuditEntry(at(1), "b@h2", "deploy", "T", "s", {"n": 1}), origin="h2:/b"
    )
    assert first.prev == "" and second.prev == first.hash
    chain = opener().audit_chain()
    assert [r.hash for r in chain] == [first.hash, second.hash]
    assert [r.hash for r in opener().audit_chain(train="T")] == [first.hash, second.hash]
    assert opener().audit_chain(train="U") == []


def test_reads_together_see_one_state_while_another_connection_commits(
    store: Store, opener: Callable[[], Store]
) -> None:
    run_id = new_run(store)
    writer = opener()
    with store.read_together():
        before = store.events(run_id)
        writer.add_event(run_id, ts=at(1), kind="note", service=None, message="meanwhile")
        assert store.events(run_id) == before  # the same state as the first read
        assert store.unlifted_freezes() == []
    assert [e.message for e in store.events(run_id)][-1] == "meanwhile"  # seen afterwards


def test_an_audited_event_chains_after_a_record_another_connection_wrote_meanwhile(
    store: Store, opener: Callable[[], Store]
) -> None:
    # On PostgreSQL a store chains its next record to the last one it wrote without reading
    # the head; the server refuses when another connection appended since, and the record
    # is written again after the real head: the chain stays one chain, nothing is lost.
    run_id = new_run(store)

    def audited(message: str) -> Any:
        return store.record(
            run_id,
            ts=at(1),
            kind="released",
            service="a",
            message=message,
            step={"status": StepStatus.RELEASED},
            audit=AuditEntry(at(1), "a@h1", "released", "T", "a", message),
            origin="h1:/a",
        )

    first = audited("one")
    between = opener().append_audit(
        AuditEntry(at(2), "b@h2", "approve", "T", None, "x"), origin="h2:/b"
    )
    second = audited("two")
    third = audited("three")
    assert between.prev == first.hash
    assert (second.prev, third.prev) == (between.hash, second.hash)
    assert [r.hash for r in opener().audit_chain()] == [
        first.hash,
        between.hash,
        second.hash,
        third.hash,
    ]
    # the retried write is written once: one event and one step change each
    assert [e.message for e in opener().events(run_id)] == ["one", "two", "three"]


def test_approval_votes_one_per_person_with_their_event_and_audit_record(
    store: Store, opener: Callable[[], Store]
) -> None:
    run_id = new_run(store)

    def vote(on: Store, actor: str, check: Callable[..., None] = lambda run, votes: None) -> Any:
        entry = AuditEntry(at(1), actor, "approve", "T", None, {"gate": "uat"})
        return on.record_vote(
            run_id=run_id, gate="uat", actor=actor, decision="approve", comment="ok", ts=at(1),
            check=check, person=lambda a: a.split("@")[0], message=f"uat: approved by {actor}",
            audit=entry, origin="h:/log",
        )  # fmt: skip

    first = vote(store, "bob@h1")
    assert first.new and first.audit is not None and [v.actor for v in first.votes] == ["bob@h1"]
    again = vote(opener(), "bob@h2")  # the same person from another machine: counted once
    assert not again.new and again.vote.actor == "bob@h1" and again.audit is None

    def refuse(run: Any, votes: Any) -> None:
        assert run.id == run_id and [v.actor for v in votes] == ["bob@h1"]
        raise TransitionError("the run moved on")

    with pytest.raises(TransitionError):
        vote(opener(), "carol@h1", refuse)  # refused inside the transaction: nothing written
    assert [v.actor for v in opener().votes(run_id, "uat")] == ["bob@h1"]
    assert [e.kind for e in store.events(run_id)] == ["approval"]
    assert [r.actor for r in store.audit_chain()] == ["bob@h1"]
    store.clear_votes(run_id, ["uat"])
    assert opener().votes(run_id) == []


def test_store_integrity_and_where(store: Store, store_url: str) -> None:
    assert store.integrity_ok() is True
    assert store.db.kind == ("sqlite" if store_url.startswith("sqlite") else "postgresql")
    assert "password" not in store.where.lower()


# --- schema versions and migrations ----------------------------------------------------------


def _set_schema_version(store: Store, version: int) -> None:
    with store.db.tx() as tx:
        tx.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(version),))


def test_a_newer_schema_is_refused_with_exit_3(
    store: Store, store_url: str, tmp_path: Path, run_cli
) -> None:
    new_run(store)
    _set_schema_version(store, SCHEMA_VERSION + 1)
    store.close()
    for create in (True, False):  # writers and readers alike
        with pytest.raises(ReleaseTrainError) as refused:
            open_store(store_url, tmp_path, create=create)
        assert refused.value.exit_code == 3
        assert "newer" in str(refused.value)
    migrate = run_cli("--root", tmp_path, "--state", store_url, "state", "migrate")
    assert migrate.code == 3, migrate
    assert "newer" in migrate.err and "Traceback" not in migrate.err


def test_state_migrate_on_a_current_store_changes_nothing(
    store: Store, store_url: str, tmp_path: Path, run_cli
) -> None:
    run_id = new_run(store)
    result = run_cli("--root", tmp_path, "--state", store_url, "state", "migrate")
    assert result.code == 0, result
    again = open_store(store_url, tmp_path, create=True)
    assert again is not None
    try:
        assert again.run(run_id) is not None
    finally:
        again.close()


# release 0.1.0's schema: no recorded version, locks with their holder in every row, no
# in-flight columns, no anchor
SCHEMA_0_1_0 = schema_0_1_0()

ROWS_0_1_0 = """
INSERT INTO runs (train, status, started_at, updated_at, finished_at, reason, actor, plan,
    max_parallel) VALUES ('T', 'completed', 't0', 't1', 't1', NULL, 'old@host', '{}', 1);
INSERT INTO runs (train, status, started_at, updated_at, actor, plan, max_parallel)
    VALUES ('U', 'executing', 't2', 't3', 'old@host', '{}', 1);
INSERT INTO steps (run_id, service, position, status, from_version, to_version, attempts)
    VALUES (1, 'a', 0, 'released', '1.0.0', '2.0.0', 1);
INSERT INTO steps (run_id, service, position, status, from_version, to_version)
    VALUES (2, 'b', 0, 'deploying', '1.0.0', '2.0.0');
INSERT INTO deployed VALUES ('local', 'a', '2.0.0', 't1');
INSERT INTO events (run_id, ts, kind, service, message) VALUES (1, 't1', 'released', 'a', 'ok');
INSERT INTO locks VALUES ('train:U', 'L1', 'U', 'old@far', 'far', 7, 't2', 't3');
INSERT INTO locks VALUES ('service:b', 'L1', 'U', 'old@far', 'far', 7, 't2', 't3');
"""


def test_a_store_of_release_0_1_0_migrates(tmp_path: Path, run_cli) -> None:
    path = tmp_path / "old.db"
    con = sqlite3.connect(path)
    con.executescript(SCHEMA_0_1_0 + ROWS_0_1_0)
    con.close()
    url = f"sqlite://{path}"  # sqlite:///abs/path: three slashes, the path absolute

    reader = open_store(url, tmp_path, create=False)  # readers still read it, unchanged
    assert reader is not None
    try:
        assert [r.train for r in reader.runs()] == ["T", "U"]
        [b] = reader.steps(2)
        assert (b.status, b.deploy_pgid) == (StepStatus.DEPLOYING, None)
        assert {lk.lock_id for lk in reader.locks()} == {"L1"}
    finally:
        reader.close()
    with pytest.raises(ReleaseTrainError) as refused:  # a writer is told to migrate
        open_store(url, tmp_path, create=True)
    assert refused.value.exit_code == 3 and "state migrate" in str(refused.value)

    # its locks may belong to runs of release 0.1.0 still going: migrating under them is
    # refused (exit 3, naming them) unless the operator knows they are dead
    held = run_cli("--root", tmp_path, "--state", url, "state", "migrate")
    assert held.code == 3, held
    assert "L1" in held.err and "--force" in held.err, held
    migrated = run_cli("--root", tmp_path, "--state", url, "state", "migrate", "--force")
    assert migrated.code == 0, migrated

    store = open_store(url, tmp_path, create=True)
    assert store is not None
    try:
        assert store.version == SCHEMA_VERSION
        assert [(r.id, r.train, r.status) for r in store.runs()] == [
            (1, "T", RunStatus.COMPLETED),
            (2, "U", RunStatus.EXECUTING),
        ]
        [a] = store.steps(1)
        assert (a.status, a.from_version, a.to_version, a.attempts) == (
            StepStatus.RELEASED,
            "1.0.0",
            "2.0.0",
            1,
        )
        assert store.deployed_versions("local") == {"a": "2.0.0"}
        assert [e.message for e in store.events(1)] == ["ok"]
        locks = store.locks()
        assert {(lk.resource, lk.lock_id, lk.holder, lk.host, lk.pid) for lk in locks} == {
            ("train:U", "L1", "old@far", "far", 7),
            ("service:b", "L1", "old@far", "far", 7),
        }
        assert store.audit_chain() == []
        # and it is a working store of this release: the next run follows the old ids
        assert new_run(store) == 3
        store.update_step(2, "b", deploy_pgid=1, deploy_host="h", deploy_started_at="t4")
        assert store.heartbeat("L1", "t5") is True
    finally:
        store.close()
    again = run_cli("--root", tmp_path, "--state", url, "state", "migrate")
    assert again.code == 0, again  # a second migrate finds nothing to do


# --- state copy ------------------------------------------------------------------------------


def _fill(store: Store) -> None:
    """A store with something in every table that is copied."""
    first = new_run(store)
    store.add_steps(_steps(first))
    store.record_release(
        first, "a", environment="prod", version="2.0.0", now=at(1), status="released"
    )
    store.transition(first, expected=RunStatus.PLANNING, new=RunStatus.VALIDATING, now=at(2))
    store.transition(first, expected=RunStatus.VALIDATING, new=RunStatus.FAILED, now=at(3))
    second = new_run(store, "U")
    store.add_event(first, ts=at(1), kind="deploy", service="a", message="50% done")
    store.add_event(second, ts=at(4), kind="status", service=None, message="planning")
    store.set_deployed_version("staging", "b", None, now=at(4))
    store.append_audit(AuditEntry(at(5), "a@h", "status", "T", None, "x"), origin="h:/x")


def _contents(store: Store) -> dict[str, object]:
    runs = store.runs()
    return {
        "runs": runs,
        "steps": [store.steps(r.id) for r in runs],
        "events": [store.events(r.id) for r in runs],
        "deployed": {s: store.deployed_everywhere(s) for s in ("a", "b")},
        "audit": store.audit_chain(),
    }


def _copy_between(src_url: str, dst_url: str, tmp_path: Path, run_cli) -> None:
    src = open_store(src_url, tmp_path, create=True)
    assert src is not None
    try:
        _fill(src)
        src.acquire(RESOURCES, lease("A"), stale_after_s=STALE_S, now_ts=ts(0))
        expected = _contents(src)
    finally:
        src.close()

    copied = run_cli("--root", tmp_path, "state", "copy", src_url, dst_url)
    assert copied.code == 0, copied

    dst = open_store(dst_url, tmp_path, create=True)
    assert dst is not None
    try:
        assert _contents(dst) == expected
        assert dst.locks() == []  # a lease belongs to a process working on the source
        ids = [r.id for r in dst.runs()]
        assert new_run(dst) == max(ids) + 1  # ids go on after the copied ones
        before = _contents(dst)
    finally:
        dst.close()

    again = run_cli("--root", tmp_path, "state", "copy", src_url, dst_url)
    assert again.code == 3, again  # the destination is no longer empty
    assert "Traceback" not in again.err
    dst = open_store(dst_url, tmp_path, create=False)
    assert dst is not None
    try:
        assert _contents(dst) == before  # and nothing was written to it
    finally:
        dst.close()


def test_state_copy_sqlite_to_postgresql(tmp_path: Path, postgres_db_url: str, run_cli) -> None:
    _copy_between(f"sqlite://{tmp_path / 'src.db'}", postgres_db_url, tmp_path, run_cli)


def test_state_copy_postgresql_to_sqlite(tmp_path: Path, postgres_db_url: str, run_cli) -> None:
    _copy_between(postgres_db_url, f"sqlite://{tmp_path / 'dst.db'}", tmp_path, run_cli)


def test_a_sqlite_store_syncs_every_commit_as_postgresql_does(tmp_path: Path) -> None:
    """WAL with synchronous = FULL: a commit is on the disk when it returns, so the intent
    written before a deploy survives a power cut (NORMAL would survive a killed process only).
    Every connection sets it: the one that made the store and the ones opened later."""
    url = f"sqlite://{tmp_path / 'state' / 'release-trains.db'}"
    for create in (True, False):
        store = open_store(url, tmp_path, create=create)
        assert store is not None
        try:
            assert store.db.select("PRAGMA journal_mode")[0][0] == "wal"
            assert store.db.select("PRAGMA synchronous")[0][0] == 2  # FULL
        finally:
            store.close()
