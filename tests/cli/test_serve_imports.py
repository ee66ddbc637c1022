"""Only `serve` loads the server stack: --help, plan and status never import FastAPI,
Starlette, pydantic or uvicorn (each costs start-up time every cron job would pay)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SERVER_STACK = ("fastapi", "starlette", "pydantic", "uvicorn", "release_trains.server")

PROBE = """
import sys
from release_trains.cli.main import main
code = main(sys.argv[1:])
loaded = sorted(m for m in {stack!r} if m in sys.modules)
print("LOADED", loaded, code)
"""


@pytest.mark.parametrize(
    "args",
    [
        ("--help",),
        ("plan", "Q4-curve-upgrade", "--dry-run", "--json"),
        ("status", "--json"),
        ("status", "Q4-curve-upgrade", "--json"),
        ("token", "list", "--json"),
        ("serve", "--help"),
    ],
)
def test_commands_other_than_serve_never_import_the_server(
    sample_root: Path, args: tuple[str, ...]
) -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(stack=SERVER_STACK), "--root", str(sample_root), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    last = out.stdout.strip().splitlines()[-1]
    assert last.startswith("LOADED []"), f"{last}\n{out.stderr}"
