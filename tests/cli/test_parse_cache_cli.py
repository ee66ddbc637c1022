"""RELEASE_TRAINS_CACHE: the parsed-catalog cache from the command line. Opt-in, outside the
project, and `plan --dry-run` still writes nothing in the project."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

TRAIN = "Q4-curve-upgrade"


def _plan(result: Any) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(result.out)
    doc.pop("created_at", None)
    return doc


def _entries(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.json"))


@pytest.fixture
def cache_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "xdg"
    monkeypatch.setenv("XDG_CACHE_HOME", str(folder))
    monkeypatch.setenv("RELEASE_TRAINS_CACHE", "1")
    return folder / "release-trains"


def test_plan_dry_run_with_the_cache_writes_nothing_in_the_project(
    sample_root: Path,
    cache_env: Path,
    run_cli: Callable[..., Any],
    tree_digest: Callable[[Path], dict[str, str]],
) -> None:
    before = tree_digest(sample_root)
    cold = run_cli("plan", TRAIN, "--json", "--dry-run", "--root", sample_root)
    assert cold.code == 0, cold.err
    # trains, services, specs, config and the quality snapshot (JSON files are cached too,
    # so that a hit skips their checks)
    assert len(_entries(cache_env)) == 5
    warm = run_cli("plan", TRAIN, "--json", "--dry-run", "--root", sample_root)
    assert warm.code == 0 and _plan(warm) == _plan(cold)
    assert tree_digest(sample_root) == before


def test_the_same_plan_with_and_without_the_cache(
    sample_root: Path,
    cache_env: Path,
    run_cli: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run_cli("plan", TRAIN, "--json", "--dry-run", "--root", sample_root)
    cached = run_cli("plan", TRAIN, "--json", "--dry-run", "--root", sample_root)
    monkeypatch.setenv("RELEASE_TRAINS_CACHE", "0")
    plain = run_cli("plan", TRAIN, "--json", "--dry-run", "--root", sample_root)
    assert _plan(cached) == _plan(plain)


def test_the_cache_is_off_unless_asked(
    sample_root: Path, tmp_path: Path, run_cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert run_cli("plan", TRAIN, "--dry-run", "--root", sample_root).code == 0
    monkeypatch.setenv("RELEASE_TRAINS_CACHE", "off")
    assert run_cli("validate", "--root", sample_root).code == 0
    assert not (tmp_path / "xdg").exists()


def test_a_changed_byte_in_a_catalog_file_changes_the_plan(
    sample_root: Path, cache_env: Path, run_cli: Callable[..., Any]
) -> None:
    first = _plan(run_cli("plan", TRAIN, "--json", "--dry-run", "--root", sample_root))
    trains = sample_root / "catalog" / "release-trains.yaml"
    text = trains.read_text()
    target = first["participants"][0]["to_version"]
    assert text.count(target) >= 1
    trains.write_text(text.replace(target, target[:-1] + str((int(target[-1]) + 1) % 10)))
    second = _plan(run_cli("plan", TRAIN, "--json", "--dry-run", "--root", sample_root))
    assert second["participants"][0]["to_version"] != target


def test_a_corrupt_entry_is_ignored_by_the_command(
    sample_root: Path, cache_env: Path, run_cli: Callable[..., Any]
) -> None:
    cold = run_cli("plan", TRAIN, "--json", "--dry-run", "--root", sample_root)
    for entry in _entries(cache_env):
        entry.write_bytes(entry.read_bytes()[:-7] + b"garbage")
    warm = run_cli("plan", TRAIN, "--json", "--dry-run", "--root", sample_root)
    assert warm.code == 0, warm.err
    assert _plan(warm) == _plan(cold)


def test_a_cache_folder_inside_the_project_is_not_used(
    sample_root: Path,
    run_cli: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
    tree_digest: Callable[[Path], dict[str, str]],
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(sample_root / "cache"))
    monkeypatch.setenv("RELEASE_TRAINS_CACHE", "1")
    before = tree_digest(sample_root)
    assert run_cli("plan", TRAIN, "--dry-run", "--root", sample_root).code == 0
    assert tree_digest(sample_root) == before


def test_a_bad_value_is_exit_2_naming_the_variable(
    sample_root: Path, run_cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RELEASE_TRAINS_CACHE", "maybe")
    result = run_cli("plan", TRAIN, "--dry-run", "--root", sample_root)
    assert result.code == 2
    assert "RELEASE_TRAINS_CACHE='maybe'" in result.err and "Traceback" not in result.err
    assert run_cli("validate", "--root", sample_root).code == 2


def test_validate_reports_the_same_problems_through_the_cache(
    sample_root: Path, cache_env: Path, run_cli: Callable[..., Any]
) -> None:
    config = sample_root / "config" / "upgrade-policies.yaml"
    text = config.read_text()
    assert "type: local " in text
    config.write_text(text.replace("type: local ", "type: docker "))
    first = run_cli("validate", "--json", "--root", sample_root)
    second = run_cli("validate", "--json", "--root", sample_root)
    assert first.code == second.code == 2
    assert json.loads(first.out) == json.loads(second.out)
    assert any("docker" in e for e in json.loads(second.out)["errors"])
