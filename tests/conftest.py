"""Shared fixtures.

- `sample_root`: a copy of the sample catalog/ and config/ in tmp_path, so no test writes into
  the repository.
- `real_root`: the real-world 254carbon-meta folder, read in place (never copied); a test may
  only run `validate` and `plan --dry-run` on it, and the fixture fails the test if anything
  under it changed.
- `make_root`: builds a root from a mapping of relative path -> text (or data, dumped as YAML).
- `tree_digest`, `project_root`: helpers as fixtures (test modules do not import conftest).
- `run_cli`: calls `release_trains.cli.main.main(argv)` and returns (exit code, stdout, stderr).
- `postgres_server`, `postgres_url`, `postgres_db_url`: a real PostgreSQL server (pg_fixtures.py).
- `browser`, `page`: a real headless Chromium driven by Playwright (browser_fixtures.py).
- An autouse guard fails any test that writes into the repository's own analysis/ folder
  (the pre-commit habit: tests must never touch real state).
- Every test under tests/e2e/ is marked `e2e` and `slow`, so `pytest -m "not slow"` is the
  quick subset (unit and CLI tests, in-process).
"""

from __future__ import annotations

import hashlib
import shutil
import signal
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

pytest_plugins = ["pg_fixtures", "browser_fixtures"]

PROJECT_ROOT = Path(__file__).resolve().parents[1]
REAL_ROOT = PROJECT_ROOT / ".." / "shared" / "real-world" / "254carbon-meta"
REPO_ANALYSIS = PROJECT_ROOT / "analysis"


E2E = Path(__file__).resolve().parent / "e2e"


# A suite started in the background by a non-interactive shell (`cmd &`) inherits SIGINT
# ignored, and so would every process it starts (an ignored signal stays ignored across
# exec): the tests that press Ctrl-C on a real child would see it ignored and wait in vain.
# A handler of our own is reset to the default in each child instead.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if E2E in item.path.parents:
            item.add_marker(pytest.mark.e2e)
            item.add_marker(pytest.mark.slow)


def tree_digest(folder: Path) -> dict[str, str]:
    """relative path -> sha256 of every file under `folder` ('<dir>' for directories)."""
    if not folder.exists():
        return {}
    out: dict[str, str] = {}
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder).as_posix()
        out[rel] = "<dir>" if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def _listing(folder: Path) -> dict[str, tuple[int, int]]:
    if not folder.exists():
        return {}
    return {
        p.relative_to(folder).as_posix(): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in folder.rglob("*")
    }


@pytest.fixture(autouse=True)
def _repo_analysis_untouched(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # A state URL inherited from the developer's shell must not redirect any test.
    monkeypatch.delenv("RELEASE_TRAINS_STATE", raising=False)
    # Nor may a parsed-catalog cache turned on there (tests that use it choose its folder).
    monkeypatch.delenv("RELEASE_TRAINS_CACHE", raising=False)
    before = _listing(REPO_ANALYSIS)
    yield
    after = _listing(REPO_ANALYSIS)
    if after != before:
        changed = sorted(set(before.items()) ^ set(after.items()))
        pytest.fail(f"test wrote into {REPO_ANALYSIS}: {changed}")


@pytest.fixture
def project_root() -> Path:
    return PROJECT_ROOT


@pytest.fixture(name="tree_digest")
def tree_digest_fixture() -> Callable[[Path], dict[str, str]]:
    """The `tree_digest` function, for tests that assert a folder is byte-for-byte unchanged."""
    return tree_digest


@pytest.fixture
def sample_root(tmp_path: Path) -> Path:
    root = tmp_path / "sample"
    root.mkdir()
    shutil.copytree(PROJECT_ROOT / "catalog", root / "catalog")
    shutil.copytree(PROJECT_ROOT / "config", root / "config")
    return root


@pytest.fixture
def real_root() -> Iterator[Path]:
    assert (REAL_ROOT / "catalog" / "release-trains.yaml").is_file(), f"missing {REAL_ROOT}"
    before = tree_digest(REAL_ROOT)
    yield REAL_ROOT
    assert tree_digest(REAL_ROOT) == before, f"a test changed files under {REAL_ROOT}"


@pytest.fixture
def make_root(tmp_path: Path) -> Callable[..., Path]:
    """make_root({"catalog/release-trains.yaml": "...", ...}) -> root folder.

    A value that is not a string is dumped as YAML (or JSON for .json files).
    """
    counter = iter(range(1_000_000))

    def build(files: Mapping[str, Any], *, base: Path | None = None) -> Path:
        root = tmp_path / f"root{next(counter)}"
        if base is not None:
            shutil.copytree(base, root)
        else:
            root.mkdir()
        for rel, content in files.items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            elif isinstance(content, str):
                path.write_text(content, encoding="utf-8")
            elif rel.endswith(".json"):
                import json

                path.write_text(json.dumps(content, indent=2), encoding="utf-8")
            else:
                path.write_text(yaml.safe_dump(content, sort_keys=False), encoding="utf-8")
        return root

    return build


@dataclass(frozen=True)
class CliResult:
    code: int
    out: str
    err: str


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., CliResult]:
    """Run `release-trains ARGS` in-process through main(argv), the one exit-code mapper."""
    from release_trains.cli.main import main

    def run(*args: str | Path) -> CliResult:
        capsys.readouterr()  # drop anything printed before
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run
