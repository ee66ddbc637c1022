"""The scripts under scripts/ (the seed documentation's flags) run the one CLI: each one
started as a real process from its file, as the documentation shows them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from conftest import PROJECT_ROOT

TRAIN = "Q4-curve-upgrade"
SCRIPTS = PROJECT_ROOT / "scripts"


def _script(name: str, *args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPTS / name), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _json(done: subprocess.CompletedProcess[str]) -> Any:
    assert done.stderr == "" or "Traceback" not in done.stderr, done.stderr
    return json.loads(done.stdout)


def test_every_script_runs_its_command_with_the_seed_flags(sample_root: Path) -> None:
    root = ("--root", sample_root)
    plan = _json(_script("plan_release_train.py", "--train", TRAIN, "--json", "--dry-run", *root))
    assert plan["train"] == TRAIN and plan["waves"]

    dry = _script("execute_release_train.py", "--train", TRAIN, "--dry-run", *root)
    assert dry.returncode == 0 and not (sample_root / "analysis" / "state").exists(), dry.stderr

    due = _script("execute_release_train.py", "--due", "--json", *root)  # its start has passed
    started = {t["train"]: t for t in _json(due)["trains"]}
    assert due.returncode == 0 and started[TRAIN]["status"] == "completed", due.stdout[-500:]
    again = _script("execute_release_train.py", "--train", TRAIN, *root)
    assert again.returncode == 3 and "completed" in again.stderr  # done once, not twice

    status = _json(_script("monitor_release_progress.py", "--train-name", TRAIN, "--json", *root))
    assert status["status"] == "completed" and status["released"] == len(status["services"])

    preview = _script("rollback_release_train.py", "--train-name", TRAIN, "--dry-run", *root)
    assert preview.returncode == 0 and "curve-service" in preview.stdout, preview.stderr

    report = _script("generate_monitoring_report.py", "--train", TRAIN, "--format", "json", *root)
    assert _json(report)["train"] == TRAIN


def test_a_script_refuses_what_its_command_refuses(sample_root: Path) -> None:
    both = _script("execute_release_train.py", "--train", TRAIN, "--due")
    assert both.returncode == 2 and "not allowed with argument" in both.stderr
    unknown = _script("plan_release_train.py", "--train", "nope", "--root", sample_root)
    assert unknown.returncode == 2 and "nope" in unknown.stderr
    assert "Traceback" not in unknown.stderr
