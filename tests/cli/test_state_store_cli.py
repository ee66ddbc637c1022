"""The state store as the command line meets it: a file that is not a store, and the busy
timeout from the environment, are bad input (exit 2) naming what is wrong, with the JSON
error document under --json."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

RunCli = Callable[..., Any]  # conftest.run_cli: (*args) -> CliResult(code, out, err)
TRAIN = "Q4-curve-upgrade"


def text_file(tmp_path: Path) -> Path:
    path = tmp_path / "notes.txt"
    path.write_text("not a database\n" * 20, encoding="utf-8")
    return path


def other_sqlite(tmp_path: Path) -> Path:
    path = tmp_path / "other.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY)")
    con.commit()
    con.close()
    return path


@pytest.mark.parametrize("make", [text_file, other_sqlite], ids=["text", "other-sqlite"])
@pytest.mark.parametrize(
    "command",
    [("status", TRAIN), ("status",), ("monitor", TRAIN), ("execute", TRAIN), ("plan", TRAIN)],
    ids=" ".join,
)
def test_a_state_file_that_is_not_a_store_is_bad_input_naming_it(
    sample_root: Path, tmp_path: Path, run_cli: RunCli, make: Callable[[Path], Path], command: Any
) -> None:
    path = make(tmp_path)
    before = path.read_bytes()
    result = run_cli("--root", sample_root, "--state", path, *command, "--json")
    assert result.code == 2, result
    assert f"error: {path} is not a release-trains state store (" in result.err
    assert "internal error" not in result.err
    doc = json.loads(result.out)  # the error document, alone on stdout
    assert doc["exit_code"] == 2 and str(path) in doc["error"]
    assert path.read_bytes() == before
    assert not (sample_root / "analysis" / "state").exists()


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "-1", "soon", "", "1e400", "1e9"])
def test_a_bad_busy_timeout_is_a_usage_error_naming_the_variable(
    sample_root: Path, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("RELEASE_TRAINS_BUSY_TIMEOUT", value)
    for command in (("status", TRAIN), ("plan", TRAIN, "--dry-run"), ("execute", TRAIN)):
        result = run_cli("--root", sample_root, *command, "--json")
        assert result.code == 2, (command, result)
        assert result.err.startswith("error: RELEASE_TRAINS_BUSY_TIMEOUT=")
        assert json.loads(result.out)["exit_code"] == 2
    assert not (sample_root / "analysis").exists()


def test_a_good_busy_timeout_is_used(
    sample_root: Path, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RELEASE_TRAINS_BUSY_TIMEOUT", "0.5")
    assert run_cli("--root", sample_root, "status", TRAIN).code == 0
