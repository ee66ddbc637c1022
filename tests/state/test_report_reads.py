"""The bounded reads reports make, the same on SQLite and PostgreSQL: the latest runs without
their plans, step counts and events of chosen runs, a service's latest steps, and the audit
tail read newest first until the caller says stop."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from release_trains.state import AuditEntry, Step, Store, open_store

T0 = datetime(2026, 5, 1, tzinfo=timezone.utc)


def iso(t: datetime) -> str:
    return t.isoformat(timespec="milliseconds")


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    url = (
        f"sqlite://{tmp_path / 'state' / 'release-trains.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("postgres_db_url")
    )
    s = open_store(url, tmp_path, create=True)
    assert s is not None
    yield s
    s.close()


def seed(store: Store, runs: int) -> list[int]:
    ids = []
    for k in range(runs):
        at = iso(T0 + timedelta(hours=k))
        run = store.create_run(
            train="T", status="planning", actor="a@h", plan='{"big": "plan"}', max_parallel=1,
            now=at,
        )  # fmt: skip
        store.add_steps([Step(run.id, s, i, "released", "1", "2") for i, s in enumerate("ab")])
        store.update_step(run.id, "a", status="failed")
        store.add_event(run.id, ts=at, kind="deploy-failed", service="a", message=f"r{run.id}")
        store.add_event(run.id, ts=at, kind="deploy", service="b", message="x")
        store.append_audit(AuditEntry(at, "a@h", "deploy", "T", "a", {"run": run.id}), origin=None)
        store.append_audit(AuditEntry(at, "a@h", "deploy", "U", "a", {}), origin=None)
        ids.append(run.id)
    return ids


def test_report_reads_are_bounded_and_alike_on_both_stores(store: Store) -> None:
    ids = seed(store, 5)
    heads, total = store.recent_runs("T", limit=2)
    assert [h.id for h in heads] == [ids[4], ids[3]] and total == 5
    assert heads[0].started_at == iso(T0 + timedelta(hours=4)) and heads[0].status == "planning"
    assert store.step_counts("T", run_ids=[ids[0], ids[4]]) == {ids[0]: (1, 2), ids[4]: (1, 2)}
    assert store.step_counts("T", run_ids=[]) == {}
    events = store.events_of_runs([ids[1], ids[2]], ["deploy-failed"], limit=10)
    assert [e.message for e in events] == [f"r{ids[2]}", f"r{ids[1]}"]  # newest first
    assert len(store.events_of_runs(ids, ["deploy-failed", "deploy"], limit=3)) == 3
    assert store.events_of_runs(ids, ["deploy"], limit=10, service="a") == []
    history = store.service_history("a", limit=2)
    assert [(s.run_id, s.status, train, run.id) for s, train, run in history] == [
        (ids[4], "failed", "T", ids[4]),
        (ids[3], "failed", "T", ids[3]),
    ]
    shown, more = store.audit_tail(
        "T", keep=lambda ts: ts >= iso(T0 + timedelta(hours=2)), limit=100, page=2
    )
    assert [r.detail for r in shown] == [f'{{"run": {i}}}' for i in (ids[4], ids[3], ids[2])]
    assert more
    everything, more = store.audit_tail("T", keep=lambda ts: True, limit=100, page=2)
    assert len(everything) == 5 and not more and {r.train for r in everything} == {"T"}
    capped, more = store.audit_tail("T", keep=lambda ts: True, limit=3)
    assert len(capped) == 3 and more
