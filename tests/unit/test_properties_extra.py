"""Property tests that the per-module suites do not have yet.

test_ordering.py draws DAGs and graphs with a planted, reachable ring; here graphs are drawn
freely (self-loops, unknown dependencies, cycles out of reach) and checked against brute-force
oracles: a cycle is reported exactly when one is reachable from the participants, find_cycles
reports one real cycle per cycle-bearing strongly connected component, and the result does not
depend on the order the graph was written in.
test_gates_parser.py feeds characters; here whole tokens (names, real and near-miss operators,
numbers in every spelling, Python, quotes, unicode, whitespace of every kind) are combined, so
the parser's deeper states are reached, and whatever parses must print and parse back the same.
test_versions.py compares constraints with packaging for X.Y.Z versions and six operators; here
epochs, pre/post/dev releases, local labels, `~=`, `===` and wildcards are compared too, and
parse_constraint must accept exactly the specifier sets packaging accepts.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from itertools import pairwise

from hypothesis import assume, example, given, settings
from hypothesis import strategies as st
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from release_trains.errors import GateExpressionError, InputError
from release_trains.gates_parser import Expression, parse_expression
from release_trains.ordering import find_cycles, order_services
from release_trains.versions import is_valid_version, parse_constraint, same_version, satisfies

Graph = dict[str, list[str]]

# --- ordering -------------------------------------------------------------------------------


@st.composite
def _graphs(draw: st.DrawFn) -> tuple[Graph, list[str]]:
    """Any graph: self-loops, cycles anywhere or nowhere, dependencies outside the catalog,
    and participants that may not be in the catalog at all."""
    size = draw(st.integers(min_value=1, max_value=12))
    names = [f"s{(i * 7) % 13:02d}" for i in range(size)]  # sort order differs from index
    targets = st.sampled_from([*names, "ext-kafka", "ext-db"])
    graph: Graph = {n: draw(st.lists(targets, max_size=3)) for n in names}
    members = draw(
        st.lists(st.sampled_from([*names, "not-in-catalog"]), min_size=1, max_size=size + 1)
    )
    return graph, members


def _reach(graph: Mapping[str, Iterable[str]], start: str) -> set[str]:
    """Catalog nodes reachable from `start` by one or more edges (brute force)."""
    seen: set[str] = set()
    stack = [d for d in graph.get(start, ()) if d in graph]
    while stack:
        node = stack.pop()
        if node not in seen:
            seen.add(node)
            stack.extend(d for d in graph[node] if d in graph)
    return seen


def _on_a_cycle(graph: Mapping[str, Iterable[str]]) -> set[str]:
    return {n for n in graph if n in _reach(graph, n)}


def _assert_real_cycle(graph: Mapping[str, Iterable[str]], cycle: tuple[str, ...]) -> None:
    assert len(cycle) >= 2 and cycle[0] == cycle[-1], cycle
    assert len(set(cycle[:-1])) == len(cycle) - 1, f"a cycle visits each node once: {cycle}"
    for node, dep in pairwise(cycle):
        assert dep in graph[node], f"{node} -> {dep} is not an edge"


@given(_graphs())
@example(({"a": ["a"]}, ["a"]))
@example(({"a": ["b"], "b": ["a"], "c": []}, ["c"]))  # a cycle out of reach
def test_a_cycle_is_reported_exactly_when_one_is_reachable(case: tuple[Graph, list[str]]) -> None:
    graph, members = case
    reachable = set(members) & set(graph)
    for m in members:
        reachable |= _reach(graph, m)
    cyclic_in_reach = _on_a_cycle(graph) & reachable

    result = order_services(graph, members)
    if cyclic_in_reach:
        assert result.cycle is not None
        _assert_real_cycle(graph, result.cycle)
        assert set(result.cycle) <= cyclic_in_reach
        assert (result.order, result.waves, dict(result.requires)) == ((), (), {})
        return

    assert result.cycle is None
    assert sorted(result.order) == sorted(set(members)), "every participant once, none dropped"
    position = {name: i for i, name in enumerate(result.order)}
    for name in set(members):
        for dep in _reach(graph, name) & set(members):
            assert position[dep] < position[name], f"{dep} must go before {name}"
    # The waves are a partition of the participants, in order, none empty.
    flat = [name for wave in result.waves for name in wave]
    assert len(flat) == len(set(flat)) == len(set(members))
    assert tuple(flat) == result.order
    assert all(result.waves)
    wave_of = {name: k for k, wave in enumerate(result.waves) for name in wave}
    for name in set(members):  # nothing in a wave waits for a participant of the same wave
        assert all(wave_of[d] < wave_of[name] for d in _reach(graph, name) & set(members))


@given(_graphs())
def test_find_cycles_reports_one_real_cycle_per_cyclic_component(
    case: tuple[Graph, list[str]],
) -> None:
    graph, _ = case
    cyclic = _on_a_cycle(graph)
    # Brute-force strongly connected components of the nodes that lie on a cycle.
    components = {
        frozenset(
            n2 for n2 in cyclic if n2 == n or (n2 in _reach(graph, n) and n in _reach(graph, n2))
        )
        for n in cyclic
    }

    cycles = find_cycles(graph)
    assert len(cycles) == len(components)
    for cycle in cycles:
        _assert_real_cycle(graph, cycle)
    assert {frozenset(c) for c in components} == {
        next(comp for comp in components if set(cycle) <= comp) for cycle in cycles
    }, "each component is reported once, by a cycle inside it"


@given(_graphs(), st.randoms(use_true_random=False))
def test_the_result_does_not_depend_on_how_the_graph_is_written(
    case: tuple[Graph, list[str]], rnd: random.Random
) -> None:
    graph, members = case
    keys = list(graph)
    rnd.shuffle(keys)
    shuffled: Graph = {}
    for k in keys:
        deps = list(graph[k]) * 2  # duplicates, too
        rnd.shuffle(deps)
        shuffled[k] = deps
    other = list(members)
    rnd.shuffle(other)
    assert order_services(shuffled, other) == order_services(graph, members)
    assert find_cycles(shuffled) == find_cycles(graph)


# --- gate expressions --------------------------------------------------------------------

_tokens = st.one_of(
    st.sampled_from(
        [
            "error_rate",
            "all_participants_quality",
            "no_open_critical_vulns",
            "a",
            "_x",
            "x.y-z",
            "true",
            "false",
            "True",
            "None",
            "__import__",
            "__class__",
            "os.system",
            "a__b",
            "x.",
            "y-",
        ]
    ),
    st.sampled_from(
        [
            "<",
            "<=",
            ">",
            ">=",
            "==",
            "!=",
            "=",
            "=>",
            "=<",
            "<>",
            "!",
            "~",
            "===",
            "&&",
            "and",
            "or",
            "not",
        ]
    ),
    st.sampled_from(
        [
            "0",
            "1",
            "-1",
            "80",
            "4.2",
            "-0.5",
            "10%",
            "1e5",
            ".5",
            "+1",
            "1.",
            "1..2",
            "0x10",
            "1_000",
            "nan",
            "inf",
            "%",
        ]
    ),
    st.sampled_from(["(", ")", "[", "]", "'", '"', ";", ",", "#", "$", "{", "}", "\\", "`", "|"]),
    # accents, Arabic-Indic three, superscript two, fullwidth one, zero-width space, NUL,
    # ESC, the >= sign and the minus sign: lookalikes and invisibles
    st.sampled_from(["é", "\u0663", "²", "\uff11", "\u200b", "\x00", "\x1b", "≥", "\u2212"]),
    st.from_regex(r"\A[A-Za-z_][A-Za-z0-9_.\-]{0,8}\Z"),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
)
_spaces = st.sampled_from(["", " ", "  ", "\t", "\n", "\r\n", "\u00a0", "\u3000"])


@st.composite
def _token_text(draw: st.DrawFn) -> str:
    parts = draw(st.lists(st.tuples(_spaces, _tokens), max_size=6))
    return "".join(space + token for space, token in parts) + draw(_spaces)


@st.composite
def _shaped_text(draw: st.DrawFn) -> str:
    """NAME OP VALUE with each part drawn from valid and near-miss tokens, so that about half
    parse and the rest fail late, after the name or the operator."""
    name = draw(st.one_of(st.from_regex(r"\A[A-Za-z_][A-Za-z0-9_.\-]{0,12}\Z"), _tokens))
    op = draw(st.sampled_from(["<", "<=", ">", ">=", "==", "!=", "", "=", "=>", "<>"]))
    value = draw(st.one_of(
        st.integers(-1000, 1000).map(str),
        st.floats(min_value=-1e6, max_value=1e6, allow_nan=False).map(lambda f: format(f, "f")),
        st.sampled_from(["true", "false", "10%", "99.5%", "-0", "1e3", ".5"]),
    ))  # fmt: skip
    tail = draw(st.sampled_from(["", "", "", " ", "%", " x", ")"]))
    plain = st.sampled_from(["", "", " ", "  "])  # other whitespace is refused up front
    sp = draw(plain), draw(plain), draw(plain)
    return sp[0] + name + sp[1] + op + sp[2] + (value if op else "") + tail


@settings(max_examples=400)
@given(st.one_of(_token_text(), _shaped_text()))
@example("__import__('os').system('touch /tmp/pwned')")
@example("error_rate >= 5 5")
@example("a" * 101 + " < 1")
def test_token_soup_parses_or_raises_only_the_gate_error(text: str) -> None:
    try:
        parsed = parse_expression(text)
    except GateExpressionError as error:
        assert isinstance(error, InputError)  # bad input: exit 2
        assert 1 <= error.column <= len(text) + 1, (error.column, text)
        assert error.expression == text
        return
    assert isinstance(parsed, Expression)
    printed = str(parsed)
    again = parse_expression(printed)
    assert again == parsed
    assert str(again) == printed, "the printed form is a fixed point"


# --- versions and constraints --------------------------------------------------------------

_n = st.integers(min_value=0, max_value=4)


@st.composite
def _raw_versions(draw: st.DrawFn) -> str:
    """PEP 440 versions in the spellings people write: epochs, pre/post/dev, local labels,
    a leading v, separators and case that packaging normalizes."""
    release = ".".join(str(draw(_n)) for _ in range(draw(st.integers(1, 4))))
    text = (
        draw(st.sampled_from(["", "", "v", "V"]))
        + draw(st.sampled_from(["", "", "", "1!"]))
        + release
    )
    text += draw(st.sampled_from(["", "", "", "a1", "b2", "rc1", "-rc.2", "RC3", "alpha1", "c1"]))
    text += draw(st.sampled_from(["", "", "", ".post1", "-1", ".post0", "_post2"]))
    text += draw(st.sampled_from(["", "", "", ".dev0", ".dev3", "dev1"]))
    text += draw(st.sampled_from(["", "", "", "", "+local.7", "+ubuntu-1"]))
    return text


def _clause(draw: st.DrawFn) -> str:
    op = draw(st.sampled_from(["<", "<=", ">", ">=", "==", "!=", "~=", "===", "==*", "!=*"]))
    version = draw(_raw_versions())
    if op in ("==*", "!=*"):
        return f"{op[:2]}{version.split('+')[0]}.*"
    return f"{op}{draw(st.sampled_from(['', ' ']))}{version}"


@st.composite
def _spec_texts(draw: st.DrawFn) -> str:
    clauses = [_clause(draw) for _ in range(draw(st.integers(1, 3)))]
    return draw(st.sampled_from([",", ", ", " , "])).join(clauses)


def _packaging_version(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


@settings(max_examples=300)
@given(version=_raw_versions(), spec=_spec_texts())
def test_constraints_agree_with_packaging_on_every_kind_of_version(version: str, spec: str) -> None:
    parsed = _packaging_version(version)
    assume(parsed is not None)
    try:
        expected_set = SpecifierSet(spec)
    except InvalidSpecifier:
        assume(False)
        return
    assert parsed is not None
    assert is_valid_version(version)
    expected = expected_set.contains(parsed, prereleases=True)
    assert satisfies(version, parse_constraint(spec)) is expected, (version, spec)


@settings(max_examples=300)
@given(_spec_texts())
@example(">=1.2,<2")
@example("~=1")
@example("==1.0.*+local")
def test_parse_constraint_accepts_exactly_what_packaging_accepts(spec: str) -> None:
    try:
        SpecifierSet(spec)
    except InvalidSpecifier:
        accepted = False
    else:
        accepted = True
    try:
        parse_constraint(spec)
    except InputError as error:
        assert not accepted, f"{spec!r} refused: {error}"
        assert "invalid version constraint" in str(error)
    else:
        assert accepted, f"{spec!r} accepted, packaging refuses it"


@given(_raw_versions(), _raw_versions())
@example("1.0", "1.0.0")
@example("v2.0", "2.0.0")
@example("1!1.0", "1.0")
def test_same_version_is_pep440_equality(a: str, b: str) -> None:
    va, vb = _packaging_version(a), _packaging_version(b)
    assume(va is not None and vb is not None)
    assert same_version(a, b) is (va == vb)
    assert same_version(a, a)
