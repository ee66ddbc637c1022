"""`plan` of a train whose latest run completed: execute refuses it (a completed train is only
rolled back), so the plan is not ready (exit 1) and says why and what to do; once rolled back,
the train plans as ready again."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

RunCli = Callable[..., Any]  # conftest.run_cli: (*args) -> CliResult(code, out, err)
TRAIN = "Q4-curve-upgrade"


def test_plan_of_a_completed_train_is_not_ready_and_says_it_is_completed(
    sample_root: Path, run_cli: RunCli
) -> None:
    assert run_cli("--root", sample_root, "plan", TRAIN, "--dry-run").code == 0  # ready before
    assert run_cli("--root", sample_root, "execute", TRAIN).code == 0

    result = run_cli("--root", sample_root, "plan", TRAIN, "--json", "--dry-run")
    assert result.code == 1, result
    doc = json.loads(result.out)
    assert (doc["status"], doc["ready"]) == ("completed", False)
    [problem] = [p for p in doc["problems"] if "completed" in p]
    assert f"train {TRAIN!r} is completed" in problem
    assert "rollback" in problem and "new train" in problem

    plain = run_cli("--root", sample_root, "plan", TRAIN, "--dry-run")
    assert plain.code == 1
    assert "NOT READY" in plain.out and "READY" not in plain.out.replace("NOT READY", "")
    # and execute agrees: a completed train is not started again
    assert run_cli("--root", sample_root, "execute", TRAIN).code == 3


def test_a_rolled_back_train_plans_as_ready_again(sample_root: Path, run_cli: RunCli) -> None:
    assert run_cli("--root", sample_root, "execute", TRAIN).code == 0
    assert run_cli("--root", sample_root, "rollback", TRAIN, "--reason", "bad p99").code == 0
    result = run_cli("--root", sample_root, "plan", TRAIN, "--json", "--dry-run")
    assert result.code == 0, result
    assert json.loads(result.out)["status"] == "rolled_back"


def test_a_train_whose_yaml_says_completed_is_not_ready_either(
    sample_root: Path, run_cli: RunCli
) -> None:
    """execute refuses it as well (no run: the YAML status is where the train is)."""
    import yaml

    path = sample_root / "catalog" / "release-trains.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    next(t for t in doc["trains"] if t["name"] == TRAIN)["status"] = "completed"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    result = run_cli("--root", sample_root, "plan", TRAIN, "--json", "--dry-run")
    assert result.code == 1, result
    [problem] = [p for p in json.loads(result.out)["problems"] if "completed" in p]
    assert "its YAML status says so" in problem
    assert run_cli("--root", sample_root, "execute", TRAIN).code == 3
