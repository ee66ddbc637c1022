"""Faults around a release: a state database held locked by another process, a read-only
analysis folder, and a deploy command that fails at random (seeded)."""

from __future__ import annotations

import json
import os
import random
import shlex
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from helpers import cli_argv, write_script

PROJECT = Path(__file__).resolve().parents[2]


def sample_root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    shutil.copytree(PROJECT / "catalog", root / "catalog")
    shutil.copytree(PROJECT / "config", root / "config")
    return root


def cli(
    root: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cli_argv("--root", root, *args),
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def db_path(root: Path) -> Path:
    return root / "analysis" / "state" / "release-trains.db"


def test_a_state_database_locked_past_the_busy_timeout_exits_3_and_corrupts_nothing(
    tmp_path: Path,
) -> None:
    root = sample_root(tmp_path)
    assert cli(root, "execute", "pricing-refresh").returncode == 0  # creates the store
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys; db = sqlite3.connect(sys.argv[1], isolation_level=None);"
            " db.execute('BEGIN EXCLUSIVE'); print('locked', flush=True); sys.stdin.read()",
            str(db_path(root)),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        result = cli(
            root, "execute", "Q4-curve-upgrade", env={"RELEASE_TRAINS_BUSY_TIMEOUT": "0.5"}
        )
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=10)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "stayed locked by another process" in result.stderr
    assert "Traceback" not in result.stderr
    with sqlite3.connect(db_path(root)) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert (
            db.execute("SELECT COUNT(*) FROM runs WHERE train = 'Q4-curve-upgrade'").fetchone()[0]
            == 0
        )
    # Once the lock is gone the same command goes through.
    assert cli(root, "execute", "Q4-curve-upgrade").returncode == 0


def _read_only_mount_works() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "-m", "sh", "-c", "mount --bind /tmp /tmp && mount -o remount,bind,ro /tmp"],
        capture_output=True,
    )
    return probe.returncode == 0


@pytest.mark.skipif(
    not _read_only_mount_works(), reason="needs unshare and mount (root in a mount namespace)"
)
@pytest.mark.parametrize("args", [("execute", "Q4-curve-upgrade"), ("plan", "Q4-curve-upgrade")])
def test_a_read_only_analysis_folder_is_a_clear_error(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    # Root ignores file modes, so the folder is made read-only the way an operator would meet
    # it: a read-only mount (in a private mount namespace, so nothing outside sees it).
    root = sample_root(tmp_path)
    analysis = root / "analysis"
    (analysis / "state").mkdir(parents=True)
    (analysis / "reports").mkdir()
    before = sorted(p.name for p in analysis.rglob("*"))
    command = " ".join(
        [
            f"mount --bind {analysis} {analysis} && mount -o remount,bind,ro {analysis} &&",
            f"exec {shlex.join(cli_argv('--root', root, *args))}",
        ]
    )
    result = subprocess.run(
        ["unshare", "-m", "sh", "-c", command], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 4, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert (
        "read-only" in result.stderr.lower()
        or "readonly" in result.stderr.lower()
        or "unable to open" in result.stderr
    )
    assert str(analysis) in result.stderr
    assert sorted(p.name for p in analysis.rglob("*")) == before


def test_a_deploy_failing_at_random_retries_then_fails_cleanly(tmp_path: Path) -> None:
    # The outcomes come from a seeded generator, written down before the run, so the test is
    # the same every time: the script pops one outcome per call.
    rng = random.Random(20261132)  # curve: fail, ok; backtesting: fail x3
    outcomes = ["fail" if rng.random() < 0.6 else "ok" for _ in range(40)]
    queue = tmp_path / "outcomes"
    queue.write_text("\n".join(outcomes) + "\n")
    record = tmp_path / "record"
    script = write_script(
        tmp_path / "bin" / "deploy",
        f"outcome=$(head -n 1 {queue}); sed -i 1d {queue}\n"
        f'echo "$1 $2 $outcome" >> {record}\n'
        '[ "$outcome" = ok ]\n',
    )
    root = sample_root(tmp_path)
    config = root / "config" / "upgrade-policies.yaml"
    doc = yaml.safe_load(config.read_text())
    doc["release_trains"]["deployer"] = {
        "type": "command",
        "deploy": [str(script), "{service}", "{version}"],
        "retries": 2,
        "backoff": 0,
    }
    config.write_text(yaml.safe_dump(doc))
    trains = root / "catalog" / "release-trains.yaml"
    trains.write_text(
        trains.read_text().replace(
            "rollback: {enabled: true, timeout: 10m", "rollback: {enabled: false, timeout: 10m"
        )
    )
    result = cli(root, "execute", "Q4-curve-upgrade", "--json")
    lines = record.read_text().splitlines()
    outcome = json.loads(result.stdout)
    steps = {s["service"]: s for s in outcome["services"]}
    # Replay the seeded outcomes the way the executor must have consumed them.
    expected_status: dict[str, str] = {}
    calls = iter(outcomes)
    consumed = 0
    failed_one = False
    for name in ("curve-service", "backtesting-service", "scenario-service"):
        if failed_one:
            expected_status[name] = "skipped"
            continue
        for _attempt in range(3):
            consumed += 1
            if next(calls) == "ok":
                expected_status[name] = "released"
                break
        else:
            expected_status[name] = "failed"
            failed_one = True
    assert {n: s["status"] for n, s in steps.items()} == expected_status
    assert [line.split()[2] for line in lines] == outcomes[:consumed]  # no call lost or added
    assert failed_one, "the seed is chosen so that one service fails after its retries"
    assert result.returncode == 1
    if failed_one:
        assert outcome["status"] == "failed"
        failed = next(n for n, s in expected_status.items() if s == "failed")
        assert [line.split()[0] for line in lines].count(failed) == 3  # 1 try + 2 retries
    with sqlite3.connect(db_path(root)) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        states = {r[0] for r in db.execute("SELECT status FROM steps")}
    assert states <= {"released", "failed", "skipped"}
