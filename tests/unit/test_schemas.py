"""The schema files as the validators read them: anchored patterns end at the end of the text.

JSON Schema patterns are ECMA regexes, where `$` is the end of the text; Python's `$` also
matches before a final newline, so without care "x\n" passes `^[a-z]+$`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from release_trains.catalog import check_catalog
from release_trains.validation import SCHEMA_FILES, _schema_documents, _validator, schema_errors

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _raw(name: str) -> Any:
    return json.loads(resources.files("release_trains.schemas").joinpath(name).read_text())


def _patterns(node: Any, where: str = "") -> Iterator[tuple[str, str]]:
    """(JSON pointer, pattern) of every `pattern` and patternProperties key in a schema."""
    if isinstance(node, list):
        for i, item in enumerate(node):
            yield from _patterns(item, f"{where}/{i}")
    elif isinstance(node, dict):
        for key, value in node.items():
            if key == "pattern" and isinstance(value, str):
                yield f"{where}/pattern", value
            elif key == "patternProperties":
                for p, sub in value.items():
                    yield f"{where}/patternProperties/{p}", p
                    yield from _patterns(sub, f"{where}/patternProperties/{p}")
            elif key not in ("enum", "const", "default", "examples"):
                yield from _patterns(value, f"{where}/{key}")


ANCHORED = sorted(
    (name, pointer, pattern)
    for name in SCHEMA_FILES.values()
    for pointer, pattern in _patterns(_raw(name))
    if pattern.endswith("$")
)


def _compiled(name: str, pointer: str) -> str:
    """The pattern at `pointer` in the schema documents both validators compile."""
    node: Any = _schema_documents()[name]
    parts = pointer.split("/")[1:]
    for i, part in enumerate(parts):
        if parts[i - 1 : i] == ["patternProperties"]:
            # the key itself was rewritten: find it by position
            raw_keys = list(_raw_at(name, parts[:i]))
            node = node[list(node)[raw_keys.index(part)]]
        elif part == "pattern" and i == len(parts) - 1:
            return str(node["pattern"])
        else:
            node = node[int(part)] if isinstance(node, list) else node[part]
    raise AssertionError(pointer)


def _raw_at(name: str, parts: list[str]) -> Any:
    node: Any = _raw(name)
    for part in parts:
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def test_the_schemas_have_anchored_patterns_to_check() -> None:
    assert len(ANCHORED) >= 8  # names, versions, pinned entries, durations, environment


@pytest.mark.parametrize(("name", "pointer", "pattern"), ANCHORED)
@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_every_anchored_pattern_refuses_a_trailing_newline(
    name: str, pointer: str, pattern: str, data: st.DataObject
) -> None:
    text = data.draw(st.from_regex(pattern, fullmatch=True).filter(lambda t: "\n" not in t))
    compiled = re.compile(_compiled(name, pointer))
    assert compiled.search(text), (pattern, text)
    # ECMA semantics: `^P$` holds exactly when P spans the whole text, newline included.
    assert pattern.startswith("^")
    whole = re.fullmatch(pattern[1:-1], text + "\n") is not None
    assert bool(compiled.search(text + "\n")) == whole, (pattern, text)
    assert re.search(pattern, text + "\n"), "Python's own $ lets it through: the reason for this"


def _sample_docs() -> dict[str, Any]:
    docs = {
        "trains": yaml.safe_load((PROJECT_ROOT / "catalog" / "release-trains.yaml").read_text()),
        "services": yaml.safe_load((PROJECT_ROOT / "catalog" / "service-index.yaml").read_text()),
        "specs": yaml.safe_load((PROJECT_ROOT / "catalog" / "specs-index.yaml").read_text()),
        "config": yaml.safe_load((PROJECT_ROOT / "config" / "upgrade-policies.yaml").read_text()),
    }
    return docs


def _string_leaves(node: Any, where: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _string_leaves(v, (*where, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _string_leaves(v, (*where, i))
    elif isinstance(node, str):
        yield where


def _with_newline(doc: Any, where: tuple[Any, ...]) -> Any:
    copy = json.loads(json.dumps(doc))
    node = copy
    for part in where[:-1]:
        node = node[part]
    node[where[-1]] += "\n"
    return copy


# Free text, where a trailing newline is harmless (YAML `|` blocks end in one) or is stripped
# before use (constraints and gate expressions are tokenised).
FREE_TEXT = {"description", "spec", "library", "version", "custom", "start_time", "external"}
# Durations ("2h", " 10 m ") allow whitespace around their parts, a final newline included.
DURATIONS = {"estimated_duration", "per_service", "timeout", "interval", "lock_stale_after"}


def _name_like(kind: str, where: tuple[Any, ...]) -> bool:
    keys = [p for p in where if isinstance(p, str)]
    if kind == "trains" and where[2:3] == ("gates",):
        return False  # gate expressions: tokenised
    if kind == "trains" and keys[-1] == "version" and "dependencies" in keys:
        return False  # a constraint: stripped
    if kind == "config" and "signals" in keys and keys[-1] in ("file", "path"):
        return False  # a path: a newline is a file name character
    if kind == "config" and "user_acceptance_tests_pass" in keys:
        return False  # the sample's signal file is read from the sample root only
    if keys[-1] in DURATIONS or keys[0] == "metadata":  # metadata: free-form, not read
        return False
    return keys[-1] not in FREE_TEXT or (kind == "services" and keys[-1] == "version")


FILES = {
    "trains": "catalog/release-trains.yaml",
    "services": "catalog/service-index.yaml",
    "specs": "catalog/specs-index.yaml",
    "config": "config/upgrade-policies.yaml",
}


def test_every_name_like_field_refuses_a_trailing_newline(make_root: Any) -> None:
    docs = _sample_docs()
    checked = 0
    for kind, doc in docs.items():
        for where in _string_leaves(doc):
            if not _name_like(kind, where):
                continue
            mutated = _with_newline(doc, where)
            checked += 1
            root = make_root({FILES[k]: mutated if k == kind else d for k, d in docs.items()})
            _, problems = check_catalog(root)
            assert problems.errors, (kind, where)
            if schema_errors(kind, mutated):  # where the schema refuses, jsonschema alone does
                assert list(_validator(kind).iter_errors(mutated)), (kind, where)
    assert checked >= 30


@pytest.mark.parametrize(
    ("rel", "text", "fragment"),
    [
        (
            "catalog/release-trains.yaml",
            'trains:\n  - name: "x\\n"\n    participants: [curve]\n',
            "$.trains[0].name",
        ),
        (
            "catalog/release-trains.yaml",
            'trains:\n  - name: x\n    participants: [{name: curve, version: "2.0.0\\n"}]\n',
            "$.trains[0].participants[0].version",
        ),
        (
            "catalog/release-trains.yaml",
            'trains:\n  - name: x\n    target_version: "2.0.0\\n"\n    participants: [curve]\n',
            "$.trains[0].target_version",
        ),
    ],
)
def test_a_trailing_newline_in_a_train_is_refused(
    make_root: Any, rel: str, text: str, fragment: str
) -> None:
    services = (PROJECT_ROOT / "catalog" / "service-index.yaml").read_text()
    root = make_root({rel: text, "catalog/service-index.yaml": services})
    _, problems = check_catalog(root)
    assert any(fragment in e for e in problems.errors), problems.errors
