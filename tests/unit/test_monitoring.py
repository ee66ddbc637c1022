"""monitoring.snapshot at the four levels (train, services, gates, dependencies), from states
built by the real executor (local and command deployers) with an injected clock."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import write_script

from release_trains.catalog import load_catalog
from release_trains.errors import UnknownTrainError
from release_trains.executor import Executor, RunOutcome, Settings
from release_trains.gates import Health
from release_trains.models import Service
from release_trains.monitoring import Snapshot, changes, follow, snapshot, summaries
from release_trains.rollback import rollback_train
from release_trains.state import open_store

TRAIN = "Q4-curve-upgrade"
ORDER = ["curve-service", "backtesting-service", "scenario-service"]
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)
WHO = "tester@ci"


class Clock:
    """Each call is one second after the one before: timestamps and durations are exact."""

    def __init__(self, start: datetime = T0, step: timedelta = timedelta(seconds=1)) -> None:
        self.now, self.step = start, step
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            self.now += self.step
            return self.now


def edit_yaml(path: Path, change: Callable[[Any], None]) -> None:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(doc)
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")


def train_of(doc: Any, name: str = TRAIN) -> dict[str, Any]:
    found: dict[str, Any] = next(t for t in doc["trains"] if t["name"] == name)
    return found


def no_auto_rollback(root: Path) -> None:
    edit_yaml(
        root / "catalog" / "release-trains.yaml",
        lambda d: train_of(d)["rollback"].update(enabled=False),
    )


def failing_deployer(root: Path, *, fails: str) -> None:
    """The command deployer: a script that succeeds for every service but `fails`."""
    script = write_script(
        root / "bin" / "deploy",
        f'if [ "$1" = "{fails}" ]; then echo "deploy of $1 refused" >&2; exit 1; fi\nexit 0\n',
    )
    edit_yaml(
        root / "config" / "upgrade-policies.yaml",
        lambda d: d["release_trains"].update(
            deployer={
                "type": "command",
                "deploy": [str(script), "{service}", "{version}"],
                "retries": 0,
            }
        ),
    )


def execute(root: Path, *, clock: Clock, echo: Callable[[str], None] | None = None) -> RunOutcome:
    catalog = load_catalog(root)
    store = open_store(None, root, create=True)
    assert store is not None
    try:
        settings = Settings(clock=clock, who=WHO, echo=echo)
        return Executor(catalog=catalog, store=store, train=TRAIN, settings=settings).execute()
    finally:
        store.close()


def read(root: Path, *, at: datetime, **kw: Any) -> Snapshot:
    catalog = load_catalog(root)
    store = open_store(None, root, create=False)
    try:
        return snapshot(catalog, store, TRAIN, now=at, **kw)
    finally:
        if store:
            store.close()


def pause_after_first_release(root: Path, reason: str) -> Callable[[str], None]:
    """An echo hook: once the first service is released, ask the executor to pause, as
    `release-trains pause` would from another shell."""
    store = open_store(None, root, create=True)
    assert store is not None

    def echo(line: str) -> None:
        if " released: " in line:
            run = store.latest_run(TRAIN)
            assert run is not None
            if not store.pause_request(run.id):
                store.request_pause(run.id, f"{WHO}: {reason}")

    return echo


# --- the four states the issue names ------------------------------------------------------


def test_a_train_stopped_after_two_of_three_services_is_failed_at_66_7(sample_root: Path) -> None:
    no_auto_rollback(sample_root)
    failing_deployer(sample_root, fails="scenario-service")
    outcome = execute(sample_root, clock=Clock())
    assert outcome.status == "failed"

    snap = read(sample_root, at=T0 + timedelta(hours=1))
    assert (snap.status, snap.progress, snap.released) == ("failed", 66.7, 2)
    assert [s.service for s in snap.services] == ORDER
    assert [s.status for s in snap.services] == ["released", "released", "failed"]
    failed = snap.services[2]
    assert "deploy of scenario-service refused" in (failed.error or "")
    assert failed.attempts == 1 and failed.duration_s is not None and failed.duration_s > 0
    assert snap.reason and "scenario-service failed" in snap.reason
    assert snap.exit_code == 1 and snap.final
    # gates and dependencies come from the plan the run stored
    assert (snap.gates_passed, len(snap.gates)) == (3, 3)
    assert all(g.outcome == "pass" and g.detail for g in snap.gates)
    assert (snap.dependencies_satisfied, len(snap.dependencies)) == (1, 1)
    assert snap.dependencies[0].name == "curves-api"
    # the phase: final, so no time-in-phase; the run's length against the train's estimate
    assert snap.phase.name == "failed" and snap.phase.elapsed_s is None
    assert snap.phase.estimated_s == 7200 and snap.phase.run_elapsed_s is not None
    assert 0 < snap.phase.run_elapsed_s < 7200 and not snap.phase.over_estimate
    assert 0 < len(snap.events) <= 10 and snap.events[-1].message.startswith("executing -> failed")


def test_a_paused_train_shows_paused_with_what_it_released(sample_root: Path) -> None:
    outcome = execute(
        sample_root, clock=Clock(), echo=pause_after_first_release(sample_root, "freeze")
    )
    assert outcome.status == "paused"

    snap = read(sample_root, at=T0 + timedelta(hours=1))
    assert (snap.status, snap.progress) == ("paused", 33.3)
    assert [s.status for s in snap.services] == ["released", "pending", "pending"]
    assert snap.reason and "freeze" in snap.reason
    assert snap.exit_code == 0 and not snap.final
    # paused is a phase that goes on: how long it has lasted is measured to `now`
    assert snap.phase.name == "paused" and snap.phase.elapsed_s is not None
    assert snap.phase.elapsed_s > 3000


def test_a_rolled_back_train_shows_every_service_rolled_back_and_no_progress(
    sample_root: Path,
) -> None:
    clock = Clock()
    assert execute(sample_root, clock=clock).status == "completed"
    catalog = load_catalog(sample_root)
    store = open_store(None, sample_root, create=True)
    assert store is not None
    try:
        _, result = rollback_train(
            catalog, store, TRAIN, settings=Settings(clock=clock, who=WHO), reason="latency doubled"
        )
    finally:
        store.close()
    assert result is not None and result.status == "rolled_back"

    snap = read(sample_root, at=clock())
    assert (snap.status, snap.progress, snap.released) == ("rolled_back", 0.0, 0)
    assert [s.status for s in snap.services] == ["rolled_back"] * 3
    assert all(s.rollback_started_at and s.rollback_finished_at for s in snap.services)
    assert snap.reason and snap.reason.startswith("latency doubled")
    assert snap.exit_code == 1


def test_a_completed_train_is_100_percent_and_exit_0(sample_root: Path) -> None:
    clock = Clock()
    execute(sample_root, clock=clock)
    snap = read(sample_root, at=clock())
    assert (snap.status, snap.progress, snap.exit_code) == ("completed", 100.0, 0)
    assert [s.health for s in snap.services] == ["not verified"] * 3
    # one second per clock tick: each deploy's start and finish are exactly known
    assert all(s.duration_s is not None and s.duration_s >= 1 for s in snap.services)
    assert snap.to_json()["services"][0] == {
        **snap.services[0].to_json(),
        "service": "curve-service", "from_version": "1.8.0", "to_version": "2.0.0",
    }  # fmt: skip


def test_a_train_that_never_ran_is_planned_in_memory_and_nothing_is_written(
    sample_root: Path,
) -> None:
    snap = read(sample_root, at=T0)
    assert (snap.status, snap.run_id, snap.progress, snap.exit_code) == ("planning", None, 0.0, 0)
    assert [(s.service, s.status, s.from_version, s.to_version) for s in snap.services] == [
        ("curve-service", "pending", "1.8.0", "2.0.0"),
        ("backtesting-service", "pending", "1.3.0", "1.3.0"),
        ("scenario-service", "pending", "1.4.0", "1.4.0"),
    ]
    assert (snap.gates_passed, len(snap.gates), snap.dependencies_satisfied) == (3, 3, 1)
    assert snap.events == () and snap.reason is None
    assert not (sample_root / "analysis").exists()  # no store, no plan file, no log


def test_an_unknown_train_is_bad_input(sample_root: Path) -> None:
    with pytest.raises(UnknownTrainError):
        snapshot(load_catalog(sample_root), None, "nope", now=T0)


def test_a_live_probe_replaces_the_recorded_health_and_unhealthy_needs_attention(
    sample_root: Path,
) -> None:
    execute(sample_root, clock=Clock())

    def probe(service: Service) -> Health:
        return Health(service.name, service.name != "scenario-service", "GET /health -> 503")

    snap = read(sample_root, at=T0 + timedelta(hours=1), probe=probe)
    assert [s.health for s in snap.services] == ["healthy", "healthy", "unhealthy"]
    assert snap.unhealthy == ["scenario-service"]
    assert (snap.status, snap.exit_code) == ("completed", 1)


def test_summaries_list_every_train_with_status_and_progress(sample_root: Path) -> None:
    no_auto_rollback(sample_root)
    failing_deployer(sample_root, fails="scenario-service")
    execute(sample_root, clock=Clock())
    catalog = load_catalog(sample_root)
    store = open_store(None, sample_root, create=False)
    rows = summaries(catalog, store, now=T0)
    assert store is not None
    store.close()
    by_name = {r.train: r for r in rows}
    assert list(by_name) == list(catalog.trains)
    assert (by_name[TRAIN].status, by_name[TRAIN].progress, by_name[TRAIN].exit_code) == (
        "failed",
        66.7,
        1,
    )
    never = by_name["pricing-refresh"]
    assert (never.status, never.progress, never.run_id, never.participants) == (
        "planning",
        0.0,
        None,
        3,
    )


# --- watching -------------------------------------------------------------------------------


def fake(status: str, steps: list[tuple[str, str]], *, run_id: int | None = 1) -> Snapshot:
    from release_trains.monitoring import Phase, ServiceProgress

    return Snapshot(
        train=TRAIN, description="", status=status, run_id=run_id,
        services=tuple(ServiceProgress(n, s, "1.0.0", "2.0.0", "not verified") for n, s in steps),
        gates=(), dependencies=(), phase=Phase(status, None, None, None, None), events=(),
        reason=None, actor=None, started_at=None, finished_at=None, taken_at="t",
    )  # fmt: skip


def test_follow_polls_at_the_interval_until_a_final_status() -> None:
    states = iter(
        [
            fake("planning", [], run_id=None),
            fake("executing", []),
            fake("executing", []),
            fake("completed", []),
            fake("failed", []),
        ]
    )
    sleeps: list[float] = []
    seen = [s.status for s in follow(lambda: next(states), interval_s=0.5, sleep=sleeps.append)]
    assert seen == [
        "planning",
        "executing",
        "executing",
        "completed",
    ]  # stops at the first final one
    assert sleeps == [0.5, 0.5, 0.5]  # between reads, never after the last


def test_changes_print_one_line_per_change() -> None:
    first = fake("executing", [("a", "deploying"), ("b", "pending")])
    assert changes(None, first) == [
        f"{TRAIN}: executing 0.0% (0/2 released)",
        f"{TRAIN} a: deploying 1.0.0 -> 2.0.0 [not verified]",
        f"{TRAIN} b: pending 1.0.0 -> 2.0.0 [not verified]",
    ]
    assert changes(first, first) == []
    second = fake("executing", [("a", "released"), ("b", "pending")])
    assert changes(first, second) == [f"{TRAIN} a: released 1.0.0 -> 2.0.0 [not verified]"]
    third = fake("completed", [("a", "released"), ("b", "released")])
    assert changes(second, third)[0] == f"{TRAIN}: completed 100.0% (2/2 released)"
