"""order_services walks the graph itself (a depth-first post-order) instead of graphlib's
ready batches: the waves, the order and each participant's nearest dependencies must be
exactly what the graphlib version computed, on any graph, and a cycle is still the one
graphlib reports."""

from __future__ import annotations

import random
from collections import Counter
from graphlib import CycleError, TopologicalSorter

import pytest

from release_trains.ordering import Ordering, _canonical, _reachable, _union, order_services


def _graphlib_order(graph: dict[str, tuple[str, ...]], participants: list[str]) -> Ordering:
    """order_services as it was, on graphlib (the reference)."""
    members = set(participants)
    deps = _reachable(graph, members)
    sorter: TopologicalSorter[str] = TopologicalSorter()
    for node, node_deps in deps.items():
        sorter.add(node, *node_deps)
    try:
        sorter.prepare()
    except CycleError as err:
        return Ordering(order=(), waves=(), requires={}, cycle=_canonical(err.args[1][::-1]))
    readers = Counter(d for node_deps in deps.values() for d in node_deps if d not in members)
    level: dict[str, int] = {}
    nearest: dict[str, frozenset[str]] = {}
    while sorter.is_active():
        ready = sorter.get_ready()
        for node in ready:
            level[node] = max((level[d] + (d in members) for d in deps[node]), default=0)
            nearest[node] = _union(
                [frozenset((d,)) if d in members else nearest[d] for d in deps[node]]
            )
            for d in deps[node]:
                if d not in members:
                    readers[d] -= 1
                    if not readers[d]:
                        del nearest[d]
        sorter.done(*ready)
    by_wave: dict[int, list[str]] = {}
    for name in members:
        by_wave.setdefault(level[name], []).append(name)
    waves = tuple(tuple(sorted(by_wave[k])) for k in sorted(by_wave))
    order = tuple(name for wave in waves for name in wave)
    return Ordering(order=order, waves=waves, requires={name: nearest[name] for name in order})


def _graph(
    rng: random.Random, n: int, degree: float, back_edges: int
) -> dict[str, tuple[str, ...]]:
    names = [f"s{i:03d}" for i in range(n)]
    graph: dict[str, tuple[str, ...]] = {}
    for i, name in enumerate(names):
        k = min(i, int(rng.expovariate(1 / degree))) if i else 0
        deps = rng.sample(names[:i], k)
        if rng.random() < 0.05:
            deps.append("outside-the-catalog")
        graph[name] = tuple(deps)
    for _ in range(back_edges if n > 1 else 0):  # an edge to a later one: may close a cycle
        a, b = sorted(rng.sample(range(n), 2))
        graph[names[a]] = (*graph[names[a]], names[b])
    if back_edges and rng.random() < 0.3:
        graph[names[0]] = (*graph[names[0]], names[0])  # a self-dependency
    return graph


@pytest.mark.parametrize("seed", range(60))
def test_the_same_ordering_as_graphlib(seed: int) -> None:
    rng = random.Random(seed)
    n = rng.choice([1, 2, 5, 20, 80, 200])
    graph = _graph(rng, n, degree=rng.choice([0.5, 1, 3]), back_edges=rng.choice([0, 0, 1, 3]))
    participants = rng.sample(sorted(graph), max(1, n // rng.choice([1, 2, 5])))
    if rng.random() < 0.2:
        participants.append("not-in-the-catalog")
    got, want = order_services(graph, participants), _graphlib_order(graph, participants)
    assert got == want
    assert (got.cycle is None) == bool(got.order)
