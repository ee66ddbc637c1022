"""The parsed-catalog cache: a hit gives back exactly what parsing gives, and nothing else is
ever believed (a changed byte, a damaged or foreign entry, another loader's entry)."""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from release_trains import parse_cache
from release_trains.catalog import check_catalog
from release_trains.errors import CatalogError
from release_trains.parse_cache import ParseCache, default_folder, loader_fingerprint, usable
from release_trains.yaml_io import load_file

DOC = """\
# a small catalog file
services:
  - name: curves-api
    version: 1.2.3
    released: 2025-10-07T19:48:27Z
    dependencies: {internal: [pricing@2.0.0, risk]}
    quality: {score: 91.5, coverage: 0.8}
  - name: pricing
    version: "2.0.0"
    enabled: true
    notes: ~
"""


def _file(tmp_path: Path, text: str | bytes = DOC, name: str = "index.yaml") -> Path:
    path = tmp_path / "project" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def _cache(tmp_path: Path, fingerprint: str | None = None) -> ParseCache:
    return ParseCache(tmp_path / "cache", fingerprint=fingerprint)


def _outcome(path: Path, cache: ParseCache | None = None) -> tuple[str, Any]:
    try:
        return "ok", load_file(path, cache=cache)
    except CatalogError as e:
        return "refused", str(e)


def test_a_hit_gives_back_exactly_what_parsing_gives(tmp_path: Path) -> None:
    path = _file(tmp_path)
    cache = _cache(tmp_path)
    parsed = load_file(path)
    assert load_file(path, cache=cache) == parsed
    assert (cache.stats.misses, cache.stats.stored) == (1, 1)
    again = load_file(path, cache=cache)
    assert cache.stats.hits == 1
    assert again == parsed
    assert again["services"][0]["released"] == "2025-10-07T19:48:27Z"  # timestamps stay text
    assert type(again["services"][0]["quality"]["score"]) is float
    assert again["services"][1]["enabled"] is True and again["services"][1]["notes"] is None


def test_the_entry_is_json_under_the_sha256_of_the_files_bytes(tmp_path: Path) -> None:
    path = _file(tmp_path)
    cache = _cache(tmp_path)
    load_file(path, cache=cache)
    entry = cache.entry_path(path.read_bytes())
    header, payload = entry.read_bytes().split(b"\n", 1)
    assert json.loads(header)["format"] == parse_cache.ENTRY_FORMAT
    assert json.loads(payload) == load_file(path)  # plain JSON: no pickle, no code
    assert entry.parent.stat().st_mode & 0o077 == 0  # private folders
    assert (tmp_path / "cache").stat().st_mode & 0o077 == 0


def test_any_byte_changed_is_parsed_again_never_read_from_the_old_entry(tmp_path: Path) -> None:
    """Every byte position of the file, changed in turn: the cached answer is always the
    answer a fresh parse gives (or the same refusal), never the old document."""
    path = _file(tmp_path)
    cache = _cache(tmp_path)
    original = path.read_bytes()
    load_file(path, cache=cache)  # the entry of the original bytes
    rng = random.Random(16)
    for i in range(len(original)):
        changed = bytearray(original)
        choices = [b for b in b"0123456789abcxyz :-\n'\"#" if b != original[i]]
        changed[i] = rng.choice(choices)
        path.write_bytes(bytes(changed))
        assert _outcome(path, cache) == _outcome(path), f"byte {i} changed"
    path.write_bytes(original)
    hits = cache.stats.hits
    assert load_file(path, cache=cache) == load_file(path)
    assert cache.stats.hits == hits + 1  # the original's entry is still good


def test_every_catalog_and_config_file_is_cached_and_invalidated(sample_root: Path) -> None:
    cache = ParseCache(sample_root.parent / "cache")
    plain, _ = check_catalog(sample_root)
    first, _ = check_catalog(sample_root, cache=cache)
    stored = cache.stats.stored
    assert stored >= 4  # trains, services, specs, config (and the JSON snapshot)
    warm, problems = check_catalog(sample_root, cache=cache)
    assert cache.stats.hits == stored and not problems.errors
    assert warm == first == plain
    yaml_files = sorted(
        p
        for p in (*sample_root.glob("catalog/*"), *sample_root.glob("config/*"))
        if p.suffix == ".yaml"
    )
    for path in yaml_files:
        original = path.read_bytes()
        path.write_bytes(original + b"\n# one more line\n")
        before = cache.stats.misses
        check_catalog(sample_root, cache=cache)
        assert cache.stats.misses == before + 1, f"{path.name}: changed but not parsed again"
        path.write_bytes(original)


def test_a_changed_value_is_seen_through_the_cache(sample_root: Path) -> None:
    cache = ParseCache(sample_root.parent / "cache")
    trains = sample_root / "catalog" / "release-trains.yaml"
    before, _ = check_catalog(sample_root, cache=cache)
    assert before is not None
    name = next(iter(before.trains))
    text = trains.read_text()
    assert f"name: {name}" in text
    trains.write_text(text.replace(f"name: {name}", f"name: {name}x", 1))
    after, _ = check_catalog(sample_root, cache=cache)
    assert after is not None and f"{name}x" in after.trains and name not in after.trains


def _damaged(entry: bytes) -> dict[str, bytes]:
    header, payload = entry.split(b"\n", 1)
    meta = json.loads(header)
    forged = json.loads(payload)
    forged["services"][0]["version"] = "9.9.9"
    body = json.dumps(forged).encode()
    consistent = dict(
        meta, payload_bytes=len(body), payload_sha256=hashlib.sha256(body).hexdigest()
    )
    return {
        "empty": b"",
        "garbage": b"\x00\xff not json at all",
        "truncated": entry[: len(entry) // 2],
        "header only": header + b"\n",
        "no newline": header,
        "payload changed, digest not": header + b"\n" + body,
        "other source": json.dumps(dict(consistent, source_sha256="0" * 64)).encode()
        + b"\n"
        + body,
        "other format": json.dumps(dict(meta, format="pickle")).encode() + b"\n" + payload,
        "extra field": json.dumps(dict(meta, trusted=True)).encode() + b"\n" + payload,
        "payload cut by one byte": header + b"\n" + payload[:-1],
    }


@pytest.mark.parametrize("damage", list(_damaged(b'{"a": 1}\n{"services": [{}]}')))
def test_a_damaged_entry_is_ignored_and_rewritten(tmp_path: Path, damage: str) -> None:
    path = _file(tmp_path)
    cache = _cache(tmp_path)
    load_file(path, cache=cache)
    entry = cache.entry_path(path.read_bytes())
    entry.write_bytes(_damaged(entry.read_bytes())[damage])
    fresh = _cache(tmp_path)
    assert load_file(path, cache=fresh) == load_file(path)
    assert (fresh.stats.ignored, fresh.stats.hits, fresh.stats.stored) == (1, 0, 1)
    assert load_file(path, cache=fresh) == load_file(path)
    assert fresh.stats.hits == 1  # repaired


def test_a_symlinked_entry_is_not_followed(tmp_path: Path) -> None:
    path = _file(tmp_path)
    cache = _cache(tmp_path)
    load_file(path, cache=cache)
    entry = cache.entry_path(path.read_bytes())
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_bytes(entry.read_bytes())
    entry.unlink()
    entry.symlink_to(elsewhere)
    fresh = _cache(tmp_path)
    assert load_file(path, cache=fresh) == load_file(path)
    assert fresh.stats.ignored == 1 and fresh.stats.hits == 0


def test_another_loader_version_never_reads_these_entries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _file(tmp_path)
    old = _cache(tmp_path, fingerprint="a" * 64)
    load_file(path, cache=old)
    new = _cache(tmp_path, fingerprint="b" * 64)
    assert load_file(path, cache=new) == load_file(path)
    assert (new.stats.hits, new.stats.misses) == (0, 1)
    # an old entry copied where the new version looks is refused by its header
    new_entry = new.entry_path(path.read_bytes())
    new_entry.write_bytes(old.entry_path(path.read_bytes()).read_bytes())
    again = _cache(tmp_path, fingerprint="b" * 64)
    assert load_file(path, cache=again) == load_file(path)
    assert again.stats.ignored == 1 and again.stats.hits == 0
    # the fingerprint follows the tool's version
    fingerprint = loader_fingerprint()
    monkeypatch.setattr(parse_cache, "__version__", "99.0.0")
    assert loader_fingerprint() != fingerprint


def test_a_document_json_cannot_hold_exactly_is_not_cached(tmp_path: Path) -> None:
    path = _file(tmp_path, "1: int key\n'1': str key\nraw: !!binary aGVsbG8=\n")
    cache = _cache(tmp_path)
    for _ in range(2):
        data = load_file(path, cache=cache)
        assert data == {1: "int key", "1": "str key", "raw": b"hello"}
    assert (cache.stats.stored, cache.stats.hits, cache.stats.not_cacheable) == (0, 0, 2)


def test_a_refused_file_is_never_cached(tmp_path: Path) -> None:
    path = _file(tmp_path, "a: 1\na: 2\n")
    cache = _cache(tmp_path)
    for _ in range(2):
        with pytest.raises(CatalogError, match=r":2: .*duplicate key 'a'"):
            load_file(path, cache=cache)
    assert cache.stats.stored == 0 and not (tmp_path / "cache").exists()


def test_a_cache_folder_that_cannot_be_written_is_no_error(tmp_path: Path) -> None:
    path = _file(tmp_path)
    (tmp_path / "cache").write_text("a file where the folder belongs")
    cache = _cache(tmp_path)
    assert load_file(path, cache=cache) == load_file(path)
    assert cache.stats.write_errors == 1


def test_deleting_the_cache_between_loads_is_safe(tmp_path: Path) -> None:
    import shutil

    path = _file(tmp_path)
    cache = _cache(tmp_path)
    load_file(path, cache=cache)
    shutil.rmtree(tmp_path / "cache")
    assert load_file(path, cache=cache) == load_file(path)
    assert cache.stats.misses == 2 and cache.stats.stored == 2


def test_a_folder_others_may_write_is_not_used(tmp_path: Path) -> None:
    folder = tmp_path / "shared"
    assert usable(folder)  # not there yet: created private
    folder.mkdir(mode=0o700)
    assert usable(folder)
    os.chmod(folder, 0o777)
    assert not usable(folder)
    cache = ParseCache(folder)
    path = _file(tmp_path)
    load_file(path, cache=cache)
    assert cache.stats.write_errors == 1 and not list(folder.rglob("*.json"))


def test_default_folder_follows_xdg(tmp_path: Path) -> None:
    assert default_folder({"XDG_CACHE_HOME": str(tmp_path)}) == tmp_path / "release-trains"
    assert default_folder({"XDG_CACHE_HOME": "relative", "HOME": "/home/u"}) == Path(
        "/home/u/.cache/release-trains"
    )
    assert default_folder({"HOME": "/home/u"}) == Path("/home/u/.cache/release-trains")
    assert default_folder({}) is None


_WRITER = """
import sys
from pathlib import Path
from release_trains.parse_cache import ParseCache
from release_trains.yaml_io import load_file
cache = ParseCache(Path(sys.argv[1]), fingerprint="c" * 64)
entry = cache.entry_path(Path(sys.argv[2]).read_bytes())
for _ in range(int(sys.argv[3])):
    entry.unlink(missing_ok=True)  # every round writes the entry again (or, when another
    # writer's entry landed in between, reads it: a hit)
    load_file(Path(sys.argv[2]), cache=cache)
print(cache.stats.stored + cache.stats.hits, cache.stats.write_errors, cache.stats.ignored)
"""


def test_concurrent_writers_and_readers_never_see_half_an_entry(tmp_path: Path) -> None:
    services = "".join(
        f"  - name: svc-{i:04d}\n    version: 1.{i}.0\n    notes: '{'x' * 200}'\n"
        for i in range(400)
    )
    path = _file(tmp_path, "services:\n" + services)
    expected = load_file(path)
    folder = tmp_path / "cache"
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(folder), str(path), "40"],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    reader = ParseCache(folder, fingerprint="c" * 64)
    content = path.read_bytes()
    deadline = time.monotonic() + 120
    try:
        while any(w.poll() is None for w in writers):
            assert time.monotonic() < deadline, "writers did not finish in 120 s"
            found, data = reader.get(content)
            if found:
                assert data == expected
    finally:
        for w in writers:
            if w.poll() is None:
                w.kill()
    outputs = [w.communicate(timeout=30)[0].split() for w in writers]
    assert all(w.returncode == 0 for w in writers)
    # every load stored or hit, none failed to write, none saw a damaged entry
    assert all(out == ["40", "0", "0"] for out in outputs), outputs
    assert reader.stats.ignored == 0, "a reader saw a partial or damaged entry"
    assert reader.get(content) == (True, expected)
    leftovers = [p.name for p in folder.rglob(".tmp-*")]
    assert leftovers == []
