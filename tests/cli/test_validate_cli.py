"""`release-trains validate`: every problem at once, as `file:line: $.path: message`, exit 2;
warnings that do not fail; nothing written."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from helpers import cli_argv

RunCli = Callable[..., Any]  # conftest.run_cli: (*args) -> CliResult(code, out, err)
Digest = Callable[[Path], dict[str, str]]


def test_sample_is_valid(sample_root: Path, run_cli: RunCli, tree_digest: Digest) -> None:
    before = tree_digest(sample_root)
    result = run_cli("--root", sample_root, "validate")
    assert result.code == 0, result.out + result.err
    assert result.out.strip() == "valid: 3 trains, 8 services"
    assert result.err == ""
    assert tree_digest(sample_root) == before


def test_sample_is_valid_json(sample_root: Path, run_cli: RunCli) -> None:
    result = run_cli("--root", sample_root, "validate", "--json")
    assert result.code == 0
    assert json.loads(result.out) == {"valid": True, "errors": [], "warnings": []}
    assert result.err == ""


def test_real_world_is_valid(real_root: Path, run_cli: RunCli) -> None:
    result = run_cli("--root", real_root, "validate")
    assert result.code == 0, result.out
    assert result.out.strip() == "valid: 4 trains, 24 services"
    # dependencies that point outside the catalog are a warning, on stderr, not a failure
    assert (
        "warning:" in result.err
        and "connectors" in result.err
        and "vector-store-adapter" in result.err
    )

    as_json = run_cli("--root", real_root, "validate", "--json")
    assert as_json.code == 0
    doc = json.loads(as_json.out)
    assert doc["valid"] is True and doc["errors"] == []
    assert any("connectors" in w for w in doc["warnings"])


def test_real_world_validate_subprocess(real_root: Path) -> None:
    proc = subprocess.run(
        cli_argv("--root", real_root, "validate", "--json"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["valid"] is True


def _break_sample(root: Path) -> None:
    """Four schema problems in two files."""
    trains = root / "catalog" / "release-trains.yaml"
    text = trains.read_text()
    text = text.replace(
        "    status: planning\n    schedule", "    status: planing\n    schedule", 1
    )
    text = text.replace(
        "rollback: {enabled: true, timeout: 5m}", "rollback: {enabled: true, timeout: soon}"
    )
    text = text.replace("participants: [reporting, scenario]", "participants: []")
    trains.write_text(text)
    config = root / "config" / "upgrade-policies.yaml"
    config.write_text(config.read_text().replace("type: local ", "type: docker "))


def test_every_problem_is_listed(sample_root: Path, run_cli: RunCli, tree_digest: Digest) -> None:
    _break_sample(sample_root)
    before = tree_digest(sample_root)
    result = run_cli("--root", sample_root, "validate")
    assert result.code == 2
    lines = result.out.strip().splitlines()
    assert len(lines) == 4, lines
    for line in lines:
        assert re.match(
            rf"{re.escape(str(sample_root))}/(catalog|config)/[\w.-]+\.yaml:\d+: \$\.\S+: .+", line
        ), line
    text = result.out
    assert "release-trains.yaml:15: $.trains[0].status: 'planing' is not one of planning," in text
    assert "$.trains[1].rollback.timeout" in text
    assert "$.trains[2].participants" in text
    docker = "$.release_trains.deployer.type: 'docker' is not one of local, command, http"
    assert f"upgrade-policies.yaml:19: {docker}" in text
    assert "4 problem(s) found" in result.err
    assert "Traceback" not in result.out + result.err
    assert tree_digest(sample_root) == before


def test_every_problem_is_listed_json(sample_root: Path, run_cli: RunCli) -> None:
    _break_sample(sample_root)
    result = run_cli("--root", sample_root, "validate", "--json")
    assert result.code == 2
    doc = json.loads(result.out)
    assert doc["valid"] is False and len(doc["errors"]) == 4
    assert all(re.search(r"\.yaml:\d+: \$\.", e) for e in doc["errors"])
    assert result.err == ""


def test_schema_problem_does_not_hide_other_problems(sample_root: Path, run_cli: RunCli) -> None:
    trains = sample_root / "catalog" / "release-trains.yaml"
    text = trains.read_text().replace(
        "    status: planning\n    schedule", "    status: planing\n    schedule", 1
    )
    text = text.replace('custom: "error_rate < 1"', 'custom: "error_rate <"')
    trains.write_text(text)
    result = run_cli("--root", sample_root, "validate")
    assert result.code == 2
    assert "$.trains[0].status" in result.out
    assert "$.trains[2].gates[2].custom: column" in result.out


def test_missing_required_file(sample_root: Path, run_cli: RunCli) -> None:
    (sample_root / "catalog" / "service-index.yaml").unlink()
    result = run_cli("--root", sample_root, "validate")
    assert result.code == 2
    assert "catalog/service-index.yaml: file not found" in result.out


def test_cycle_in_the_catalog_is_a_warning(sample_root: Path, run_cli: RunCli) -> None:
    index = sample_root / "catalog" / "service-index.yaml"
    index.write_text(
        index.read_text().replace(
            "dependencies: {internal: [], external: [kafka]}",
            "dependencies: {internal: [gateway], external: [kafka]}",
        )
    )
    result = run_cli("--root", sample_root, "validate")
    assert result.code == 0, result.out
    assert "dependency cycle" in result.err
    # a cycle is shown from its smallest name, each step reading "depends on"
    assert "dependency cycle: gateway -> pricing-service -> market-data -> gateway" in result.err

    plan = run_cli("--root", sample_root, "plan", "pricing-refresh", "--dry-run", "--json")
    assert plan.code == 1
    assert any("dependency cycle" in p for p in json.loads(plan.out)["problems"])


def test_validate_reports_an_unknown_participant(sample_root: Path, run_cli: RunCli) -> None:
    trains = sample_root / "catalog" / "release-trains.yaml"
    trains.write_text(
        trains.read_text().replace(
            "[curve, backtesting, scenario]", "[curve, backtesting, scenari]"
        )
    )
    assert run_cli("--root", sample_root, "plan", "Q4-curve-upgrade", "--dry-run").code == 2
    result = run_cli("--root", sample_root, "validate")
    assert result.code == 2
    assert "scenari" in result.out and "$.trains[0].participants[2]" in result.out


def test_a_setting_that_has_no_effect_is_said_so(sample_root: Path, run_cli: RunCli) -> None:
    config = sample_root / "config" / "upgrade-policies.yaml"
    text = config.read_text().replace(
        "    health_check_timeout: 300\n",
        "    health_check_timeout: 300\n    dependency_check_timeout: 60\n",
    )
    config.write_text(text)
    result = run_cli("--root", sample_root, "validate", "--json")
    assert result.code == 0, result.out + result.err  # accepted: the seed's policies carry it
    [warning] = json.loads(result.out)["warnings"]
    assert re.search(
        r"upgrade-policies\.yaml:\d+: \$\.release_trains\.validation\.dependency_check_timeout: "
        r"has no effect",
        warning,
    ), warning
