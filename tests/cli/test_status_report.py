"""`release-trains status`, `monitor` (once), `report` and `audit`: the JSON keys of
CONTRACT.md, exit codes 0/1/2 for cron wrappers, what is written where, and the scripts."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import write_script

RunCli = Callable[..., Any]  # conftest.run_cli: (*args) -> CliResult(code, out, err)
PROJECT_ROOT = Path(__file__).resolve().parents[2]
TRAIN = "Q4-curve-upgrade"
SERVICES = ["curve-service", "backtesting-service", "scenario-service"]
SERVICE_KEYS = {"service", "status", "from_version", "to_version", "health"}


def edit_yaml(path: Path, change: Callable[[Any], None]) -> None:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(doc)
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")


def release_settings(root: Path, **settings: Any) -> None:
    edit_yaml(
        root / "config" / "upgrade-policies.yaml", lambda d: d["release_trains"].update(settings)
    )


def fail_third_deploy(root: Path) -> None:
    """Command deployer failing scenario-service (released third); no automatic rollback."""
    script = write_script(
        root / "bin" / "deploy", 'if [ "$1" = "scenario-service" ]; then exit 1; fi\nexit 0\n'
    )
    release_settings(
        root, deployer={"type": "command", "deploy": [str(script), "{service}", "{version}"]}
    )

    def no_rollback(doc: Any) -> None:
        next(t for t in doc["trains"] if t["name"] == TRAIN)["rollback"]["enabled"] = False

    edit_yaml(root / "catalog" / "release-trains.yaml", no_rollback)


def status_json(run_cli: RunCli, root: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    result = run_cli("--root", root, "status", TRAIN, "--json", *extra)
    doc = json.loads(result.out)  # exactly one JSON document on stdout
    assert isinstance(doc, dict)
    return result.code, doc


def check_contract(doc: dict[str, Any]) -> None:
    assert {
        "train",
        "status",
        "progress",
        "services",
        "gates",
        "dependencies",
        "phase",
        "events",
        "reason",
    } <= set(doc)
    assert isinstance(doc["progress"], float) and 0 <= doc["progress"] <= 100
    assert doc["progress"] == round(doc["progress"], 1)
    for s in doc["services"]:
        assert set(s) >= SERVICE_KEYS
        assert s["health"] in ("healthy", "unhealthy", "not verified")
    assert set(doc["gates"]) >= {"passed", "total", "items"} and doc["gates"]["total"] == len(
        doc["gates"]["items"]
    )
    deps = doc["dependencies"]
    assert set(deps) >= {"satisfied", "total", "items"} and deps["total"] == len(deps["items"])


# --- status -----------------------------------------------------------------------------------


def test_status_of_a_train_that_never_ran_reports_its_yaml_status_and_writes_nothing(
    sample_root: Path, run_cli: RunCli
) -> None:
    code, doc = status_json(run_cli, sample_root)
    check_contract(doc)
    assert (code, doc["status"], doc["progress"], doc["run_id"]) == (0, "planning", 0.0, None)
    assert [s["status"] for s in doc["services"]] == ["pending"] * 3
    assert (doc["gates"]["passed"], doc["gates"]["total"]) == (3, 3)
    assert (doc["dependencies"]["satisfied"], doc["dependencies"]["total"]) == (1, 1)
    assert not (sample_root / "analysis").exists()


def test_a_train_that_never_ran_exits_0_whatever_its_yaml_status(
    sample_root: Path, run_cli: RunCli
) -> None:
    def failed_in_yaml(doc: Any) -> None:
        next(t for t in doc["trains"] if t["name"] == TRAIN)["status"] = "failed"

    edit_yaml(sample_root / "catalog" / "release-trains.yaml", failed_in_yaml)
    code, doc = status_json(run_cli, sample_root)
    assert (code, doc["status"], doc["run_id"]) == (0, "failed", None)
    assert run_cli("--root", sample_root, "status").code == 0


def test_status_of_a_completed_train_exits_0(sample_root: Path, run_cli: RunCli) -> None:
    assert run_cli("--root", sample_root, "execute", TRAIN).code == 0
    code, doc = status_json(run_cli, sample_root)
    check_contract(doc)
    assert (code, doc["status"], doc["progress"]) == (0, "completed", 100.0)
    assert [s["service"] for s in doc["services"]] == SERVICES
    assert doc["phase"]["name"] == "completed" and doc["phase"]["estimated_s"] == 7200
    assert doc["events"] and doc["events"][-1]["message"] == "verifying -> completed"


def test_status_of_a_failed_train_exits_1_for_cron(sample_root: Path, run_cli: RunCli) -> None:
    fail_third_deploy(sample_root)
    assert run_cli("--root", sample_root, "execute", TRAIN).code == 1
    code, doc = status_json(run_cli, sample_root)
    assert (code, doc["status"], doc["progress"]) == (1, "failed", 66.7)
    assert [s["status"] for s in doc["services"]] == ["released", "released", "failed"]
    plain = run_cli("--root", sample_root, "status", TRAIN)
    assert plain.code == 1 and plain.err == ""
    assert f"Train {TRAIN} (run 1): failed, 66.7% (2/3 released)" in plain.out
    assert "scenario-service: failed 1.4.0 -> 1.4.0 [not verified]" in plain.out


def test_status_of_a_rolled_back_train_exits_1_and_says_why(
    sample_root: Path, run_cli: RunCli
) -> None:
    run_cli("--root", sample_root, "execute", TRAIN)
    assert run_cli("--root", sample_root, "rollback", TRAIN, "--reason", "p99 latency x2").code == 0
    code, doc = status_json(run_cli, sample_root)
    assert (code, doc["status"], doc["progress"]) == (1, "rolled_back", 0.0)
    assert [s["status"] for s in doc["services"]] == ["rolled_back"] * 3
    assert doc["reason"].startswith("p99 latency x2")


def test_status_of_an_unknown_train_exits_2(sample_root: Path, run_cli: RunCli) -> None:
    result = run_cli("--root", sample_root, "status", "nope", "--json")
    assert result.code == 2
    assert json.loads(result.out)["exit_code"] == 2  # --json: stdout is one JSON document
    assert "unknown train 'nope'" in result.err


def test_status_probe_checks_health_now_and_unhealthy_exits_1(
    sample_root: Path, run_cli: RunCli
) -> None:
    probe = write_script(sample_root / "bin" / "health", 'test "$1" != "scenario-service"\n')
    release_settings(
        sample_root, health={"type": "command", "command": [str(probe), "{service}"], "retries": 0}
    )
    code, doc = status_json(run_cli, sample_root, "--probe")
    assert code == 1
    assert [s["health"] for s in doc["services"]] == ["healthy", "healthy", "unhealthy"]
    code, doc = status_json(run_cli, sample_root)  # without --probe: what was recorded (nothing)
    assert code == 0 and {s["health"] for s in doc["services"]} == {"not verified"}


def test_status_without_a_train_lists_every_train(sample_root: Path, run_cli: RunCli) -> None:
    fail_third_deploy(sample_root)
    run_cli("--root", sample_root, "execute", TRAIN)
    result = run_cli("--root", sample_root, "status", "--json")
    doc = json.loads(result.out)
    rows = {r["train"]: r for r in doc["trains"]}
    assert list(rows) == [TRAIN, "pricing-refresh", "reporting-overhaul"]
    assert (rows[TRAIN]["status"], rows[TRAIN]["progress"]) == ("failed", 66.7)
    assert (rows["pricing-refresh"]["status"], rows["pricing-refresh"]["run_id"]) == (
        "planning",
        None,
    )
    assert result.code == 1  # one train needs attention
    plain = run_cli("--root", sample_root, "status")
    assert plain.out.splitlines()[0].startswith(f"{TRAIN}: failed 66.7% (2/3; run 1, updated ")
    assert "pricing-refresh: planning 0.0% (0/3; never ran)" in plain.out


def test_status_shows_the_freeze_in_force_as_plan_does(
    sample_root: Path, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`status TRAIN --json` has `freeze: {name, reason, until, ...} | null`, the very
    document `plan --json` has; the human status says it, on a terminal too."""
    _, doc = status_json(run_cli, sample_root)
    assert doc["freeze"] is None
    assert "frozen" not in run_cli("--root", sample_root, "status", TRAIN).out

    assert run_cli("--root", sample_root, "freeze", "--reason", "quarter close").code == 0
    code, doc = status_json(run_cli, sample_root)
    assert code == 0
    freeze = doc["freeze"]
    assert freeze["name"] == "platform freeze" and freeze["reason"] == "quarter close", freeze
    assert freeze["until"] is None and freeze["source"] == "platform"
    plan = json.loads(run_cli("--root", sample_root, "plan", TRAIN, "--json", "--dry-run").out)
    assert freeze == plan["freeze"]
    human = run_cli("--root", sample_root, "status", TRAIN).out
    line = (
        "frozen by platform freeze (quarter close) until unfrozen: starts and resumes are refused"
    )
    assert line in human, human
    assert run_cli("--root", sample_root, "unfreeze").code == 0

    # a config window, ending an hour from now: its end is shown, and how far off it is
    now = datetime.now(timezone.utc).replace(microsecond=0)
    start, end = (now - timedelta(hours=1)).isoformat(), (now + timedelta(hours=1)).isoformat()
    window = {"name": "month-end", "start": start, "end": end, "reason": "books [b]closing[/b]"}
    release_settings(sample_root, freeze_windows=[window])
    _, doc = status_json(run_cli, sample_root)
    assert doc["freeze"]["name"] == "month-end" and doc["freeze"]["source"] == "window"
    assert datetime.fromisoformat(doc["freeze"]["until"]) == datetime.fromisoformat(end)
    human = run_cli("--root", sample_root, "status", TRAIN).out
    assert (
        f"frozen by month-end (books [b]closing[/b]) until {doc['freeze']['until']} (in " in human
    )
    monkeypatch.setattr("release_trains.cli.status_cmd.is_tty", lambda: True)
    monkeypatch.setenv("COLUMNS", "300")
    table = run_cli("--root", sample_root, "status", TRAIN).out
    assert "frozen by month-end (books [b]closing[/b]) until " in table, table  # not markup

    release_settings(sample_root, freeze_windows=[])
    assert status_json(run_cli, sample_root)[1]["freeze"] is None


def test_every_train_status_says_the_freeze_in_force_once_above_them(
    sample_root: Path, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`status` without a train: `{trains, freeze}`, the freeze as `status TRAIN` has it."""
    every = json.loads(run_cli("--root", sample_root, "status", "--json").out)
    assert every["freeze"] is None and every["trains"]
    assert "frozen" not in run_cli("--root", sample_root, "status").out

    reason = "incident [b]42[/b]\x1b[31m"  # anyone's text: neither markup nor control codes
    frozen = run_cli("--root", sample_root, "freeze", "--reason", reason)
    assert frozen.code == 0 and "\x1b" not in frozen.out
    assert "frozen: incident [b]42[/b]\\x1b[31m (until unfrozen)" in frozen.out, frozen.out
    result = run_cli("--root", sample_root, "status", "--json")
    assert result.code == 0  # a freeze stops starts; it is not a train needing attention
    every = json.loads(result.out)
    assert every["freeze"] == status_json(run_cli, sample_root)[1]["freeze"]
    assert every["freeze"]["reason"] == reason
    first = run_cli("--root", sample_root, "status").out.splitlines()[0]
    assert first.startswith("frozen by platform freeze (incident [b]42[/b]") and "\x1b" not in first
    assert first.endswith("until unfrozen: starts and resumes are refused"), first
    monkeypatch.setattr("release_trains.cli.status_cmd.is_tty", lambda: True)
    monkeypatch.setenv("COLUMNS", "300")
    table = run_cli("--root", sample_root, "status").out
    assert "frozen by platform freeze (incident [b]42[/b]" in table and "Release trains" in table
    assert "\x1b[31m" not in table


def test_status_on_a_terminal_draws_tables(
    sample_root: Path, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("release_trains.cli.status_cmd.is_tty", lambda: True)
    monkeypatch.setenv("COLUMNS", "200")
    run_cli("--root", sample_root, "execute", TRAIN)
    result = run_cli("--root", sample_root, "status", TRAIN)
    assert result.code == 0
    assert "Services, in release order" in result.out and "Gates: 3/3 passed" in result.out
    assert "┃ service" in result.out and "curve-service" in result.out


def test_free_text_on_a_terminal_is_neither_markup_nor_control_codes(
    sample_root: Path, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rollback reason and a description holding rich markup and escape sequences: the
    tables of `status`, `plan` and `audit` show them as text, controls escaped."""
    hostile = "[bold red]loud[/] \x1b[2J\x07 done"
    for module in ("status_cmd", "audit_cmd"):
        monkeypatch.setattr(f"release_trains.cli.{module}.is_tty", lambda: True)
    monkeypatch.setenv("COLUMNS", "300")
    run_cli("--root", sample_root, "execute", TRAIN)
    assert run_cli("--root", sample_root, "rollback", TRAIN, "--reason", hostile).code == 0
    for args in (("status", TRAIN), ("audit", "--train", TRAIN)):
        result = run_cli("--root", sample_root, *args)
        assert result.code in (0, 1), result
        assert "\x1b" not in result.out + result.err and "\x07" not in result.out, args
        assert "[bold red]loud[/] \\x1b[2J\\x07 done" in result.out, (args, result.out)


def test_monitor_without_watch_prints_the_snapshot_once(sample_root: Path, run_cli: RunCli) -> None:
    run_cli("--root", sample_root, "execute", TRAIN)
    once = run_cli("--root", sample_root, "monitor", TRAIN, "--json")
    assert once.code == 0 and json.loads(once.out)["status"] == "completed"
    assert run_cli("--root", sample_root, "monitor", "nope").code == 2


def test_monitor_watch_of_a_train_already_final_returns_at_once_with_its_code(
    sample_root: Path, run_cli: RunCli
) -> None:
    fail_third_deploy(sample_root)
    run_cli("--root", sample_root, "execute", TRAIN)
    result = run_cli("--root", sample_root, "monitor", TRAIN, "--watch", "--interval", "0.05")
    assert result.code == 1
    first = result.out.splitlines()[0]
    assert f" {TRAIN}: failed 66.7% (2/3 released): scenario-service failed" in first
    assert f"Train {TRAIN} (run 1): failed" in result.out  # the final snapshot


# --- report -----------------------------------------------------------------------------------


def report_files(root: Path) -> list[Path]:
    return sorted((root / "analysis" / "reports").rglob("report-*"))


def test_a_train_report_is_written_under_analysis_by_default(
    sample_root: Path, run_cli: RunCli
) -> None:
    run_cli("--root", sample_root, "execute", TRAIN)
    result = run_cli("--root", sample_root, "report", "--train", TRAIN)
    assert result.code == 0 and result.err == ""
    [path] = report_files(sample_root)
    assert path.parent == sample_root / "analysis" / "reports" / "release-trains" / TRAIN
    assert path.suffix == ".md" and result.out == f"wrote {path}\n"
    text = path.read_text(encoding="utf-8")
    assert text.startswith(f"# Release report: train {TRAIN}") and "## Who did what" in text


def test_report_format_json_prints_exactly_the_document_it_writes(
    sample_root: Path, run_cli: RunCli
) -> None:
    run_cli("--root", sample_root, "execute", TRAIN)
    result = run_cli("--root", sample_root, "report", "--service", "curve", "--format", "json")
    assert result.code == 0
    doc = json.loads(result.out)
    [path] = report_files(sample_root)
    assert path.parent == sample_root / "analysis" / "reports" / "services" / "curve-service"
    assert json.loads(path.read_text(encoding="utf-8")) == doc
    assert doc["deployed"] == {"local": "2.0.0"} and doc["health"]["status"] == "not verified"
    assert result.err == f"wrote {path}\n"


def test_report_html_to_a_chosen_file_and_to_stdout(
    sample_root: Path, run_cli: RunCli, tmp_path: Path
) -> None:
    run_cli("--root", sample_root, "execute", TRAIN)
    out = tmp_path / "out" / "q4.html"
    result = run_cli(
        "--root", sample_root, "report", "--train", TRAIN, "--format", "html", "--output", out
    )
    assert result.code == 0 and out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    piped = run_cli(
        "--root", sample_root, "report", "--train", TRAIN, "--output", "-", "--since", "1h"
    )
    assert piped.code == 0 and piped.out.startswith(f"# Release report: train {TRAIN}")
    assert report_files(sample_root) == []  # nothing under analysis/ for either


def test_a_report_on_a_failed_train_is_written_and_exits_1(
    sample_root: Path, run_cli: RunCli
) -> None:
    fail_third_deploy(sample_root)
    run_cli("--root", sample_root, "execute", TRAIN)
    result = run_cli("--root", sample_root, "report", "--train", TRAIN, "--format", "json")
    assert result.code == 1 and len(report_files(sample_root)) == 1
    incidents = json.loads(result.out)["incidents"]
    assert [i["kind"] for i in incidents] == ["status", "deploy-failed"]  # newest first


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--train", "nope"], "unknown train 'nope'"),
        (["--service", "nope"], "nope"),
        (["--train", TRAIN, "--since", "7 days"], "'7 days' is not a duration"),
        ([], "give exactly one of --train or --service"),
        (["--train", TRAIN, "--service", "curve"], "give exactly one of --train or --service"),
        (["--train", TRAIN, "--format", "pdf"], "pdf"),
    ],
)
def test_report_bad_input_exits_2_and_writes_nothing(
    sample_root: Path, run_cli: RunCli, args: list[str], message: str
) -> None:
    result = run_cli("--root", sample_root, "report", *args)
    assert result.code == 2 and result.out == ""
    assert message in result.err
    assert not (sample_root / "analysis").exists()


# --- audit ------------------------------------------------------------------------------------


def test_audit_lists_filters_and_prints_json(sample_root: Path, run_cli: RunCli) -> None:
    run_cli("--root", sample_root, "execute", TRAIN)
    run_cli("--root", sample_root, "rollback", TRAIN, "--reason", "why not")
    records = json.loads(run_cli("--root", sample_root, "audit", "--json", "--since", "1h").out)
    assert {r["action"] for r in records} >= {"deploy", "released", "rollback-start", "rolled-back"}
    assert all(r["train"] == TRAIN for r in records)
    # A train of the catalog that never ran has no records; a name nobody knows is a typo.
    quiet = run_cli("--root", sample_root, "audit", "--json", "--train", "reporting-overhaul")
    assert quiet.code == 0 and json.loads(quiet.out) == []
    assert run_cli("--root", sample_root, "audit", "--json", "--train", "other").code == 2
    plain = run_cli("--root", sample_root, "audit", "--train", TRAIN)
    assert plain.code == 0 and len(plain.out.splitlines()) == len(records)
    order = '["backtesting-service", "scenario-service", "curve-service"]'
    assert f'{{"order": {order}, "reason": "why not"}}' in plain.out
    assert run_cli("--root", sample_root, "audit", "--verify").code == 0
    assert run_cli("--root", sample_root, "audit", "--since", "soon").code == 2


def test_audit_since_leaves_out_older_records(sample_root: Path, run_cli: RunCli) -> None:
    log = sample_root / "analysis" / "reports" / "audit.log"
    log.parent.mkdir(parents=True)
    old = {
        "ts": "2020-01-01T00:00:00+00:00",
        "actor": "a@h",
        "action": "deploy",
        "train": TRAIN,
        "service": None,
        "detail": "x",
        "prev": "",
    }
    log.write_text(json.dumps(old) + "\n", encoding="utf-8")
    assert json.loads(run_cli("--root", sample_root, "audit", "--json").out) == [old]
    assert json.loads(run_cli("--root", sample_root, "audit", "--json", "--since", "30d").out) == []


def test_audit_on_a_terminal_is_a_table(
    sample_root: Path, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("release_trains.cli.audit_cmd.is_tty", lambda: True)
    monkeypatch.setenv("COLUMNS", "200")
    run_cli("--root", sample_root, "execute", TRAIN)
    result = run_cli("--root", sample_root, "audit")
    assert result.code == 0 and "Audit log:" in result.out and "┃ action" in result.out


def test_a_corrupt_audit_log_is_bad_input_not_a_crash(sample_root: Path, run_cli: RunCli) -> None:
    log = sample_root / "analysis" / "reports" / "audit.log"
    log.parent.mkdir(parents=True)
    log.write_text("{not json\n", encoding="utf-8")
    result = run_cli("--root", sample_root, "audit")
    assert result.code == 2 and "audit --verify" in result.err
    assert run_cli("--root", sample_root, "report", "--train", TRAIN, "--output", "-").code == 2


# --- the scripts, as cron would run them ------------------------------------------------------


def script(name: str, *args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "scripts" / name), *map(str, args)],
        capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60,
    )  # fmt: skip


def test_monitor_script_status_prints_the_snapshot(sample_root: Path) -> None:
    done = script(
        "monitor_release_progress.py",
        "--train-name",
        TRAIN,
        "--status",
        "--json",
        "--root",
        sample_root,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "planning"
    unknown = script("monitor_release_progress.py", "--train-name", "nope", "--root", sample_root)
    assert unknown.returncode == 2 and "unknown train" in unknown.stderr


def test_report_script_writes_a_service_report(sample_root: Path) -> None:
    done = script("generate_monitoring_report.py", "--service", "curve", "--root", sample_root)
    assert done.returncode == 0, done.stderr
    [path] = report_files(sample_root)
    assert path.parent.name == "curve-service" and path.suffix == ".md"
    done = script(
        "generate_monitoring_report.py", "--train", TRAIN, "--format", "html", "--root", sample_root
    )
    assert done.returncode == 0 and len(report_files(sample_root)) == 2


def test_the_watcher_waits_quietly_for_a_store_being_created(sample_root: Path) -> None:
    """A store file without tables yet (a creation killed by an older release) is no state
    yet, never an error; a store the monitor cannot read is told once, on the second poll in a
    row, and the monitor keeps polling."""
    import sqlite3

    from release_trains.catalog import load_catalog
    from release_trains.cli.context import Options
    from release_trains.cli.monitor_cmd import Reader

    db = sample_root / "analysis" / "state" / "release-trains.db"
    db.parent.mkdir(parents=True)
    sqlite3.connect(db).close()  # the file exists, its tables do not (yet)
    told: list[str] = []
    read = Reader(
        Options.build(root=str(sample_root), state=None, verbose=False),
        load_catalog(sample_root),
        TRAIN,
        warn=told.append,
    )
    for _ in range(3):
        snap = read()
        assert (snap.status, snap.run_id, told) == ("planning", None, [])

    # a store of an older release that lost its steps table: the runs read, the steps do not
    con = sqlite3.connect(db)
    con.execute(
        "CREATE TABLE runs (id INTEGER PRIMARY KEY, train TEXT, status TEXT, started_at TEXT,"
        " updated_at TEXT, finished_at TEXT, reason TEXT, actor TEXT, plan TEXT,"
        " max_parallel INTEGER, pause_requested TEXT, phase_started_at TEXT)"
    )
    con.execute(
        "INSERT INTO runs VALUES (1, ?, 'paused', 't', 't', NULL, NULL, 'a@h', '{}', 1, NULL, 't')",
        (TRAIN,),
    )
    con.commit()
    con.close()
    assert read().status == "planning" and told == []
    assert read().status == "planning" and len(told) == 1 and "no such table" in told[0]
    read()
    assert len(told) == 1  # said once
    db.unlink()
    assert read().status == "planning"  # gone again: simply not there yet
