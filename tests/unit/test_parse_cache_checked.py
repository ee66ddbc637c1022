"""The schema check recorded in a cache entry: a document that passed it under the same bytes,
the same schemas and the same checker is not checked again; anything else is checked as
before (an invalid document is never recorded, a record under other schemas is not used, a
malformed record makes the whole entry unbelieved)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from release_trains import catalog as catalog_module
from release_trains import validation
from release_trains.catalog import check_catalog
from release_trains.errors import CatalogError
from release_trains.parse_cache import ParseCache
from release_trains.yaml_io import load_file


def _count_checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every schema check check_catalog runs, by kind (the fast path and the full one)."""
    calls: list[str] = []
    quick, full = catalog_module.passes_exactly, catalog_module.schema_errors

    def counted_quick(kind: str, data: Any) -> bool:
        calls.append(kind)
        return quick(kind, data)

    def counted_full(kind: str, data: Any) -> Any:
        calls.append(kind)
        return full(kind, data)

    monkeypatch.setattr(catalog_module, "passes_exactly", counted_quick)
    monkeypatch.setattr(catalog_module, "schema_errors", counted_full)
    return calls


def _entry(cache: ParseCache, path: Path) -> tuple[dict[str, Any], bytes]:
    header, payload = cache.entry_path(path.read_bytes()).read_bytes().split(b"\n", 1)
    return json.loads(header), payload


def test_a_checked_document_is_not_checked_again(
    sample_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = sample_root.parent / "cache"
    plain, _ = check_catalog(sample_root)
    calls = _count_checks(monkeypatch)
    cold, problems = check_catalog(sample_root, cache=ParseCache(folder))
    assert not problems.errors and cold == plain
    assert {"services", "trains", "quality", "specs", "config"} <= set(calls)
    services = sample_root / "catalog" / "service-index.yaml"
    header, _ = _entry(ParseCache(folder), services)
    assert header["checked"] == [validation.check_key("services")]
    calls.clear()
    warm, problems = check_catalog(sample_root, cache=ParseCache(folder))
    assert not problems.errors and warm == plain
    assert calls == []  # every file was checked before, with the same bytes


def test_a_record_under_other_schemas_is_not_used(
    sample_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = sample_root.parent / "cache"
    check_catalog(sample_root, cache=ParseCache(folder))
    monkeypatch.setattr(catalog_module, "check_key", lambda kind: f"schema:{kind}:other")
    calls = _count_checks(monkeypatch)
    check_catalog(sample_root, cache=ParseCache(folder))
    assert "services" in calls and "trains" in calls  # checked again, and recorded anew
    header, _ = _entry(ParseCache(folder), sample_root / "catalog" / "service-index.yaml")
    assert "schema:services:other" in header["checked"]
    assert validation.check_key("services") in header["checked"]


def test_a_json_file_is_cached_and_its_checks_recorded(tmp_path: Path) -> None:
    path = tmp_path / "project" / "snapshot.json"
    path.parent.mkdir()
    path.write_text('{"services": {"a": {"score": 91.5, "metrics": {"coverage": 0.8}}}}')
    cache = ParseCache(tmp_path / "cache")
    assert load_file(path, cache=cache) == load_file(path)
    assert cache.stats.stored == 1
    again = ParseCache(tmp_path / "cache")
    assert load_file(path, cache=again) == load_file(path) and again.stats.hits == 1
    # a JSON file the loader refuses (a number no setting can hold) is never stored
    bad = tmp_path / "project" / "bad.json"
    bad.write_text('{"score": 1e400}')
    for _ in range(2):
        with pytest.raises(CatalogError, match="infinite"):
            load_file(bad, cache=again)
    assert not again.entry_path(bad.read_bytes()).exists()


def test_the_same_bytes_as_json_and_as_yaml_have_entries_of_their_own(tmp_path: Path) -> None:
    text = '{"a": 1e3, "b": [1, 2]}'  # JSON: 1000.0; YAML 1.1: the text "1e3"
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "x.json").write_text(text)
    (folder / "x.yaml").write_text(text)
    as_json, as_yaml = load_file(folder / "x.json"), load_file(folder / "x.yaml")
    assert as_json["a"] == 1000.0 and as_yaml["a"] == "1e3"
    cache = ParseCache(tmp_path / "cache")
    for _ in range(2):  # filled, then read back
        for name, expected in (("x.yaml", as_yaml), ("x.json", as_json)):
            assert load_file(folder / name, cache=cache) == expected
    assert (cache.stats.stored, cache.stats.hits) == (2, 2)


def test_the_key_follows_the_schema_files_and_the_checker() -> None:
    keys = {validation.check_key(kind) for kind in validation.SCHEMA_FILES}
    assert len(keys) == len(validation.SCHEMA_FILES)  # one per kind


def test_an_invalid_document_is_never_recorded(sample_root: Path) -> None:
    folder = sample_root.parent / "cache"
    trains = sample_root / "catalog" / "release-trains.yaml"
    text = trains.read_text()
    assert "participants:" in text
    trains.write_text(text.replace("participants:", "participantz:", 1))
    _, first = check_catalog(sample_root, cache=ParseCache(folder))
    assert first.errors
    header, _ = _entry(ParseCache(folder), trains)
    assert "checked" not in header
    _, second = check_catalog(sample_root, cache=ParseCache(folder))
    assert second.errors == first.errors  # the same messages, file and line, warm


@pytest.mark.parametrize(
    "checked",
    [[], "schema:services:x", [1], ["b", "a"], ["a", "a"], None, {"a": 1}],
    ids=["empty", "text", "number", "unsorted", "repeated", "null", "object"],
)
def test_a_malformed_record_makes_the_entry_unbelieved(tmp_path: Path, checked: Any) -> None:
    path = tmp_path / "project" / "specs.yaml"
    path.parent.mkdir()
    path.write_text("specs: {api: {versions: ['1.0.0']}}\n")
    cache = ParseCache(tmp_path / "cache")
    load_file(path, cache=cache)
    entry = cache.entry_path(path.read_bytes())
    header, payload = entry.read_bytes().split(b"\n", 1)
    meta = dict(json.loads(header), checked=checked)
    entry.write_bytes(json.dumps(meta).encode() + b"\n" + payload)
    fresh = ParseCache(tmp_path / "cache")
    assert load_file(path, cache=fresh) == load_file(path)
    assert (fresh.stats.ignored, fresh.stats.hits) == (1, 0)
    assert not fresh.checked(path.read_bytes(), "schema:specs:x")


def test_a_record_is_kept_only_with_its_entry(tmp_path: Path) -> None:
    """The record lives in the entry's header: any byte of the source changed is another
    entry, without it; a record is only added to an entry this process believed or wrote."""
    path = tmp_path / "project" / "specs.yaml"
    path.parent.mkdir()
    path.write_text("specs: {api: {versions: ['1.0.0']}}\n")
    cache = ParseCache(tmp_path / "cache")
    load_file(path, cache=cache)
    raw = path.read_bytes()
    cache.mark_checked(raw, "k")
    fresh = ParseCache(tmp_path / "cache")
    load_file(path, cache=fresh)
    assert fresh.checked(raw, "k") and not fresh.checked(raw, "other")
    header, payload = fresh.entry_path(raw).read_bytes().split(b"\n", 1)
    assert json.loads(header)["payload_sha256"] == hashlib.sha256(payload).hexdigest()
    path.write_text("specs: {api: {versions: ['1.0.1']}}\n")
    changed = ParseCache(tmp_path / "cache")
    load_file(path, cache=changed)
    assert not changed.checked(path.read_bytes(), "k")
    never = path.read_bytes() + b"# never loaded\n"
    changed.mark_checked(never, "k")  # no entry for these bytes: nothing written
    assert not changed.entry_path(never).exists()
