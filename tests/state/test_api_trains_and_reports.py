"""The store's parts for the server, on SQLite and on a real PostgreSQL server: trains
defined through the API (state/trains.py) and external pipelines' deploy reports
(state/deploys.py), and the v2 -> v3 migration that adds their tables."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from release_trains.errors import NotNowError, UnknownTrainError
from release_trains.lifecycle import FINAL, RunStatus
from release_trains.state import Store, migrate_store, open_database, open_store

SETTLED = sorted(str(s) for s in FINAL)
NOW = "2026-01-01T00:00:00.000+00:00"


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite://{tmp_path / 'state' / 'release-trains.db'}"
    url: str = request.getfixturevalue("postgres_db_url")
    return url


@pytest.fixture
def store(store_url: str, tmp_path: Path) -> Iterator[Store]:
    s = open_store(store_url, tmp_path, create=True)
    assert s is not None
    yield s
    s.close()


def test_api_trains_add_read_replace_delete(store: Store) -> None:
    definition = {"name": "t", "participants": ["a"]}
    store.add_api_train(definition, who="token:admin", now=NOW)
    with pytest.raises(NotNowError, match="exists"):
        store.add_api_train(definition, who="token:admin", now=NOW)
    record = store.api_train("t")
    assert record is not None and record.definition == definition
    assert record.created_by == "token:admin"
    changed = {"name": "t", "participants": ["a", "b"]}
    store.replace_api_train("t", changed, not_running=SETTLED, now="2026-01-02T00:00:00")
    assert [r.definition for r in store.api_trains()] == [changed]
    # a run in progress keeps its definition, and the train
    run = store.create_run(
        train="t", status=RunStatus.EXECUTING, actor="x", plan="{}", max_parallel=1, now=NOW
    )
    with pytest.raises(NotNowError, match=f"run {run.id} executing"):
        store.replace_api_train("t", definition, not_running=SETTLED, now=NOW)
    with pytest.raises(NotNowError, match="cannot delete"):
        store.delete_api_train("t", not_running=SETTLED)
    store.transition(run.id, expected=RunStatus.EXECUTING, new=RunStatus.FAILED, now=NOW)
    store.delete_api_train("t", not_running=SETTLED)
    assert store.api_trains() == [] and store.api_train("t") is None
    assert store.run(run.id) is not None  # its history stays
    with pytest.raises(UnknownTrainError):
        store.delete_api_train("t", not_running=SETTLED)


def test_deploy_reports_in_order_per_service_and_environment(store: Store) -> None:
    assert store.last_deploy_report_id() == 0
    kw = {"health_status": None, "detail": None, "who": "ci", "now": NOW}
    first = store.add_deploy_report(
        service="a", environment="prod", status="deployed", version="1", **kw
    )
    store.add_deploy_report(service="b", environment="prod", status="failed", version="2", **kw)
    store.add_deploy_report(service="a", environment="test", status="deployed", version="3", **kw)
    last = store.add_deploy_report(
        service="a", environment="prod", status="failed", version="4", **kw
    )
    assert store.last_deploy_report_id() == last.id
    assert [r.version for r in store.deploy_reports("a", environment="prod")] == ["1", "4"]
    after = store.deploy_reports("a", environment="prod", after_id=first.id)
    assert [r.version for r in after] == ["4"]
    newest = store.last_deploy_report("a", environment="prod")
    assert newest is not None and newest.version == "4"
    deployed = store.last_deploy_report("a", environment="prod", status="deployed")
    assert deployed is not None and deployed.version == "1"


def test_a_v2_store_gets_the_server_tables_by_migration(store_url: str, tmp_path: Path) -> None:
    s = open_store(store_url, tmp_path, create=True)
    assert s is not None
    s.close()
    db = open_database(store_url, tmp_path, create=False, busy_timeout_s=5)
    assert db is not None
    with db.tx() as tx:  # back to the shape of version 2
        for table in ("tokens", "api_trains", "deploy_reports"):
            tx.execute(f"DROP TABLE {table}")
        tx.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    db.close()
    assert migrate_store(store_url, tmp_path).changed
    s = open_store(store_url, tmp_path, create=True)
    assert s is not None
    try:
        assert {"tokens", "api_trains", "deploy_reports"} <= set(s.tables)
        s.add_api_train({"name": "t", "participants": ["a"]}, who="x", now=NOW)
        assert [t.name for t in s.api_trains()] == ["t"]
    finally:
        s.close()
