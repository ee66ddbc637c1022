"""What the journal costs the store: an audited event, the step change it reports and its audit
record are one write transaction (issue 11's B3: PostgreSQL pays a round trip per statement),
staging's plain events one for all; a lease lost meanwhile writes none of them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from release_trains import audit
from release_trains.errors import LostLockError
from release_trains.journal import Journal
from release_trains.lifecycle import RunStatus
from release_trains.state import Lock, Step, Store, open_store

NOW = "2026-12-01T09:00:00.000+00:00"


def clock() -> datetime:
    return datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)


class Counted:
    """Counts the write transactions a store opens."""

    def __init__(self, store: Store) -> None:
        self.writes = 0
        db = store.db
        original = db.tx

        @contextmanager
        def tx(*, write: bool = True) -> Iterator[Any]:
            if write:
                self.writes += 1
            with original(write=write) as t:
                yield t

        db.tx = tx  # type: ignore[method-assign]


def setup(tmp_path: Path) -> tuple[Store, int]:
    store = open_store(None, tmp_path, create=True)
    assert store is not None
    run = store.create_run(
        train="T", status=RunStatus.PLANNING, actor="me@h", plan="{}", max_parallel=1, now=NOW
    )
    store.add_steps([Step(run.id, name, i, "pending", None, "2.0.0") for i, name in
                     enumerate(("a", "b"))])  # fmt: skip
    return store, run.id


def journal_of(tmp_path: Path, store: Store, run_id: int) -> Journal:
    return Journal(
        root=tmp_path, store=store, train="T", run_id=run_id, clock=clock, who="me@h", host="h"
    )


def test_an_audited_event_with_its_step_change_is_one_write_transaction(tmp_path: Path) -> None:
    store, run_id = setup(tmp_path)
    journal = journal_of(tmp_path, store, run_id)
    counted = Counted(store)
    journal.event("released", "2.0.0", service="a", audited=True, step={"status": "released"})
    assert counted.writes == 1
    assert [s.status for s in store.steps(run_id)] == ["released", "pending"]
    assert [e.kind for e in store.events(run_id)] == ["released"]
    chain = store.audit_chain()
    assert [(r.action, r.service) for r in chain] == [("released", "a")]
    assert audit.path_for(tmp_path).read_bytes() == chain[0].line() + b"\n"
    journal.close()


def test_plain_events_of_a_batch_are_one_write_transaction_in_order(tmp_path: Path) -> None:
    store, run_id = setup(tmp_path)
    journal = journal_of(tmp_path, store, run_id)
    counted = Counted(store)
    with journal.batch():
        for name in ("a", "b"):
            journal.event("rollback-point", f"{name}: none", service=name)
            journal.event("artifact", "nothing to fetch", service=name)
        assert counted.writes == 0  # nothing waited to be written yet
        journal.event("warning", "something", service="b", audited=True)  # cannot wait
        journal.event("artifact", "last", service="b")
    assert counted.writes == 3  # the four that waited, the audited one, the last
    kinds = [e.kind for e in store.events(run_id)]
    assert kinds == ["rollback-point", "artifact"] * 2 + ["warning", "artifact"]
    journal.close()


def test_a_lost_lease_writes_neither_the_event_nor_its_step_nor_its_audit_record(
    tmp_path: Path,
) -> None:
    store, run_id = setup(tmp_path)
    lock = Lock("", "L1", "T", "me@h", "h", 1, NOW, NOW)
    store.acquire(["train:T"], lock, stale_after_s=60, now_ts=0)
    fenced = store.fenced("L1")
    journal = journal_of(tmp_path, fenced, run_id)
    store.unlock("T", "L1", force=True, now_ts=0, stale_after_s=60)
    with pytest.raises(LostLockError):
        journal.event("released", "2.0.0", service="a", audited=True, step={"status": "released"})
    assert [s.status for s in store.steps(run_id)] == ["pending", "pending"]
    assert store.events(run_id) == [] and store.audit_chain() == []
    assert audit.path_for(tmp_path).read_bytes() == b""
    journal.close()
