"""Automatic rollback, end to end: the real console script, a real deploy command, and real
HTTP endpoints on 127.0.0.1 serving health and a Prometheus-format /metrics page.

Triggers are read after every release and `for` times while verifying (CONTRACT: a trigger
fires when its consecutive bad readings reach `for`).
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import yaml
from helpers import Reply, cli_argv, recording_script, serve


def metrics(rate: float) -> str:
    return (
        "# HELP http_error_rate Percent of requests answered 5xx.\n"
        "# TYPE http_error_rate gauge\n"
        f'http_error_rate{{service="b"}} {rate}\n'
        f'http_error_rate{{service="a"}} 0.1\n'
    )


def make_root(
    tmp_path: Path, *, release_trains: dict[str, Any], train_rollback: dict[str, Any]
) -> Path:
    root = tmp_path / "root"
    (root / "catalog").mkdir(parents=True)
    (root / "config").mkdir()
    services = [
        {"name": "a", "version": "1.0.0"},
        {"name": "b", "version": "1.0.0", "dependencies": {"internal": ["a"]}},
        {"name": "c", "version": "1.0.0", "dependencies": {"internal": ["b"]}},
    ]
    for s in services:
        s["quality"] = {"score": 95, "open_critical_vulns": 0}
    (root / "catalog" / "service-index.yaml").write_text(yaml.safe_dump({"services": services}))
    train = {
        "name": "chain",
        "target_version": "2.0.0",
        "participants": ["a", "b", "c"],
        "rollback": train_rollback,
    }
    (root / "catalog" / "release-trains.yaml").write_text(yaml.safe_dump({"trains": [train]}))
    (root / "config" / "upgrade-policies.yaml").write_text(
        yaml.safe_dump({"release_trains": release_trains})
    )
    return root


def run(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cli_argv("--root", root, *args),
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def steps(root: Path) -> dict[str, str]:
    with sqlite3.connect(root / "analysis" / "state" / "release-trains.db") as db:
        return dict(db.execute("SELECT service, status FROM steps"))


def test_error_rate_rising_while_verifying_rolls_the_train_back(tmp_path: Path) -> None:
    deploy = recording_script(tmp_path / "bin")
    with serve() as server:
        # Good while the services are released (one read after each), bad while verifying.
        server.script("/metrics", *[Reply(body=metrics(0.5))] * 3, then=Reply(body=metrics(12.0)))
        root = make_root(
            tmp_path,
            release_trains={
                "deployer": {
                    "type": "command",
                    "deploy": [str(deploy.script), "{service}", "{version}"],
                },
                "signals": {
                    "error_rate": {
                        "prometheus": {
                            "metrics_url": f"{server.url}/metrics",
                            "metric": "http_error_rate",
                            "labels": {"service": "b"},
                        }
                    }
                },
                "rollback": {
                    "interval": 0.01,
                    "triggers": [{"name": "error-rate", "expression": "error_rate > 5", "for": 2}],
                },
            },
            train_rollback={"enabled": True},
        )
        result = run(root, "execute", "chain", "--json")
    assert result.returncode == 1, result.stderr
    outcome = json.loads(result.stdout)
    assert outcome["status"] == "rolled_back"
    assert "trigger error-rate fired" in outcome["reason"]
    assert "error_rate > 5" in outcome["reason"]
    # Released a, b, c in order, then rolled back dependents first to the previous versions.
    assert deploy.lines() == ["a 2.0.0", "b 2.0.0", "c 2.0.0", "c 1.0.0", "b 1.0.0", "a 1.0.0"]
    assert steps(root) == {"a": "rolled_back", "b": "rolled_back", "c": "rolled_back"}
    audit = [
        json.loads(line)
        for line in (root / "analysis" / "reports" / "audit.log").read_text().splitlines()
    ]
    assert any(r["action"] == "auto-rollback" and "error-rate" in r["detail"] for r in audit)


def health_root(tmp_path: Path, url: str, deploy: Path) -> Path:
    root = tmp_path / "root"
    (root / "catalog").mkdir(parents=True)
    (root / "config").mkdir()
    services = [
        {"name": "solo", "version": "1.0.0", "quality": {"score": 95, "open_critical_vulns": 0}}
    ]
    (root / "catalog" / "service-index.yaml").write_text(yaml.safe_dump({"services": services}))
    train = {
        "name": "one",
        "target_version": "2.0.0",
        "participants": ["solo"],
        "rollback": {"enabled": True},
    }
    (root / "catalog" / "release-trains.yaml").write_text(yaml.safe_dump({"trains": [train]}))
    config = {
        "deployer": {"type": "command", "deploy": [str(deploy), "{service}", "{version}"]},
        "health": {"type": "http", "url": url, "timeout": 2, "retries": 0, "interval": 0.01},
        "rollback": {
            "interval": 0.01,
            "triggers": [{"name": "health", "expression": "health < 100", "for": 3}],
        },
    }
    (root / "config" / "upgrade-policies.yaml").write_text(
        yaml.safe_dump({"release_trains": config})
    )
    return root


# Requests to /health, in order: the release's verification, the trigger read after the
# release, the post-release verification, then three trigger readings while verifying.
OK, BAD = Reply(status=200, body={"status": "up"}), Reply(status=503, body={"status": "down"})


def test_health_that_flaps_once_does_not_trigger_with_for_3(tmp_path: Path) -> None:
    deploy = recording_script(tmp_path / "bin")
    with serve() as server:
        server.script("/health", OK, OK, OK, BAD, then=OK)
        root = health_root(tmp_path, f"{server.url}/health", deploy.script)
        result = run(root, "execute", "one", "--json")
        seen = len([r for r in server.requests if r.path == "/health"])
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["status"] == "completed"
    assert seen == 6
    assert deploy.lines() == ["solo 2.0.0"]


def test_health_that_stays_bad_triggers_the_rollback(tmp_path: Path) -> None:
    deploy = recording_script(tmp_path / "bin")
    with serve() as server:
        # Bad for the three readings, healthy again once the old version is back.
        server.script("/health", OK, OK, OK, BAD, BAD, BAD, then=OK)
        root = health_root(tmp_path, f"{server.url}/health", deploy.script)
        result = run(root, "execute", "one", "--json")
    assert result.returncode == 1
    outcome = json.loads(result.stdout)
    assert outcome["status"] == "rolled_back", outcome
    assert "trigger health fired" in outcome["reason"] and "3 consecutive" in outcome["reason"]
    assert deploy.lines() == ["solo 2.0.0", "solo 1.0.0"]


def test_a_rollback_that_leaves_the_service_unhealthy_ends_failed(tmp_path: Path) -> None:
    deploy = recording_script(tmp_path / "bin")
    with serve() as server:
        server.script("/health", OK, OK, OK, then=BAD)  # still bad on the old version
        root = health_root(tmp_path, f"{server.url}/health", deploy.script)
        result = run(root, "execute", "one", "--json")
    assert result.returncode == 1
    outcome = json.loads(result.stdout)
    assert outcome["status"] == "failed"
    assert "unhealthy after rollback" in outcome["reason"]
    assert "back on the previous version but unhealthy: solo" in outcome["reason"]
    assert deploy.lines() == ["solo 2.0.0", "solo 1.0.0"]


def test_with_rollback_disabled_the_train_fails_and_says_no_rollback_ran(tmp_path: Path) -> None:
    deploy = recording_script(tmp_path / "bin")
    with serve() as server:
        server.script("/health", OK, OK, OK, then=BAD)
        root = health_root(tmp_path, f"{server.url}/health", deploy.script)
        trains = root / "catalog" / "release-trains.yaml"
        trains.write_text(trains.read_text().replace("enabled: true", "enabled: false"))
        result = run(root, "execute", "one", "--json")
    assert result.returncode == 1
    outcome = json.loads(result.stdout)
    assert outcome["status"] == "failed"
    assert "trigger health fired" in outcome["reason"]
    assert "no rollback ran" in outcome["reason"]
    assert deploy.lines() == ["solo 2.0.0"]
