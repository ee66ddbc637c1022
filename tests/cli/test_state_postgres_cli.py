"""The CLI and --state postgresql://: a bad URL is exit 2 naming where it came from, an
unreachable server exit 3, a password in the URL shown nowhere, and commands that do not touch
PostgreSQL never import its driver (start-up budget B1)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

SECRET = "Pw-never-shown-42"


def imported_modules(*args: str | Path, cwd: Path) -> set[str]:
    """The modules `python -X importtime -m release_trains ARGS` imported."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "release_trains", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "NO_COLOR": "1"},
    )
    assert proc.returncode in (0, 1), proc.stderr[-2000:]
    names = set()
    for line in proc.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip())
    assert "release_trains.cli.main" in names, proc.stderr[-2000:]
    return names


def test_sqlite_commands_never_import_psycopg(sample_root: Path) -> None:
    for args in (
        ("plan", "Q4-curve-upgrade"),
        ("execute", "Q4-curve-upgrade"),
        ("status", "--json"),
        ("audit", "--verify"),
    ):
        names = imported_modules("--root", sample_root, *args, cwd=sample_root)
        assert "release_trains.state.runs" in names or args[0] == "plan"
        assert not {n for n in names if n.split(".")[0] == "psycopg"}, args
        assert "release_trains.state.postgres" not in names, args


def test_bad_url_names_the_variable_or_the_option(
    run_cli: Any, sample_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = f"postgresql://alice:{SECRET}@db:99999/trains"
    monkeypatch.setenv("RELEASE_TRAINS_STATE", bad)
    from_env = run_cli("status", "--root", sample_root)
    assert from_env.code == 2, from_env
    assert "RELEASE_TRAINS_STATE='postgresql://alice:***@db:99999/trains'" in from_env.err
    monkeypatch.delenv("RELEASE_TRAINS_STATE")
    from_option = run_cli("status", "--root", sample_root, "--state", bad, "--json")
    assert from_option.code == 2, from_option
    assert "--state='postgresql://alice:***@db:99999/trains'" in from_option.err
    assert '"exit_code": 2' in from_option.out
    for result in (from_env, from_option):
        assert SECRET not in result.out + result.err
        assert "Traceback" not in result.err
    assert not (sample_root / "analysis").exists()  # nothing written


def test_unreachable_server_is_exit_3_without_password(run_cli: Any, sample_root: Path) -> None:
    from helpers import closed_port

    url = f"postgresql://alice:{SECRET}@127.0.0.1:{closed_port()}/trains"
    for args in (("status",), ("execute", "Q4-curve-upgrade"), ("audit", "--verify")):
        result = run_cli(*args, "--root", sample_root, "--state", url)
        assert result.code == 3, (args, result)
        assert "cannot reach the state store postgresql://alice:***@127.0.0.1:" in result.err
        assert SECRET not in result.out + result.err
        assert "Traceback" not in result.err
