"""`release-trains plan`: exit codes, the JSON document of CONTRACT.md, what is written where,
the real-world catalog, and the script wrapper."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from helpers import cli_argv

from release_trains.cli.main import cli

RunCli = Callable[..., Any]  # conftest.run_cli: (*args) -> CliResult(code, out, err)
Digest = Callable[[Path], dict[str, str]]
PROJECT_ROOT = Path(__file__).resolve().parents[2]
PLAN_KEYS = {
    "train",
    "ready",
    "status",
    "participants",
    "order",
    "waves",
    "dependencies",
    "gates",
    "problems",
    "estimated_duration_s",
}
PARTICIPANT_KEYS = {
    "name",
    "service",
    "from_version",
    "to_version",
    "quality_score",
    "critical_vulns",
}
DEPENDENCY_KEYS = {"kind", "name", "constraint", "outcome", "found"}
GATE_KEYS = {"gate", "required", "outcome", "detail", "failing"}


def _plans_folder(root: Path, train: str) -> Path:
    return root / "analysis" / "reports" / "release-trains" / train


def _plan_json(result: Any) -> dict[str, Any]:
    doc = json.loads(result.out)  # raises unless stdout is exactly one JSON document
    assert isinstance(doc, dict)
    return doc


def _check_contract_shape(doc: dict[str, Any]) -> None:
    assert set(doc) >= PLAN_KEYS
    assert isinstance(doc["ready"], bool) and isinstance(doc["estimated_duration_s"], (int, float))
    for p in doc["participants"]:
        assert set(p) >= PARTICIPANT_KEYS
    for d in doc["dependencies"]:
        assert set(d) >= DEPENDENCY_KEYS and d["outcome"] in ("satisfied", "unsatisfied", "unknown")
        assert isinstance(d["found"], list)
    for g in doc["gates"]:
        assert set(g) >= GATE_KEYS and g["outcome"] in ("pass", "fail", "unknown", "error")
        assert isinstance(g["required"], bool) and isinstance(g["failing"], list)
    services = {p["service"] for p in doc["participants"]}
    assert sorted(doc["order"]) == sorted(services)
    assert [s for wave in doc["waves"] for s in wave] == doc["order"]
    assert doc["ready"] == (doc["problems"] == [])


# --- the sample platform --------------------------------------------------------------------


def test_sample_plan_is_ready(sample_root: Path, run_cli: RunCli) -> None:
    result = run_cli("--root", sample_root, "plan", "Q4-curve-upgrade")
    assert result.code == 0, result.err
    assert (
        "Q4-curve-upgrade" in result.out and "READY" in result.out and "NOT READY" not in result.out
    )
    assert "redeploy" in result.out
    assert result.err == ""


def test_sample_plan_json(sample_root: Path, run_cli: RunCli) -> None:
    result = run_cli("--root", sample_root, "plan", "Q4-curve-upgrade", "--json")
    assert result.code == 0, result.err
    doc = _plan_json(result)
    _check_contract_shape(doc)
    assert (
        doc["train"] == "Q4-curve-upgrade" and doc["ready"] is True and doc["status"] == "planning"
    )
    assert [{k: p[k] for k in PARTICIPANT_KEYS} for p in doc["participants"]] == [
        {
            "name": "curve",
            "service": "curve-service",
            "from_version": "1.8.0",
            "to_version": "2.0.0",
            "quality_score": 92.0,
            "critical_vulns": 0,
        },
        {
            "name": "backtesting",
            "service": "backtesting-service",
            "from_version": "1.3.0",
            "to_version": "1.3.0",
            "quality_score": 88.0,
            "critical_vulns": 0,
        },
        {
            "name": "scenario",
            "service": "scenario-service",
            "from_version": "1.4.0",
            "to_version": "1.4.0",
            "quality_score": 86.0,
            "critical_vulns": 0,
        },
    ]
    assert doc["order"] == ["curve-service", "backtesting-service", "scenario-service"]
    assert doc["waves"] == [["curve-service"], ["backtesting-service", "scenario-service"]]
    assert [{k: d[k] for k in DEPENDENCY_KEYS} for d in doc["dependencies"]] == [
        {
            "kind": "spec",
            "name": "curves-api",
            "constraint": ">=2.0.0",
            "outcome": "satisfied",
            "found": ["1.9.0", "2.0.1"],
        }
    ]
    assert {g["gate"]: g["outcome"] for g in doc["gates"]} == {
        "all_participants_coverage >= 70": "pass",
        "all_participants_quality >=80": "pass",
        "no_open_critical_vulns": "pass",
    }
    assert doc["problems"] == []
    assert doc["estimated_duration_s"] == 7200
    assert result.err == ""


def test_plan_writes_latest_and_a_timestamped_copy(sample_root: Path, run_cli: RunCli) -> None:
    result = run_cli("--root", sample_root, "plan", "Q4-curve-upgrade", "--json")
    assert result.code == 0
    printed = _plan_json(result)
    folder = _plans_folder(sample_root, "Q4-curve-upgrade")
    latest = json.loads((folder / "latest-plan.json").read_text())
    assert latest == printed
    copies = sorted(p for p in folder.glob("*.json") if p.name != "latest-plan.json")
    assert len(copies) == 1 and copies[0].name.startswith("plan-")
    assert json.loads(copies[0].read_text()) == printed
    assert not list(folder.glob(".*"))  # no temporary files left behind


def test_plan_without_json_writes_the_same_document(sample_root: Path, run_cli: RunCli) -> None:
    assert run_cli("--root", sample_root, "plan", "pricing-refresh").code == 0
    latest = json.loads(
        (_plans_folder(sample_root, "pricing-refresh") / "latest-plan.json").read_text()
    )
    _check_contract_shape(latest)
    assert latest["train"] == "pricing-refresh" and latest["ready"] is True


def test_dry_run_writes_nothing(
    sample_root: Path, run_cli: RunCli, tmp_path: Path, tree_digest: Digest
) -> None:
    before = tree_digest(sample_root)
    output = tmp_path / "out" / "plan.json"
    result = run_cli(
        "--root", sample_root, "plan", "Q4-curve-upgrade", "--dry-run", "--json", "--output", output
    )
    assert result.code == 0
    assert _plan_json(result)["ready"] is True
    assert tree_digest(sample_root) == before
    assert not (sample_root / "analysis").exists()
    assert not output.exists()


def test_output_writes_the_same_document(
    sample_root: Path, run_cli: RunCli, tmp_path: Path
) -> None:
    output = tmp_path / "elsewhere" / "plan.json"
    result = run_cli(
        "--root", sample_root, "plan", "Q4-curve-upgrade", "--json", "--output", output
    )
    assert result.code == 0
    assert json.loads(output.read_text()) == _plan_json(result)


def test_not_ready_train_exits_1_with_reasons(sample_root: Path, run_cli: RunCli) -> None:
    result = run_cli("--root", sample_root, "plan", "reporting-overhaul")
    assert result.code == 1
    assert "NOT READY" in result.out
    for reason in (
        "reporting-api",
        "none satisfies >=3.0.0",
        "reporting-service (72)",
        "error_rate",
    ):
        assert reason in result.out

    as_json = run_cli("--root", sample_root, "plan", "reporting-overhaul", "--json", "--dry-run")
    assert as_json.code == 1
    doc = _plan_json(as_json)
    _check_contract_shape(doc)
    assert doc["ready"] is False
    outcomes = {d["name"] + d["constraint"]: d["outcome"] for d in doc["dependencies"]}
    assert outcomes == {"reporting-api>=1.0.0": "unknown", "curves-api>=3.0.0": "unsatisfied"}
    failing = {g["gate"]: g["failing"] for g in doc["gates"] if g["outcome"] == "fail"}
    assert failing["all_participants_quality >=80"] == ["reporting-service"]
    assert failing["no_open_critical_vulns"] == ["reporting-service"]
    assert len(doc["problems"]) == 6


def test_unknown_train_exits_2_listing_the_trains(sample_root: Path, run_cli: RunCli) -> None:
    result = run_cli("--root", sample_root, "plan", "Q5-nothing", "--json")
    assert result.code == 2
    assert json.loads(result.out) == {
        "error": result.err.removeprefix("error: ").strip(),
        "exit_code": 2,
    }
    assert "'Q5-nothing'" in result.err and "release-trains.yaml" in result.err
    for name in ("Q4-curve-upgrade", "pricing-refresh", "reporting-overhaul"):
        assert name in result.err
    assert "Traceback" not in result.err
    assert not (sample_root / "analysis").exists()


def test_unknown_option_is_bad_usage(sample_root: Path, run_cli: RunCli) -> None:
    result = run_cli("--root", sample_root, "plan", "Q4-curve-upgrade", "--jsn")
    assert result.code == 2
    assert "--jsn" in result.err


def test_cli_runner_gives_the_same_json(sample_root: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(
        cli,
        ["--root", str(sample_root), "plan", "Q4-curve-upgrade", "--json", "--dry-run"],
        catch_exceptions=False,
    )
    doc = json.loads(result.stdout)
    assert doc["train"] == "Q4-curve-upgrade" and doc["ready"] is True
    assert result.stderr == ""


# --- real-world files ------------------------------------------------------------------------


def test_real_q4_plan(real_root: Path, run_cli: RunCli) -> None:
    result = run_cli("--root", real_root, "plan", "Q4-curve-upgrade", "--dry-run", "--json")
    assert result.code == 1, result.err
    doc = _plan_json(result)
    _check_contract_shape(doc)
    resolved = {p["name"]: p["service"] for p in doc["participants"]}
    assert resolved == {
        "curve": "curve-service",
        "backtesting": "backtesting-service",
        "scenario": "scenario-service",
        "enrichment": "enrichment",  # the exact name wins over enrichment-service
    }
    versions = {p["service"]: (p["from_version"], p["to_version"]) for p in doc["participants"]}
    assert versions["curve-service"] == ("0.1.0", "2.0.0")
    assert versions["enrichment"] == ("1.0.0", "1.0.0")
    assert doc["order"].index("curve-service") < doc["order"].index("scenario-service")

    gates = {g["gate"]: g for g in doc["gates"]}
    assert gates["quality_threshold"]["outcome"] == "pass"  # all four score >= 80 in the snapshot
    assert gates["no_critical_vulns"]["outcome"] == "pass"
    assert gates["tests_passing"]["outcome"] == "unknown"  # ci_status: nothing to read it from
    assert all(g["required"] for g in doc["gates"])

    deps = {d["name"]: (d["outcome"], d["found"]) for d in doc["dependencies"]}
    assert deps == {"curves-api": ("unknown", []), "pricing-api": ("unknown", [])}
    assert doc["ready"] is False
    assert any("curves-api" in p for p in doc["problems"]) and any(
        "pricing-api" in p for p in doc["problems"]
    )
    assert doc["estimated_duration_s"] == 7200


def test_real_label_target_goes_to_every_participant(real_root: Path, run_cli: RunCli) -> None:
    result = run_cli("--root", real_root, "plan", "Q1-security-patches", "--dry-run", "--json")
    assert result.code == 1
    doc = _plan_json(result)
    assert {p["to_version"] for p in doc["participants"]} == {"2025-Q1"}
    assert doc["order"].index("projection") < doc["order"].index("gateway")
    gateway_core = next(d for d in doc["dependencies"] if d["name"] == "gateway-core")
    assert gateway_core["outcome"] == "unsatisfied" and gateway_core["found"] == ["1.0.0"]


@pytest.mark.parametrize("train", ["Q2-performance-improvements", "Q3-new-features"])
def test_real_trains_plan_without_error(real_root: Path, run_cli: RunCli, train: str) -> None:
    result = run_cli("--root", real_root, "plan", train, "--dry-run", "--json")
    assert result.code == 1, result.err
    doc = _plan_json(result)
    _check_contract_shape(doc)
    assert doc["problems"]


def test_real_large_index_orders_all_150_services(
    tmp_path: Path, real_root: Path, run_cli: RunCli
) -> None:
    source = real_root / "catalog" / "large-service-index.json"
    services = json.loads(source.read_text())["services"]
    assert len(services) == 150
    root = tmp_path / "large"
    (root / "catalog").mkdir(parents=True)
    (root / "catalog" / "service-index.json").symlink_to(
        source.resolve()
    )  # read in place, not copied
    train = {
        "name": "everything",
        "target_version": "9.9.9",
        "participants": [s["name"] for s in services],
    }
    (root / "catalog" / "release-trains.yaml").write_text(yaml.safe_dump({"trains": [train]}))
    # the index carries no quality data: switch the standard gates off so the plan can be ready
    (root / "config").mkdir()
    (root / "config" / "upgrade-policies.yaml").write_text(
        "release_trains:\n  quality_gates: {min_quality_score: null, max_critical_vulns: null}\n"
    )

    result = run_cli("--root", root, "plan", "everything", "--dry-run", "--json")
    assert result.code == 0, result.err
    doc = _plan_json(result)
    assert doc["ready"] is True and len(doc["participants"]) == 150
    assert sorted(doc["order"]) == sorted(s["name"] for s in services)
    position = {name: i for i, name in enumerate(doc["order"])}
    wave_of = {name: i for i, wave in enumerate(doc["waves"]) for name in wave}
    edges = 0
    for s in services:
        for dep in s["dependencies"]["internal"]:
            name, _, version = dep.partition("@")
            assert version, dep  # the real file pins every internal dependency
            assert position[name] < position[s["name"]], (
                f"{name} must be released before {s['name']}"
            )
            assert wave_of[name] < wave_of[s["name"]]
            edges += 1
    assert edges == 149
    assert not any("cycle" in p for p in doc["problems"])
    assert not (root / "analysis").exists()


# --- end to end: the real console script and the script wrapper ---------------------------------


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "RELEASE_TRAINS_STATE"}
    env["NO_COLOR"] = "1"
    return env


def test_console_script_end_to_end(sample_root: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "release_trains", "plan", "Q4-curve-upgrade"],
        cwd=sample_root,
        capture_output=True,
        text=True,
        env=_env(),
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "READY" in proc.stdout
    assert "\x1b[" not in proc.stdout  # no TTY: plain text
    assert (_plans_folder(sample_root, "Q4-curve-upgrade") / "latest-plan.json").is_file()

    blocked = subprocess.run(
        cli_argv("--root", sample_root, "plan", "reporting-overhaul", "--json", "--dry-run"),
        capture_output=True,
        text=True,
        env=_env(),
        timeout=60,
    )
    assert blocked.returncode == 1
    assert json.loads(blocked.stdout)["ready"] is False


def test_plan_script_wrapper(sample_root: Path, tree_digest: Digest) -> None:
    before = tree_digest(sample_root)
    proc = subprocess.run(
        [
            sys.executable,
            str(PROJECT_ROOT / "scripts" / "plan_release_train.py"),
            "--train",
            "Q4-curve-upgrade",
            "--dry-run",
            "--json",
        ],
        cwd=sample_root,
        capture_output=True,
        text=True,
        env=_env(),
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["train"] == "Q4-curve-upgrade"
    assert tree_digest(sample_root) == before

    human = subprocess.run(
        [
            sys.executable,
            str(PROJECT_ROOT / "scripts" / "plan_release_train.py"),
            "--train",
            "Q4-curve-upgrade",
            "--dry-run",
            "--root",
            str(sample_root),
        ],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=60,
    )
    assert human.returncode == 0, human.stderr
    assert "Q4-curve-upgrade" in human.stdout and "READY" in human.stdout

    unknown = subprocess.run(
        [
            sys.executable,
            str(PROJECT_ROOT / "scripts" / "plan_release_train.py"),
            "--train",
            "nope",
            "--dry-run",
        ],
        cwd=sample_root,
        capture_output=True,
        text=True,
        env=_env(),
        timeout=60,
    )
    assert unknown.returncode == 2 and "unknown train 'nope'" in unknown.stderr


# --- relative executables resolve against --root ------------------------------------------


def _script(path: Path, body: str, *, executable: bool = True) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755 if executable else 0o644)


def _with_commands(root: Path) -> Path:
    """The sample, deploying, probing and reading a signal through ./bin/ scripts."""
    config_path = root / "config" / "upgrade-policies.yaml"
    config = yaml.safe_load(config_path.read_text())
    rt = config["release_trains"]
    rt["deployer"] = {
        "type": "command",
        "deploy": ["./bin/deploy", "{service}", "{version}"],
        "timeout": 30,
    }
    rt["health"] = {"type": "command", "command": ["./bin/health", "{service}"], "retries": 0}
    rt["signals"]["smoke_failures"] = {"command": ["./bin/smoke"]}
    rt["rollback"] = {"enabled": False}
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    trains_path = root / "catalog" / "release-trains.yaml"
    trains = yaml.safe_load(trains_path.read_text())
    trains["trains"][0]["gates"].append({"custom": "smoke_failures < 1"})
    trains["trains"][0]["rollback"]["enabled"] = False
    trains_path.write_text(yaml.safe_dump(trains, sort_keys=False))
    log = root / "deployed.log"
    _script(root / "bin" / "deploy", f'echo "$1 $2" >> "{log}"\n')
    _script(root / "bin" / "health", "exit 0\n")
    _script(root / "bin" / "smoke", "echo 0\n")
    return log


def test_plan_and_execute_resolve_relative_executables_against_root(
    sample_root: Path, run_cli: RunCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = _with_commands(sample_root)
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "bin").mkdir(parents=True)  # a decoy: the working directory's ./bin is not used
    _script(elsewhere / "bin" / "deploy", "exit 7\n")
    monkeypatch.chdir(elsewhere)

    plan = run_cli("--root", sample_root, "plan", "Q4-curve-upgrade", "--json", "--dry-run")
    assert plan.code == 0, plan.out + plan.err
    smoke = next(g for g in _plan_json(plan)["gates"] if g["gate"] == "smoke_failures < 1")
    assert smoke["outcome"] == "pass", smoke

    result = run_cli("--root", sample_root, "execute", "Q4-curve-upgrade")
    assert result.code == 0, result.out + result.err
    assert sorted(log.read_text().splitlines()) == [
        "backtesting-service 1.3.0",  # redeployed at its version: the target names curve only
        "curve-service 2.0.0",
        "scenario-service 1.4.0",
    ]


@pytest.mark.parametrize(
    ("script", "executable", "why"),
    [
        ("deploy", None, "deployer deploy command of curve-service, backtesting-service"),
        ("deploy", False, "not executable: ./bin/deploy"),
        ("health", None, "health check command of curve-service"),
        ("smoke", None, "signal smoke_failures command: executable not found: ./bin/smoke"),
    ],
)
def test_plan_reports_a_missing_or_non_executable_command(
    sample_root: Path,
    run_cli: RunCli,
    monkeypatch: pytest.MonkeyPatch,
    script: str,
    executable: bool | None,
    why: str,
) -> None:
    _with_commands(sample_root)
    path = sample_root / "bin" / script
    if executable is None:
        path.unlink()
    else:
        path.chmod(0o644)
    monkeypatch.chdir(sample_root / "bin")  # even where ./bin/... would not be found anyway

    result = run_cli("--root", sample_root, "plan", "Q4-curve-upgrade", "--json", "--dry-run")
    assert result.code == 1, result.out + result.err
    problems = _plan_json(result)["problems"]
    assert any(why in p for p in problems), problems
    if executable is None:
        assert any(f"({sample_root / 'bin' / script})" in p for p in problems), problems
        assert any(f"resolve against --root {sample_root}" in p for p in problems), problems
