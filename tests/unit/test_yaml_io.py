"""The one loader: what it refuses, how it says so, and that refusing is cheap and safe."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from release_trains import yaml_io
from release_trains.errors import CatalogError
from release_trains.yaml_io import line_of, load_file


def _write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def _refused(path: Path) -> str:
    with pytest.raises(CatalogError) as info:
        load_file(path)
    message = str(info.value)
    assert str(path) in message, f"message does not name the file: {message}"
    return message


# --- duplicate keys -------------------------------------------------------------------------


def test_duplicate_key_is_refused_with_both_lines(tmp_path: Path) -> None:
    path = _write(
        tmp_path, "t.yaml", "trains:\n  - name: a\n    status: planning\n    status: completed\n"
    )
    message = _refused(path)
    assert f"{path}:4:" in message  # the second occurrence
    assert "duplicate key 'status'" in message
    assert "first at line 3" in message


def test_same_key_in_sibling_mappings_is_not_a_duplicate(tmp_path: Path) -> None:
    path = _write(tmp_path, "t.yaml", "a: {name: x}\nb: {name: y}\n")
    assert load_file(path) == {"a": {"name": "x"}, "b": {"name": "y"}}


def test_duplicate_top_level_key_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "t.yaml", "trains: []\nmetadata: {}\ntrains: []\n")
    message = _refused(path)
    assert f"{path}:3:" in message and "duplicate key 'trains'" in message


# --- unsafe tags ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "tag",
    [
        "!!python/object/apply:os.system",
        "!!python/object/new:os.system",
        "!!python/object:os.system",
        "!!python/name:os.system",
        "!!python/module:os",
    ],
)
def test_python_tags_are_refused_and_nothing_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tag: str
) -> None:
    marker = tmp_path / "pwned"
    calls: list[object] = []
    monkeypatch.setattr(os, "system", lambda *a: calls.append(a) or 0)
    path = _write(
        tmp_path, "t.yaml", f"trains:\n  - name: x\n    notes: {tag} ['touch {marker}']\n"
    )
    message = _refused(path)
    assert f"{path}:3:" in message
    assert "unsafe or unknown tag refused" in message
    assert calls == [] and not marker.exists()


# --- alias bombs ------------------------------------------------------------------------------


def _billion_laughs(levels: int = 9) -> str:
    names = "abcdefghijklmnopqrstuvwxyz"
    text = f"{names[0]}: &{names[0]} [" + ", ".join(['"lol"'] * 9) + "]\n"
    for prev, name in itertools.pairwise(names[:levels]):
        text += f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]\n"
    return text


def test_alias_bomb_is_refused_quickly(tmp_path: Path) -> None:
    path = _write(tmp_path, "bomb.yaml", _billion_laughs(9))
    started = time.perf_counter()
    message = _refused(path)
    assert time.perf_counter() - started < 2.0
    assert "alias" in message and str(yaml_io.MAX_EXPANDED_NODES) in message


def test_ordinary_anchor_reuse_is_accepted(tmp_path: Path) -> None:
    text = "defaults: &d {timeout: 5, retries: 3}\na: *d\nb: *d\nc: {<<: *d, retries: 1}\n"
    data = load_file(_write(tmp_path, "ok.yaml", text))
    assert data["a"] == data["b"] == {"timeout": 5, "retries": 3}
    assert data["c"] == {"timeout": 5, "retries": 1}


def test_alias_limit_is_on_expanded_size_not_alias_count(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 3 levels of 9: 1 + 9 * (1 + 9 * 10) = 820 nodes once expanded.
    path = _write(tmp_path, "small.yaml", _billion_laughs(3))
    monkeypatch.setattr(yaml_io, "MAX_EXPANDED_NODES", 1000)
    assert len(load_file(path)["c"]) == 9
    monkeypatch.setattr(yaml_io, "MAX_EXPANDED_NODES", 500)
    assert "alias" in _refused(path)


# --- scalars ------------------------------------------------------------------------------------


def test_timestamps_stay_the_strings_people_wrote(tmp_path: Path) -> None:
    text = (
        "start_time: 2026-12-01T09:00:00Z\n"
        "day: 2025-10-07\n"
        "last_update: 2025-10-07 19:48:27.250636+00:00\n"
    )
    data = load_file(_write(tmp_path, "t.yaml", text))
    assert data == {
        "start_time": "2026-12-01T09:00:00Z",
        "day": "2025-10-07",
        "last_update": "2025-10-07 19:48:27.250636+00:00",
    }


# --- file-level problems --------------------------------------------------------------------


def test_size_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(yaml_io, "MAX_FILE_BYTES", 20)
    at_limit = _write(tmp_path, "ok.yaml", "a: " + "x" * 16 + "\n")  # exactly 20 bytes
    assert load_file(at_limit) == {"a": "x" * 16}
    over = _write(tmp_path, "big.yaml", "a: " + "x" * 17 + "\n")  # 21 bytes
    message = _refused(over)
    assert "21 bytes" in message and "20 byte limit" in message


@pytest.mark.parametrize("text", ["", "\n\n", "   \n\t\n"])
@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_empty_file(tmp_path: Path, text: str, suffix: str) -> None:
    assert "file is empty" in _refused(_write(tmp_path, f"e{suffix}", text))


def test_non_utf8_names_the_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "t.yaml", b"trains:\n  - name: caf\xe9\n")
    message = _refused(path)
    assert f"{path}:2:" in message and "not valid UTF-8" in message


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    path = _write(tmp_path, "t.yaml", "\ufefftrains: []\n".encode())
    assert load_file(path) == {"trains": []}


def test_directory_instead_of_file(tmp_path: Path) -> None:
    folder = tmp_path / "service-index.yaml"
    folder.mkdir()
    assert "is a directory" in _refused(folder)


def test_missing_file(tmp_path: Path) -> None:
    assert "file not found" in _refused(tmp_path / "nope.yaml")


def test_json_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "s.json", '{\n  "services": [\n    {"name": "a",}\n  ]\n}\n')
    message = _refused(path)
    assert f"{path}:3:" in message and "invalid JSON" in message


def test_yaml_content_in_a_json_file_gets_a_hint(tmp_path: Path) -> None:
    path = _write(tmp_path, "s.json", "services:\n  - name: a\n")
    message = _refused(path)
    assert f"{path}:1:" in message and "YAML file named .json" in message


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = _write(
        tmp_path, "t.yaml", "trains:\n  - name: a\n    participants: [a, b\n  - name: c\n"
    )
    message = _refused(path)
    assert "invalid YAML" in message
    assert any(f"{path}:{n}:" in message for n in (3, 4, 5))


# --- nesting --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("suffix", "text"),
    [
        (".json", "[" * 10_000 + "]" * 10_000),
        (".yaml", "[" * 10_000 + "]" * 10_000),
        (".json", '{"a": ' * 10_000 + "1" + "}" * 10_000),
        (".yaml", "{a: " * 10_000 + "1" + "}" * 10_000),
        (".yaml", "".join("  " * i + "-\n" for i in range(2_000))),  # block style
    ],
    ids=["json-lists", "yaml-flow-lists", "json-objects", "yaml-flow-maps", "yaml-block"],
)
def test_deep_nesting_is_a_clear_catalog_error(tmp_path: Path, suffix: str, text: str) -> None:
    message = _refused(_write(tmp_path, f"deep{suffix}", text))
    assert "nested" in message


def test_depth_limit_boundary(tmp_path: Path) -> None:
    depth = yaml_io.MAX_DEPTH
    ok = _write(tmp_path, "ok.json", "[" * depth + "]" * depth)
    data = load_file(ok)
    for _ in range(depth - 1):
        data = data[0]
    assert data == []
    assert "nested" in _refused(
        _write(tmp_path, "deep.yaml", "[" * (depth + 1) + "]" * (depth + 1))
    )


_LOAD_IN_CHILD = """
import sys
from pathlib import Path
from release_trains.errors import CatalogError
from release_trains.yaml_io import load_file, line_of
try:
    load_file(Path(sys.argv[1]))
except CatalogError as e:
    print("refused:", str(e)[-80:])
"""


def test_very_deep_yaml_does_not_crash_the_process(tmp_path: Path) -> None:
    path = _write(tmp_path, "deep.yaml", "[" * 100_000 + "]" * 100_000)
    proc = subprocess.run(
        [sys.executable, "-c", _LOAD_IN_CHILD, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, f"child died with {proc.returncode}: {proc.stderr[-300:]}"
    assert "refused:" in proc.stdout and "nested" in proc.stdout


@pytest.mark.parametrize(
    "text",
    [
        "# " + "- " * 70 + "\ntrains: []\n",
        "notes: '" + "[" * 70 + "'\ntrains: []\n",
    ],
    ids=["comment-rule", "quoted-brackets"],
)
def test_shallow_documents_with_many_openers_in_text_are_accepted(
    tmp_path: Path, text: str
) -> None:
    assert load_file(_write(tmp_path, "ok.yaml", text))["trains"] == []


def test_very_deep_json_is_refused_in_process(tmp_path: Path) -> None:
    assert "nested" in _refused(_write(tmp_path, "deep.json", "[" * 100_000 + "]" * 100_000))


# --- line_of --------------------------------------------------------------------------------

_TRAINS = """\
# comment
trains:
  - name: a
    participants: [x, y]
  - name: b
    participants:
      - x
      - {name: y, version: 1.0.0}
    gates:
      - all_participants_quality >= 80
"""


def test_line_of_nested_paths(tmp_path: Path) -> None:
    path = _write(tmp_path, "t.yaml", _TRAINS)
    assert line_of(path, ["trains", 1, "participants", 1, "version"]) == 8
    assert line_of(path, ["trains", 1, "participants", 1]) == 8
    assert line_of(path, ["trains", 1, "gates", 0]) == 10
    assert line_of(path, ["trains", 0, "participants", 1]) == 4
    assert line_of(path, ["trains", 1]) == 5


def test_line_of_falls_back_to_the_nearest_ancestor(tmp_path: Path) -> None:
    path = _write(tmp_path, "t.yaml", _TRAINS)
    assert line_of(path, ["trains", 1, "rollback", "timeout"]) == 5  # key absent: the train
    assert line_of(path, ["trains", 1, "gates", 7]) == 9  # index out of range: the `gates` key


def test_line_of_in_json(tmp_path: Path) -> None:
    doc = {"services": [{"name": "a"}, {"name": "b", "quality": {"coverage": 2}}]}
    path = _write(tmp_path, "s.json", json.dumps(doc, indent=2))
    lines = path.read_text().splitlines()
    expected = next(i for i, text in enumerate(lines, 1) if '"coverage"' in text)
    assert line_of(path, ["services", 1, "quality", "coverage"]) == expected


def test_line_of_never_raises(tmp_path: Path) -> None:
    assert line_of(_write(tmp_path, "bad.yaml", "a: [\n"), ["a"]) is None
    assert line_of(tmp_path / "missing.yaml", ["a"]) is None


# --- explicit tags and the keys they make --------------------------------------------------


@pytest.mark.parametrize(
    ("value", "tag"),
    [
        ('!!int "high"', "!!int"),
        ('!!bool "yes please"', "!!bool"),
        ("!!float", "!!float"),
        ('!!float ""', "!!float"),
        ("!!int", "!!int"),
        ("!!int 1.5", "!!int"),
        ("!!float abc", "!!float"),
    ],
)
def test_a_tag_with_a_value_it_cannot_hold_is_bad_input(
    tmp_path: Path, value: str, tag: str
) -> None:
    path = _write(tmp_path, "t.yaml", f"trains:\n  - name: a\n    description: {value}\n")
    message = _refused(path)
    assert f"{path}:3:" in message
    assert f"cannot be read as {tag}" in message


def test_a_tag_with_a_value_it_can_hold_is_read(tmp_path: Path) -> None:
    path = _write(tmp_path, "t.yaml", 'a: !!int "12"\nb: !!bool "true"\nc: !!float "1.5"\n')
    assert load_file(path) == {"a": 12, "b": True, "c": 1.5}


def test_keys_that_differ_once_constructed_are_not_duplicates(tmp_path: Path) -> None:
    path = _write(tmp_path, "t.yaml", "1: int\n'1': text\n")
    assert load_file(path) == {1: "int", "1": "text"}


@pytest.mark.parametrize(
    ("text", "first"),
    [
        ("a: 1\na: 2\n", "'a'"),
        ("1: x\n0x1: y\n", "1"),
        ("'a': 1\n\"a\": 2\n", "'a'"),
        ("1: x\n1.0: y\n", "1"),  # one key once constructed: the second would replace the first
    ],
)
def test_keys_equal_once_constructed_are_duplicates(tmp_path: Path, text: str, first: str) -> None:
    message = _refused(_write(tmp_path, "t.yaml", text))
    assert f"duplicate key {first}" in message
    assert ":2:" in message and "first at line 1" in message


def test_merge_keys_may_still_be_overridden(tmp_path: Path) -> None:
    path = _write(tmp_path, "t.yaml", "base: &b {x: 1, y: 2}\nuse:\n  <<: *b\n  x: 3\n")
    assert load_file(path)["use"] == {"x": 3, "y": 2}


# --- numbers a setting cannot hold ---------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "why"),
    [
        (".nan", "not a number"),
        (".NaN", "not a number"),
        (".inf", "infinite"),
        ("-.inf", "infinite"),
        ("1.0e+400", "infinite"),  # YAML 1.1 reads 1e400 (no dot) as text
        ("-1.0e+400", "infinite"),
        ("9" * 5000, "5000 digits"),
        ("9223372036854775808", "out of range"),
        ("!!float 1e999", "infinite"),
    ],
)
def test_non_finite_and_absurd_numbers_are_refused_in_yaml(
    tmp_path: Path, value: str, why: str
) -> None:
    path = _write(
        tmp_path, "c.yaml", f"release_trains:\n  health:\n    type: http\n    timeout: {value}\n"
    )
    message = _refused(path)
    assert f"{path}:4: $.release_trains.health.timeout: " in message
    assert why in message
    assert len(message) < 400  # a 5000-digit number is not echoed back whole


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("NaN", "not a number"),
        ("Infinity", "infinite"),
        ("-Infinity", "infinite"),
        ("1e400", "infinite"),
        ("9" * 5000, "5000 digits"),
        ("-9223372036854775809", "out of range"),
    ],
)
def test_non_finite_and_absurd_numbers_are_refused_in_json(
    tmp_path: Path, value: str, why: str
) -> None:
    text = '{\n  "services": {\n    "a": {\n      "score": ' + value + "\n    }\n  }\n}\n"
    path = _write(tmp_path, "q.json", text)
    message = _refused(path)
    assert f"{path}:4: $.services.a.score: " in message
    assert why in message
    assert len(message) < 400


def test_large_but_sane_numbers_are_read(tmp_path: Path) -> None:
    text = "a: 9223372036854775807\nb: -9223372036854775808\nc: 1.0e+300\n"
    path = _write(tmp_path, "t.yaml", text)
    assert load_file(path) == {"a": 2**63 - 1, "b": -(2**63), "c": 1e300}
    path = _write(tmp_path, "t.json", '{"a": 9223372036854775807, "c": 1e300, "d": "NaN"}')
    assert load_file(path) == {"a": 2**63 - 1, "c": 1e300, "d": "NaN"}
