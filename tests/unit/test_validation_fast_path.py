"""The schema fast path (validation._quick_valid) may only ever say "valid" where jsonschema
finds no error: a differential test over every document we have, and over thousands of
mutations of them, so bad input can never slip past it."""

from __future__ import annotations

import contextlib
import copy
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from release_trains.catalog import FILES
from release_trains.errors import CatalogError
from release_trains.validation import _quick_valid, _validator
from release_trains.yaml_io import load_file

PROJECT = Path(__file__).resolve().parents[2]
REAL = PROJECT / ".." / "shared" / "real-world" / "254carbon-meta"
CORPUS = PROJECT / "tests" / "data" / "invalid"


def jsonschema_valid(kind: str, doc: Any) -> bool:
    return not any(True for _ in _validator(kind).iter_errors(doc))


# Each document's id starts with a label of its source, never the folder's own name: a
# checkout may live in a folder of any name (it used to be `main/`, and the suite failed
# everywhere else).
SAMPLE, REAL_WORLD = "sample", "real-world"


def documents() -> list[tuple[str, str, Any]]:
    """(id, kind, document): the sample, the real-world files, every corpus file that loads."""
    out = []
    roots = [(SAMPLE, PROJECT), (REAL_WORLD, REAL)]
    roots += [(f"invalid-{p.name}", p) for p in sorted(CORPUS.iterdir()) if p.is_dir()]
    for label, root in roots:
        for kind, candidates in FILES.items():
            for rel in candidates:
                path = root / rel
                if path.is_file():
                    with contextlib.suppress(CatalogError):  # broken files are not documents
                        out.append((f"{label}/{rel}", kind, load_file(path)))
    return out


DOCS = documents()


@pytest.mark.parametrize(("name", "kind", "doc"), DOCS, ids=[d[0] for d in DOCS])
def test_fast_path_agrees_with_jsonschema_on_every_known_document(
    name: str, kind: str, doc: Any
) -> None:
    if _quick_valid(kind, doc):
        assert jsonschema_valid(kind, doc), name


def test_fast_path_accepts_the_valid_samples() -> None:
    # Not required for correctness, but the fast path is pointless if it never answers.
    valid = [(n, k, d) for n, k, d in DOCS if n.startswith((f"{SAMPLE}/", f"{REAL_WORLD}/"))]
    assert valid and all(_quick_valid(k, d) for _, k, d in valid)


REPLACEMENTS = [
    None,
    True,
    False,
    0,
    -1,
    2.0,
    1e309,
    "",
    "no",
    "1.0; touch /tmp/x",
    "a" * 200,
    [],
    {},
    [1],
    {"x": 1},
]


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _paths(v, (*prefix, i))
    return out


def _replacement(rng: random.Random) -> Any:
    # A copy: a shared `[]` from REPLACEMENTS, once placed in a document, may later be
    # appended to (even to itself), which changed REPLACEMENTS for every later example and
    # could build a cyclic document (RecursionError, about one run in ten).
    return copy.deepcopy(rng.choice(REPLACEMENTS))


def _mutate(doc: Any, rng: random.Random) -> Any:
    doc = copy.deepcopy(doc)
    for _ in range(rng.randint(1, 3)):
        paths = [p for p in _paths(doc) if p]
        if not paths:
            return doc
        path = rng.choice(paths)
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        action = rng.random()
        if action < 0.6:
            parent[path[-1]] = _replacement(rng)
        elif action < 0.8 and isinstance(parent, dict):
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[f"extra_{rng.randint(0, 9)}"] = _replacement(rng)
        else:
            parent.append(_replacement(rng))
    return doc


SEEDS = [(n, k, d) for n, k, d in DOCS if n.startswith(f"{SAMPLE}/")]


def test_the_sample_gives_seeds_whatever_the_checkout_folder_is_called() -> None:
    # The mutation test below draws from SEEDS: with none, hypothesis refuses to start.
    assert {k for _, k, _ in SEEDS} >= {"trains", "services", "config"}, [n for n, _, _ in SEEDS]


@settings(max_examples=400, deadline=None)
@given(index=st.integers(min_value=0, max_value=len(SEEDS) - 1), seed=st.integers(0, 2**32 - 1))
def test_fast_path_never_accepts_a_mutation_jsonschema_rejects(index: int, seed: int) -> None:
    name, kind, doc = SEEDS[index]
    mutated = _mutate(doc, random.Random(seed))
    if _quick_valid(kind, mutated):
        assert jsonschema_valid(kind, mutated), (name, mutated)


def test_mutations_never_change_the_replacements_or_the_seeds() -> None:
    replacements, seeds = copy.deepcopy(REPLACEMENTS), copy.deepcopy(SEEDS)
    for seed in range(500):
        _, _, doc = SEEDS[seed % len(SEEDS)]
        _mutate(doc, random.Random(seed))
    assert replacements == REPLACEMENTS
    assert seeds == SEEDS
