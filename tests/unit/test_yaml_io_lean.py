"""The leaner loader (issue 16 part 5): duplicate keys found from the built mapping, libyaml's
own depth limit in place of the pre-scan, and large documents frozen out of the collector."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from release_trains import yaml_io
from release_trains.errors import CatalogError
from release_trains.yaml_io import load_file


def _write(tmp_path: Path, text: str, name: str = "t.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _refused(path: Path) -> str:
    with pytest.raises(CatalogError) as info:
        load_file(path)
    message = str(info.value)
    assert str(path) in message
    return message


def test_int_key_next_to_the_same_text_key_is_accepted_in_a_large_mapping(
    tmp_path: Path,
) -> None:
    body = "".join(f"k{i}: {i}\n" for i in range(500))
    path = _write(tmp_path, body + "1: int\n'1': text\n2.5: float\n'2.5': text\n")
    data = load_file(path)
    assert data[1] == "int" and data["1"] == "text"
    assert data[2.5] == "float" and data["2.5"] == "text"
    assert len(data) == 504


def test_keys_python_holds_as_one_are_one_key_written_twice(tmp_path: Path) -> None:
    # True == 1 in a dict: the second would silently replace the first
    message = _refused(_write(tmp_path, "1: int\ntrue: bool\n"))
    assert ":2:" in message and "duplicate key True (first at line 1)" in message


def test_a_duplicate_deep_in_a_large_document_is_refused_with_its_line(tmp_path: Path) -> None:
    services = "".join(f"  - name: s{i}\n    version: 1.0.{i}\n" for i in range(300))
    text = "services:\n" + services + "  - name: last\n    version: 1.0.0\n    version: 2.0.0\n"
    path = _write(tmp_path, text)
    message = _refused(path)
    last = text.count("\n")
    assert f"{path}:{last}:" in message
    assert f"duplicate key 'version' (first at line {last - 1})" in message


def test_a_duplicate_beside_a_merge_key_is_refused(tmp_path: Path) -> None:
    # The merged keys make the mapping as large as the keys written, so only the scan of the
    # explicit keys can see the duplicate.
    path = _write(tmp_path, "base: &b {x: 1, y: 2}\nuse:\n  <<: *b\n  a: 1\n  a: 2\n")
    message = _refused(path)
    assert f"{path}:5:" in message and "duplicate key 'a' (first at line 4)" in message


def test_merged_keys_may_be_overridden_and_merged_lists_work(tmp_path: Path) -> None:
    text = (
        "one: &one {x: 1, y: 1}\n"
        "two: &two {y: 2, z: 2}\n"
        "use:\n  <<: [*one, *two]\n  x: 3\n"
        "empty:\n  <<: []\n  k: v\n"
    )
    data = load_file(_write(tmp_path, text))
    assert data["use"] == {"x": 3, "y": 1, "z": 2}
    assert data["empty"] == {"k": "v"}


def test_duplicates_in_flow_and_nested_mappings_are_refused(tmp_path: Path) -> None:
    assert "duplicate key 'b'" in _refused(_write(tmp_path, "a: {b: 1, c: 2, b: 3}\n"))
    assert "duplicate key 1" in _refused(_write(tmp_path, "a:\n  - {1: x, +1: y}\n"))


@pytest.mark.parametrize("depth", [yaml_io.MAX_DEPTH + 1, 500, 999])
def test_nesting_past_our_limit_but_within_libyamls_is_refused(tmp_path: Path, depth: int) -> None:
    message = _refused(_write(tmp_path, "[" * depth + "]" * depth))
    assert f"nested deeper than {yaml_io.MAX_DEPTH} levels" in message


def test_libyamls_own_depth_limit_is_a_clear_message(tmp_path: Path) -> None:
    if not yaml_io.LIBYAML_LIMITS_DEPTH:
        pytest.skip("this libyaml has no depth limit: the pre-scan path is used")
    block = "".join("  " * i + "k:\n" for i in range(1_500)) + "  " * 1_500 + "x\n"
    message = _refused(_write(tmp_path, block))
    assert "nested too deeply" in message and ":1000:" in message


_FREEZE_CHILD = """
import gc, sys
from pathlib import Path
from release_trains.yaml_io import load_file
before = gc.get_freeze_count()
data = load_file(Path(sys.argv[1]), freeze=sys.argv[2] == "1")
print(gc.get_freeze_count() > before, gc.isenabled(), len(data["services"]))
"""


@pytest.mark.parametrize(
    ("aliases", "freeze", "frozen"),
    [(False, True, True), (False, False, False), (True, True, False)],
    ids=["large-frozen", "not-asked", "aliases-never-frozen"],
)
def test_a_large_document_is_frozen_out_of_the_collector_when_asked(
    tmp_path: Path, aliases: bool, freeze: bool, frozen: bool
) -> None:
    anchor = "common: &c {owner: team}\n" if aliases else ""
    use = "    meta: *c\n" if aliases else "    meta: {owner: team}\n"
    services = "".join(f"  - name: svc-{i:05d}\n    version: 1.0.{i}\n{use}" for i in range(6_000))
    path = _write(tmp_path, anchor + "services:\n" + services)
    assert path.stat().st_size >= yaml_io.FREEZE_MIN_BYTES
    proc = subprocess.run(
        [sys.executable, "-c", _FREEZE_CHILD, str(path), "1" if freeze else "0"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-500:]
    assert proc.stdout.split() == [str(frozen), "True", "6000"]


def test_the_collector_is_left_as_it_was(tmp_path: Path) -> None:
    import gc

    path = _write(tmp_path, "a: [1, 2, {b: c}]\n")
    assert gc.isenabled()
    load_file(path)
    assert gc.isenabled()
    gc.disable()
    try:
        load_file(path)
        assert not gc.isenabled()
    finally:
        gc.enable()


_CACHED_FREEZE_CHILD = """
import gc, sys
from pathlib import Path
from release_trains.parse_cache import ParseCache
from release_trains.yaml_io import load_file
cache = ParseCache(Path(sys.argv[2]))
before = gc.get_freeze_count()
data = load_file(Path(sys.argv[1]), cache=cache, freeze=True)
print(cache.stats.hits, gc.get_freeze_count() > before, len(data["services"]))
"""


def test_a_document_read_from_the_cache_is_frozen_too(tmp_path: Path) -> None:
    services = "".join(f"  - name: svc-{i:05d}\n    version: 1.0.{i}\n" for i in range(8_000))
    path = _write(tmp_path, "services:\n" + services)
    outputs = []
    for _ in range(2):  # the first run fills the cache, the second reads it
        proc = subprocess.run(
            [sys.executable, "-c", _CACHED_FREEZE_CHILD, str(path), str(tmp_path / "cache")],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr[-500:]
        outputs.append(proc.stdout.split())
    assert outputs == [["0", "True", "8000"], ["1", "True", "8000"]]
