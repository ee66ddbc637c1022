"""Critical-path-first scheduling: among ready services the executor starts the one with the
longest remaining path (estimated durations where known, else counted in services), ties by
name. The graphs here are ones where starting in name order is worse."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml

from release_trains.catalog import load_catalog
from release_trains.executor import Executor, Settings
from release_trains.executor.scheduling import ReadyQueue, priorities, weights
from release_trains.ordering import order_services, remaining_path
from release_trains.state import default_path, open_store

# `a` and `b` stand alone; `z1 -> z2 -> z3` is a chain (z2 needs z1, z3 needs z2). In name
# order `a` and `b` start first and the chain waits; the chain is the critical path.
GRAPH: dict[str, list[str]] = {"a": [], "b": [], "z1": [], "z2": ["z1"], "z3": ["z2"]}


def _simulate(
    requires: Mapping[str, frozenset[str]], order: tuple[str, ...], *, parallel: int, key: Any
) -> int:
    """Unit-time list scheduling (no clock): the makespan in steps when the ready service
    with the smallest `key` starts first."""
    done: set[str] = set()
    started: set[str] = set()
    steps = 0
    while len(done) < len(order):
        ready = [n for n in order if n not in started and requires[n] <= done]
        batch = sorted(ready, key=key)[:parallel]
        started.update(batch)
        done.update(batch)
        steps += 1
    return steps


def test_remaining_path_counts_the_work_behind_each_service() -> None:
    ordering = order_services(GRAPH, GRAPH)
    paths = remaining_path(ordering.order, ordering.requires, dict.fromkeys(GRAPH, 1.0))
    assert paths == {"a": 1.0, "b": 1.0, "z1": 3.0, "z2": 2.0, "z3": 1.0}


def test_remaining_path_weighs_estimated_durations() -> None:
    graph = {"long": [], "short": [], "after-short": ["short"]}
    ordering = order_services(graph, graph)
    weight = {"long": 600.0, "short": 60.0, "after-short": 60.0}
    paths = remaining_path(ordering.order, ordering.requires, weight)
    assert paths == {"long": 600.0, "short": 120.0, "after-short": 60.0}


def test_ready_queue_takes_the_longest_path_first_then_names() -> None:
    queue = ReadyQueue({"a": 1.0, "b": 1.0, "z1": 3.0, "y": 3.0})
    queue.push(["a", "b", "z1", "y"])
    assert [queue.pop() for _ in range(len(queue))] == ["y", "z1", "a", "b"]


def test_critical_path_first_beats_name_order_on_this_graph() -> None:
    ordering = order_services(GRAPH, GRAPH)
    paths = remaining_path(ordering.order, ordering.requires, dict.fromkeys(GRAPH, 1.0))
    by_name = _simulate(ordering.requires, ordering.order, parallel=2, key=lambda n: n)
    critical = _simulate(
        ordering.requires, ordering.order, parallel=2, key=lambda n: (-paths[n], n)
    )
    assert (by_name, critical) == (4, 3)  # 3 is the bound: the chain's length


def _root(tmp_path: Path, release: Mapping[str, Mapping[str, Any]] | None = None) -> Path:
    root = tmp_path / "root"
    services = []
    for name, deps in GRAPH.items():
        entry: dict[str, Any] = {
            "name": name,
            "version": "1.0.0",
            "quality": {"score": 90, "open_critical_vulns": 0},
        }
        if deps:
            entry["dependencies"] = {"internal": deps}
        if release and name in release:
            entry["release"] = dict(release[name])
        services.append(entry)
    files: dict[str, Any] = {
        "catalog/service-index.yaml": {"services": services},
        "catalog/release-trains.yaml": {
            "trains": [{"name": "T", "target_version": "2.0.0", "participants": list(GRAPH)}]
        },
        "config/upgrade-policies.yaml": {
            "release_trains": {"environment": "test", "deployer": {"type": "local"}}
        },
    }
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return root


def _deploy_order(root: Path) -> list[str]:
    store = open_store(str(default_path(root)), root, create=True, busy_timeout_s=5)
    assert store is not None
    try:
        settings = Settings(clock=lambda: datetime.now(timezone.utc), who="tester@host")
        outcome = Executor(catalog=load_catalog(root), store=store, train="T", settings=settings)
        result = outcome.execute()
        assert result.status == "completed", result
        return [e.service or "" for e in store.events(result.run_id) if e.kind == "deploy"]
    finally:
        store.close()


def test_the_executor_starts_the_chain_before_the_lone_services(tmp_path: Path) -> None:
    # one at a time: z1 (path 3) first, then z2 (2) as soon as it is ready, then z3 and the
    # lone services tie at 1 and go by name
    assert _deploy_order(_root(tmp_path)) == ["z1", "z2", "a", "b", "z3"]


def test_estimated_durations_decide_over_counts(tmp_path: Path) -> None:
    # `b` alone takes longer than the whole chain: it starts first
    root = _root(tmp_path, {"b": {"estimated_duration": "3h"}})
    catalog = load_catalog(root)
    assert weights(catalog, ["a", "b"])["b"] == 3 * 3600
    paths = priorities(catalog, order_services(GRAPH, GRAPH))
    assert max(paths, key=lambda n: paths[n]) == "b"
    assert _deploy_order(root)[0] == "b"
