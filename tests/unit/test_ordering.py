from __future__ import annotations

from collections.abc import Iterable, Mapping
from itertools import pairwise

from hypothesis import given
from hypothesis import strategies as st

from release_trains.ordering import Ordering, find_cycles, order_services

Graph = dict[str, list[str]]


def _assert_real_cycle(graph: Mapping[str, Iterable[str]], cycle: tuple[str, ...]) -> None:
    assert len(cycle) >= 2
    assert cycle[0] == cycle[-1]
    for node, dep in pairwise(cycle):
        assert dep in graph[node], f"{node} -> {dep} is not an edge"


def _reaches(graph: Mapping[str, Iterable[str]], start: str) -> set[str]:
    """Every node reachable from `start` by one or more edges (keys only)."""
    seen: set[str] = set()
    stack = [d for d in graph[start] if d in graph]
    while stack:
        node = stack.pop()
        if node not in seen:
            seen.add(node)
            stack.extend(d for d in graph[node] if d in graph)
    return seen


def _nearest(graph: Mapping[str, Iterable[str]], start: str, members: set[str]) -> set[str]:
    """Participants reachable from `start` through non-participants only."""
    found: set[str] = set()
    seen: set[str] = set()
    stack = [d for d in graph[start] if d in graph]
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        if node in members:
            found.add(node)
        else:
            stack.extend(d for d in graph[node] if d in graph)
    return found


def test_direct_edges() -> None:
    graph = {"app": ["api"], "api": ["db"], "db": []}
    result = order_services(graph, ["app", "api", "db"])
    assert result.order == ("db", "api", "app")
    assert result.waves == (("db",), ("api",), ("app",))
    assert result.requires == {"db": frozenset(), "api": {"db"}, "app": {"api"}}
    assert result.cycle is None
    assert result.cycle_text() == ""
    assert result.dependents_first() == (("app",), ("api",), ("db",))


def test_transitive_through_non_participant() -> None:
    graph = {"a": ["x"], "x": ["b"], "b": []}
    result = order_services(graph, ["a", "b"])
    assert result.order == ("b", "a")
    assert result.waves == (("b",), ("a",))
    assert result.requires == {"a": {"b"}, "b": frozenset()}


def test_nearest_participant_only() -> None:
    # a needs b directly and c only through b: it waits for b alone.
    graph = {"a": ["b", "c"], "b": ["c"], "c": []}
    result = order_services(graph, ["a", "b", "c"])
    assert result.requires["a"] == {"b", "c"}
    result = order_services({"a": ["b"], "b": ["c"], "c": []}, ["a", "b", "c"])
    assert result.requires["a"] == {"b"}


def test_independent_services_share_a_wave() -> None:
    graph = {"zeta": [], "alpha": [], "mid": ["shared"], "shared": []}
    result = order_services(graph, ["zeta", "alpha", "mid"])
    assert result.waves == (("alpha", "mid", "zeta"),)
    assert result.order == ("alpha", "mid", "zeta")


def test_diamond() -> None:
    graph = {"top": ["left", "right"], "left": ["base"], "right": ["base"], "base": []}
    result = order_services(graph, graph)
    assert result.waves == (("base",), ("left", "right"), ("top",))
    assert result.order == ("base", "left", "right", "top")
    assert result.requires["top"] == {"left", "right"}
    assert result.dependents_first() == (("top",), ("left", "right"), ("base",))


def test_longest_chain_sets_the_wave() -> None:
    graph = {"a": ["b", "d"], "b": ["c"], "c": ["d"], "d": []}
    result = order_services(graph, ["a", "b", "d"])  # c is outside the train
    assert result.waves == (("d",), ("b",), ("a",))


def test_cycle_is_a_closed_path() -> None:
    graph = {"a": ["b"], "b": ["c"], "c": ["a"], "app": ["a"]}
    result = order_services(graph, ["app"])
    assert result.cycle == ("a", "b", "c", "a")
    _assert_real_cycle(graph, result.cycle)
    assert result.cycle_text() == "a -> b -> c -> a"
    assert (result.order, result.waves, dict(result.requires)) == ((), (), {})


def test_self_dependency_is_a_cycle() -> None:
    graph = {"a": ["a"], "b": []}
    assert order_services(graph, ["a"]).cycle == ("a", "a")
    assert find_cycles(graph) == [("a", "a")]


def test_unreachable_cycle_is_not_reported() -> None:
    graph = {"a": ["b"], "b": [], "x": ["y"], "y": ["x"]}
    assert order_services(graph, ["a"]).cycle is None
    assert find_cycles(graph) == [("x", "y", "x")]


def test_unknown_dependencies_are_ignored() -> None:
    graph = {"a": ["b", "not-in-catalog"], "b": ["elsewhere"]}
    result = order_services(graph, ["a", "b"])
    assert result.order == ("b", "a")
    assert result.requires == {"a": {"b"}, "b": frozenset()}
    assert find_cycles(graph) == []


def test_deterministic() -> None:
    graph = {"c": ["a"], "b": ["a"], "a": [], "d": ["c", "b"]}
    reordered = {k: list(reversed(v)) for k, v in reversed(graph.items())}
    first = order_services(graph, ["d", "c", "b", "a"])
    assert first == order_services(reordered, ["a", "b", "c", "d"])
    assert first.order == ("a", "b", "c", "d")

    cyclic = {"b": ["c"], "c": ["a"], "a": ["b"], "z": ["b"]}
    reordered_cyclic = dict(reversed(cyclic.items()))
    assert order_services(cyclic, ["z"]).cycle == order_services(reordered_cyclic, ["z"]).cycle
    assert find_cycles(cyclic) == find_cycles(reordered_cyclic) == [("a", "b", "c", "a")]


def test_find_cycles_one_per_component() -> None:
    graph = {
        "a": ["b"],
        "b": ["a", "c"],
        "c": ["a"],  # same component as a and b
        "d": ["d"],
        "e": ["f"],
        "f": ["e"],
        "g": ["a"],
    }
    cycles = find_cycles(graph)
    assert [c[0] for c in cycles] == ["a", "d", "e"]
    for cycle in cycles:
        _assert_real_cycle(graph, cycle)


def test_deep_chain_has_no_recursion_limit() -> None:
    size = 20_000
    graph = {f"s{i}": [f"s{i - 1}"] if i else [] for i in range(size)}
    every_other = [f"s{i}" for i in range(0, size, 2)]
    result = order_services(graph, every_other)
    assert len(result.waves) == len(every_other)
    assert result.order[0] == "s0"
    assert result.requires[f"s{size - 2}"] == {f"s{size - 4}"}
    assert find_cycles(graph) == []

    graph["s0"] = [f"s{size - 1}"]  # close the chain into one huge cycle
    result = order_services(graph, ["s5"])
    assert result.cycle is not None
    assert len(result.cycle) == size + 1
    _assert_real_cycle(graph, result.cycle)
    [cycle] = find_cycles(graph)
    assert len(cycle) == size + 1
    _assert_real_cycle(graph, cycle)


@st.composite
def _dags(draw: st.DrawFn) -> tuple[Graph, set[str]]:
    # Names whose sort order differs from their index, so ties are really broken by name.
    size = draw(st.integers(min_value=1, max_value=25))
    names = [f"n{i}" for i in range(size)]
    graph: Graph = {
        names[i]: draw(st.lists(st.sampled_from(names[:i]), max_size=4)) if i else []
        for i in range(size)
    }
    members = draw(st.sets(st.sampled_from(names), min_size=1))
    return graph, members


@given(_dags())
def test_acyclic_properties(case: tuple[Graph, set[str]]) -> None:
    graph, members = case
    result = order_services(graph, sorted(members, reverse=True))
    assert result.cycle is None
    assert find_cycles(graph) == []

    assert sorted(result.order) == sorted(members)
    position = {name: i for i, name in enumerate(result.order)}
    for name in members:
        for dep in _reaches(graph, name) & members:
            assert position[dep] < position[name]

    wave_of = {name: k for k, wave in enumerate(result.waves) for name in wave}
    assert sorted(wave_of) == sorted(members)
    assert sum(len(w) for w in result.waves) == len(members)
    assert all(list(w) == sorted(w) and w for w in result.waves)
    assert result.order == tuple(name for wave in result.waves for name in wave)

    assert set(result.requires) == members
    for name in members:
        assert result.requires[name] == _nearest(graph, name, members)
        # The wave is exactly one past the deepest participant it waits for.
        below = [wave_of[r] + 1 for r in result.requires[name]]
        assert wave_of[name] == max(below, default=0)


@st.composite
def _cyclic(draw: st.DrawFn) -> tuple[Graph, list[str]]:
    size = draw(st.integers(min_value=1, max_value=15))
    names = [f"n{i}" for i in range(size)]
    graph: Graph = {n: draw(st.lists(st.sampled_from(names), max_size=3)) for n in names}
    ring = draw(st.lists(st.sampled_from(names), min_size=1, max_size=size, unique=True))
    for node, dep in pairwise([*ring, ring[0]]):
        graph[node].append(dep)
    entry = draw(st.sampled_from(names))
    graph[entry].append(ring[0])  # the cycle is reachable from this participant
    members = [*draw(st.lists(st.sampled_from(names))), entry]
    return graph, members


@given(_cyclic())
def test_cycles_are_reported_and_real(case: tuple[Graph, list[str]]) -> None:
    graph, members = case
    result = order_services(graph, members)
    assert result.cycle is not None
    _assert_real_cycle(graph, result.cycle)
    assert result == Ordering(order=(), waves=(), requires={}, cycle=result.cycle)
    cycles = find_cycles(graph)
    assert cycles
    for cycle in cycles:
        _assert_real_cycle(graph, cycle)
