"""The direct builder of alias-free documents (yaml_io._NoAliasLoader._build) gives exactly
what PyYAML's generic constructor gives: the same values of the same types in the same key
order, and for anything it does not build (merge keys, other tags, duplicate keys, values a
tag cannot hold) the generic constructor's own result or message."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import yaml

from release_trains import yaml_io
from release_trains.errors import CatalogError
from release_trains.yaml_io import load_file

PROJECT = Path(__file__).resolve().parents[2]


class _Generic(yaml_io._Loader):
    """The loader as it was before the direct builder: every node through construct_object."""

    construct_object = yaml_io._BaseLoader.construct_object


def _generic(text: str) -> Any:
    loader = _Generic(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def _direct(text: str) -> Any:
    loader = yaml_io._NoAliasLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def _shape(value: Any) -> Any:
    """The value with every type and key order made visible (1 == 1.0 == True otherwise)."""
    if isinstance(value, dict):
        return ("dict", [(_shape(k), _shape(v)) for k, v in value.items()])
    if isinstance(value, list):
        return ("list", [_shape(v) for v in value])
    if isinstance(value, float) and math.isnan(value):
        return ("float", "nan")
    if isinstance(value, yaml_io.OversizedInt):
        return ("oversized", value.digits)
    return (type(value).__name__, value)


def _outcome(build: Any, text: str) -> tuple[str, Any]:
    try:
        return "ok", _shape(build(text))
    except yaml.YAMLError as e:
        return "refused", str(e)
    except RecursionError:
        # Deeper than Python's recursion limit (tests/data/invalid/deeply-nested): libyaml 0.2.6
        # refuses it itself, an older libyaml parses it and only the tool's depth check (not
        # compared here) refuses it; either way there is no shape to compare.
        return "too deep", None


CASES = {
    "plain": "a: 1\nb: [x, 2, 3.5, true, null, ~, '']\nc: {d: e}\n",
    "scalars": "i: 0x1F\no: 0o17\nf: 1e3\nn: .nan\ninf: -.inf\nb: yes\ns: 'yes'\nt: 2025-10-07\n",
    "keys": "1: int\n'1': text\n2.5: float\ntrue: bool\nnull: none\n",
    "explicit str": "a: !!str 1\nb: !!str true\n",
    "explicit int": "a: !!int '7'\n",
    "bad int": "a: !!int high\nb: !!int low\n",
    "bad bool": "a: [!!bool 'yes please']\n",
    "duplicate": "a: 1\nb: 2\na: 3\n",
    "duplicate by value": "1: a\n0x1: b\n",
    "two problems": "x: {a: 1, a: 2}\ny: !!int nope\n",
    "merge": "base: {a: 1}\nx:\n  <<: {a: 2, b: 3}\n  c: 4\n",
    "binary": "raw: !!binary aGVsbG8=\n",
    "set": "s: !!set {a, b}\n",
    "omap": "o: !!omap [{a: 1}, {b: 2}]\n",
    "unknown tag": "a: !thing 1\n",
    "python tag": "a: !!python/object:os.system x\n",
    "collection key": "? [a, b]\n: c\n",
    "mapping key": "? {a: 1}\n: c\n",
    "long integer": "a: " + "9" * 30 + "\n",
    "huge integer": "a: " + "9" * 5000 + "\n",
    "explicit seq on scalar": "a: !!seq x\n",
    "explicit map": "a: !!map {b: 1}\n",
    "top-level list": "- 1\n- [2, {3: 4}]\n",
    "top-level scalar": "just text\n",
    "deep": "a: " + "[" * 60 + "]" * 60 + "\n",
    "multiline": "a: |\n  line one\n  line two\nb: >\n  folded\n  text\n",
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_direct_builder_matches_the_generic_constructor(case: str) -> None:
    text = CASES[case]
    assert "*" not in text
    assert _outcome(_direct, text) == _outcome(_generic, text)


def test_nesting_too_deep_to_build_directly_is_built_the_generic_way() -> None:
    text = "a: " + "[" * 900 + "]" * 900 + "\n"  # past Python's recursion limit when built
    direct = _direct(text)
    assert direct == _generic(text)
    depth, node = 0, direct["a"]
    while node:
        depth, node = depth + 1, node[0]
    assert depth == 899


def test_every_yaml_file_of_the_project_and_the_real_world_catalogs_loads_the_same() -> None:
    files = sorted(
        p
        for base in (PROJECT, PROJECT.parent / "shared" / "real-world")
        if base.is_dir()
        for p in base.rglob("*.y*ml")
        if ".git" not in p.parts and "node_modules" not in p.parts
    )
    assert len(files) > 20
    compared = 0
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        if "*" in text:
            continue
        assert _outcome(_direct, text) == _outcome(_generic, text), path
        compared += 1
    assert compared > 20


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: 1\nb: 2\na: 3\n", r":3: .*duplicate key 'a' \(first at line 1\)"),
        ("a: !!int high\n", r":1: .*'high' cannot be read as !!int"),
        ("a: !thing 1\n", r":1: .*unsafe or unknown tag refused"),
        ("a: " + "9" * 30 + "\n", r":1: \$\.a: an integer of 30 digits is out of range"),
    ],
)
def test_refusals_keep_their_file_line_and_message(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(text)
    with pytest.raises(CatalogError, match=message) as info:
        load_file(path)
    assert str(info.value).startswith(str(path))


def test_a_merge_key_is_still_merged(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text("x:\n  <<: {a: 2, b: 3}\n  a: 1\n")
    assert load_file(path) == {"x": {"a": 1, "b": 3}}
