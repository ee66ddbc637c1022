"""Release order of a train's participants, from the catalog's dependency graph.

A participant is released after every participant it depends on, directly or through
services outside the train (A needs X needs B, X not released: B still goes first).
Everything here is iterative and linear in the part of the graph reachable from the
participants: catalogs hold tens of thousands of services and chains can be deep.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from graphlib import CycleError, TopologicalSorter

__all__ = ["Ordering", "find_cycles", "order_services", "remaining_path"]


@dataclass(frozen=True)
class Ordering:
    """How to release a train's participants; on a cycle, only `cycle` is filled in."""

    order: tuple[str, ...]  # every participant once, dependencies first, ties by name
    waves: tuple[tuple[str, ...], ...]  # wave k: longest chain of participant deps is k
    requires: Mapping[str, frozenset[str]]  # participant -> nearest participant deps
    cycle: tuple[str, ...] | None = None  # closed path, e.g. ("a", "b", "a")

    def cycle_text(self) -> str:
        """The cycle as "a -> b -> a", or "" when there is none."""
        return " -> ".join(self.cycle or ())

    def dependents_first(self) -> tuple[tuple[str, ...], ...]:
        """The waves in reverse, for rolling back dependents before their dependencies."""
        return tuple(reversed(self.waves))


def order_services(graph: Mapping[str, Iterable[str]], participants: Iterable[str]) -> Ordering:
    """Order `participants` by the dependencies in `graph` (service -> its dependencies).

    A dependency that is not a key of `graph` is outside the catalog and is ignored; a
    participant that is not a key is taken to have no dependencies.
    """
    members = set(participants)
    deps = _reachable(graph, members)

    topological = _dependencies_first(deps)
    if topological is None:  # a cycle: graphlib finds the one reported (as it always has)
        sorter: TopologicalSorter[str] = TopologicalSorter()
        for node, node_deps in deps.items():
            sorter.add(node, *node_deps)
        try:
            sorter.prepare()
        except CycleError as err:
            # graphlib lists each node before the nodes that depend on it; reverse it so that
            # every step reads "depends on", like the graph itself.
            cycle = _canonical(err.args[1][::-1])
            return Ordering(order=(), waves=(), requires={}, cycle=cycle)
        raise AssertionError("a cycle graphlib does not see")  # pragma: no cover

    # An outsider's `nearest` set is read only by the nodes that depend on it; dropping it
    # after its last reader halves peak memory on a 10,000-participant train (~230 MB).
    readers = Counter(d for node_deps in deps.values() for d in node_deps if d not in members)
    level: dict[str, int] = {}
    nearest: dict[str, frozenset[str]] = {}
    for node in topological:
        # Dependencies come first, so their entries already exist. Both values depend only
        # on the graph, not on which topological order computes them.
        level[node] = max((level[d] + (d in members) for d in deps[node]), default=0)
        nearest[node] = _union(
            [frozenset((d,)) if d in members else nearest[d] for d in deps[node]]
        )
        for d in deps[node]:
            if d not in members:
                readers[d] -= 1
                if not readers[d]:
                    del nearest[d]

    by_wave: dict[int, list[str]] = {}
    for name in members:
        by_wave.setdefault(level[name], []).append(name)
    waves = tuple(tuple(sorted(by_wave[k])) for k in sorted(by_wave))
    # Flattening the waves is a valid order: a dependency always sits in a lower wave.
    order = tuple(name for wave in waves for name in wave)
    return Ordering(order=order, waves=waves, requires={name: nearest[name] for name in order})


def remaining_path(
    order: Sequence[str], requires: Mapping[str, Iterable[str]], weight: Mapping[str, float]
) -> dict[str, float]:
    """Each service's longest remaining path: its own weight plus the longest remaining path
    of the services that depend on it (the work that cannot start before it ends).

    `order` lists every service dependencies first (Ordering.order); `requires` gives each
    one's nearest dependencies; `weight` each one's expected duration. Starting the ready
    service with the longest remaining path first keeps the critical path moving (list
    scheduling), which name order does not. Linear in the services and edges.
    """
    dependents: dict[str, list[str]] = {name: [] for name in order}
    for name in order:
        for dep in requires.get(name, ()):
            if dep in dependents:
                dependents[dep].append(name)
    out: dict[str, float] = {}
    for name in reversed(order):  # dependents before what they depend on
        out[name] = weight[name] + max((out[d] for d in dependents[name]), default=0.0)
    return out


def find_cycles(graph: Mapping[str, Iterable[str]]) -> list[tuple[str, ...]]:
    """One closed path per cycle-bearing strongly connected component of the whole graph."""
    deps = _adjacency(graph)
    cycles: list[tuple[str, ...]] = []
    for component in _strongly_connected(deps):
        start = min(component)
        if len(component) > 1 or start in deps[start]:
            cycles.append(_cycle_through(start, deps, set(component)))
    return sorted(cycles)


def _adjacency(graph: Mapping[str, Iterable[str]]) -> dict[str, tuple[str, ...]]:
    # Sorted keys and deduplicated, sorted dependencies make every traversal, and so every
    # reported cycle, independent of the caller's iteration order.
    return {node: _deps_of(graph, node) for node in sorted(graph)}


def _deps_of(graph: Mapping[str, Iterable[str]], node: str) -> tuple[str, ...]:
    return tuple(sorted({d for d in graph.get(node, ()) if d in graph}))


def _reachable(
    graph: Mapping[str, Iterable[str]], starts: Iterable[str]
) -> dict[str, tuple[str, ...]]:
    """Adjacency of the subgraph reachable from `starts` (iterative: graphs can be deep)."""
    deps: dict[str, tuple[str, ...]] = {}
    stack = sorted(starts, reverse=True)
    while stack:
        node = stack.pop()
        if node in deps:
            continue
        deps[node] = _deps_of(graph, node)
        stack.extend(d for d in reversed(deps[node]) if d not in deps)
    return deps


def _dependencies_first(deps: Mapping[str, Sequence[str]]) -> list[str] | None:
    """Every node of `deps` after all of its dependencies (a depth-first post-order,
    iterative: chains can be deep), or None when the graph has a cycle. Every dependency
    must itself be a key (as _reachable gives). A third of graphlib's cost: no per-node
    bookkeeping object, no ready-batch calls."""
    done: set[str] = set()
    open_: set[str] = set()  # on the current path: meeting one again closes a cycle
    out: list[str] = []
    for start in deps:
        if start in done:
            continue
        open_.add(start)
        stack = [(start, iter(deps[start]))]
        while stack:
            node, pending = stack[-1]
            for d in pending:
                if d in done:
                    continue
                if d in open_:
                    return None
                open_.add(d)
                stack.append((d, iter(deps[d])))
                break
            else:
                stack.pop()
                open_.discard(node)
                done.add(node)
                out.append(node)
    return out


def _union(sets: Sequence[frozenset[str]]) -> frozenset[str]:
    # Along a chain of outsiders every node would otherwise copy the same set: share it.
    if len(sets) == 1:
        return sets[0]
    return frozenset().union(*sets)


def _canonical(path: Sequence[str]) -> tuple[str, ...]:
    """A closed path rotated to start at its smallest name, so reports are stable."""
    ring = list(path[:-1])
    first = ring.index(min(ring))
    ring = ring[first:] + ring[:first]
    return (*ring, ring[0])


def _strongly_connected(deps: Mapping[str, Sequence[str]]) -> list[list[str]]:
    """Tarjan's algorithm with an explicit stack instead of recursion."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)

    for root in deps:
        if root in index:
            continue
        visit(root)
        work = [(root, iter(deps[root]))]
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    visit(child)
                    work.append((child, iter(deps[child])))
                    break  # descend; `children` resumes here when `child` is finished
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component: list[str] = []
                    while not component or component[-1] != node:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                    components.append(component)
    return components


def _cycle_through(
    start: str, deps: Mapping[str, Sequence[str]], component: set[str]
) -> tuple[str, ...]:
    """The shortest closed path from `start` back to itself inside its component (BFS)."""
    parent: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for child in deps[node]:
            if child == start:
                path = [node]
                while path[-1] != start:
                    path.append(parent[path[-1]])
                return (*reversed(path), start)
            if child in component and child not in parent:
                parent[child] = node
                queue.append(child)
    raise AssertionError(f"{start!r} is in a cycle-bearing component but on no cycle")
