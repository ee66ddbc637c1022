"""Schedules and freezes end to end (issue 15): the real console script against real deploy
scripts, on the real clock (a start time one minute ahead is enough for "not yet"; the
library's own clock is pinned in tests/unit/test_due_property.py)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from e2e_support import TARGET, TRAIN, Background, Project, chain, make_project, wait_for_calls
from helpers import wait_until


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _scheduled(tmp_path: Path, start: datetime, **kw: Any) -> Project:
    train = {
        "name": TRAIN,
        "target_version": TARGET,
        "participants": ["a", "b"],
        "schedule": {"start_time": _iso(start), "estimated_duration": "30m"},
    }
    return make_project(tmp_path, services=chain(["a", "b"]), trains=[train], **kw)


def _runs(project: Project) -> list[tuple[Any, ...]]:
    return project.query("SELECT id, status, reason FROM runs WHERE train = ?", (TRAIN,))


def test_a_train_scheduled_a_minute_ahead_waits_and_now_starts_it(tmp_path: Path) -> None:
    start = datetime.now(timezone.utc) + timedelta(minutes=1)
    project = _scheduled(tmp_path, start)

    plan = project.run("plan", TRAIN, "--json", "--dry-run")
    assert plan.code == 0, plan
    schedule = plan.json()["schedule"]
    assert schedule["due"] is False
    assert datetime.fromisoformat(schedule["start_time"]) == start.replace(microsecond=0)
    end = datetime.fromisoformat(schedule["estimated_end"])
    assert end - datetime.fromisoformat(schedule["start_time"]) == timedelta(minutes=30)

    early = project.run("execute", TRAIN)
    assert early.code == 3, early
    assert f"scheduled for {start.replace(microsecond=0).isoformat(timespec='milliseconds')}" in (
        early.err
    ), early.err
    assert "--now starts it early" in early.err
    assert " in 1m" in early.err or " in 5" in early.err  # 1m, or 5Xs past the minute
    assert project.calls() == [] and _runs(project) == []

    due = project.run("execute", "--due", "--json")  # not due yet: nothing starts
    assert due.code == 0, due
    assert due.json()["trains"] == []

    now = project.run("execute", TRAIN, "--now", "--json")
    assert now.code == 0, now
    assert now.json()["status"] == "completed"
    assert project.called() == [("a", TARGET), ("b", TARGET)]


def test_two_due_runs_at_once_start_the_train_once(tmp_path: Path) -> None:
    project = _scheduled(tmp_path, datetime.now(timezone.utc) - timedelta(seconds=5))
    preview = project.run("execute", "--due", "--dry-run", "--json")
    assert preview.code == 0 and preview.json()["trains"] == [{"train": TRAIN, "outcome": "due"}]
    assert not (project.root / "analysis" / "state").exists()  # a dry run writes nothing
    hold = project.hold("a")  # the first start is held mid-deploy: the two overlap for sure
    first = Background(project, "execute", "--due", "--json", name="due1")
    second = Background(project, "execute", "--due", "--json", name="due2")
    wait_for_calls(project, 1)
    # one of them deploys; the other one must finish meanwhile, without deploying anything
    wait_until(
        lambda: first.proc.poll() is not None or second.proc.poll() is not None,
        timeout_s=30,
        what="one of the two --due runs to finish",
    )
    hold.unlink()
    results = [first.wait(), second.wait()]
    assert [r.code for r in results] == [0, 0], results
    reports = [r.json()["trains"] for r in results]
    started = [t for rep in reports for t in rep if t["outcome"] == "started"]
    assert len(started) == 1 and started[0]["status"] == "completed", reports
    others = [t for rep in reports for t in rep if t["outcome"] != "started"]
    assert all(t["outcome"] == "skipped" for t in others), reports
    assert project.called() == [("a", TARGET), ("b", TARGET)]  # each service once
    assert len(_runs(project)) == 1

    again = project.run("execute", "--due", "--json")  # it ran: never due again
    assert again.code == 0 and again.json()["trains"] == [], again


def _window_at(moment: datetime, zone: str) -> str:
    local = moment.astimezone(ZoneInfo(zone))
    return f"{local.minute} {local.hour} * * *"


def test_a_recurring_freeze_window_that_covers_now_refuses_and_one_that_does_not_lets_it_go(
    tmp_path: Path,
) -> None:
    now = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    began = now - timedelta(minutes=30)
    covering = {
        "name": "daily-close",
        "cron": _window_at(began, "Europe/London"),
        "duration": "1h",
        "timezone": "Europe/London",
        "reason": "books closing",
    }
    project = make_project(
        tmp_path, services=chain(["a"]), release_trains={"freeze_windows": [covering]}
    )
    plan = project.run("plan", TRAIN, "--json", "--dry-run")
    freeze = plan.json()["freeze"]
    assert freeze["name"] == "daily-close" and freeze["reason"] == "books closing", freeze
    assert datetime.fromisoformat(freeze["until"]) == began + timedelta(hours=1)
    refused = project.run("execute", TRAIN)
    assert refused.code == 3, refused
    assert "daily-close" in refused.err and "books closing" in refused.err
    until = (began + timedelta(hours=1)).isoformat(timespec="milliseconds")
    assert f"until {until}" in refused.err, refused.err
    due = project.run("execute", "--due", "--json")
    assert due.code == 3 and due.json()["frozen"]["name"] == "daily-close", due
    assert project.calls() == []

    elsewhere = make_project(
        tmp_path,
        name="other",
        services=chain(["a"]),
        release_trains={
            "freeze_windows": [
                {**covering, "cron": _window_at(now - timedelta(hours=3), "Europe/London")}
            ]
        },
    )
    assert elsewhere.run("plan", TRAIN, "--json", "--dry-run").json()["freeze"] is None
    ran = elsewhere.run("execute", TRAIN)
    assert ran.code == 0, ran


def test_freeze_refuses_execute_pauses_a_run_and_unfreeze_lets_resume_complete(
    tmp_path: Path,
) -> None:
    project = make_project(tmp_path, services=chain(["a", "b"]))
    assert project.run("freeze", "--reason", "INC-42: payments degraded").code == 0
    refused = project.run("execute", TRAIN)
    assert refused.code == 3, refused
    assert "platform freeze (INC-42: payments degraded) until unfrozen" in refused.err
    assert _runs(project) == [] and project.calls() == []
    assert project.run("unfreeze").code == 0

    hold = project.hold("a")
    run = Background(project, "execute", TRAIN, "--json")
    wait_for_calls(project, 1, proc=run)
    frozen = project.run("freeze", "--reason", "INC-43", "--json")
    assert frozen.code == 0, frozen
    assert frozen.json()["freeze"]["name"] == "platform freeze"
    hold.unlink()  # a's deploy finishes; b must not start
    paused = run.wait()
    assert paused.code == 1, paused
    assert paused.json()["status"] == "paused"
    assert "frozen by platform freeze (INC-43)" in paused.json()["reason"]
    assert project.called() == [("a", TARGET)]

    resume = project.run("resume", TRAIN)
    assert resume.code == 3 and "INC-43" in resume.err, resume
    assert project.run("unfreeze").code == 0
    done = project.run("resume", TRAIN, "--json")
    assert done.code == 0 and done.json()["status"] == "completed", done
    assert project.called() == [("a", TARGET), ("b", TARGET)]

    # rollback is never frozen
    assert project.run("freeze", "--reason", "INC-44").code == 0
    back = project.run("rollback", TRAIN, "--reason", "undo under the freeze", "--json")
    assert back.code == 0, back
    assert project.deployed("a") == "1.0.0" and project.deployed("b") == "1.0.0"

    actions = [line for line in project.audit_lines() if '"freeze"' in line or "unfreeze" in line]
    assert [('"unfreeze"' in a) for a in actions] == [False, True, False, True, False], actions
    assert all('"actor": "' in a and "@" in a for a in actions)


def test_bad_schedule_and_windows_are_exit_2_naming_the_train_and_key(tmp_path: Path) -> None:
    train = {
        "name": "nightly",
        "target_version": TARGET,
        "participants": ["a"],
        "schedule": {"start_time": "2026-12-01T09:00:00"},
    }
    project = make_project(
        tmp_path,
        services=chain(["a"]),
        trains=[train],
        release_trains={
            "freeze_windows": [
                {"name": "w1", "cron": "0 25 * * *", "duration": "1h"},
                {
                    "name": "w2",
                    "cron": "0 18 * * FRI",
                    "duration": "2h",
                    "timezone": "Mars/Olympus",
                },
                {"name": "w3", "start": "2026-12-24T00:00:00Z", "end": "2026-12-23T00:00:00Z"},
            ]
        },
    )
    for args in (("validate",), ("plan", "nightly"), ("execute", "nightly")):
        r = project.run(*args)
        assert r.code == 2, r
        said = r.out + r.err  # validate lists them on stdout, the others on stderr
        assert "$.trains[0].schedule.start_time: train 'nightly'" in said, said
        assert "has no time zone" in said
        assert "$.release_trains.freeze_windows[0].cron" in said
        assert "$.release_trains.freeze_windows[1].timezone" in said
        assert "$.release_trains.freeze_windows[2].end" in said
        assert "Traceback" not in said
    assert not (project.root / "analysis" / "state").exists()

    fine = make_project(tmp_path, name="fine", services=chain(["a"]))
    for until, why in (("tomorrow", "not an ISO 8601"), ("2030-01-01T00:00:00", "no time zone")):
        bad = fine.run("freeze", "--reason", "x", "--until", until)
        assert bad.code == 2 and why in bad.err, bad
    assert not (fine.root / "analysis" / "state").exists()  # bad input writes nothing


def test_freeze_and_unfreeze_are_notified_on_the_webhook(tmp_path: Path) -> None:
    from notify_receivers import http_receiver

    with http_receiver() as hook:
        project = make_project(
            tmp_path,
            services=chain(["a"]),
            release_trains={
                "notifications": {
                    "channels": ["webhook"],
                    "webhook": {"url": f"{hook.url}/hook"},
                    "events": ["frozen", "unfrozen"],
                    "timeout": 5,
                    "retries": 1,
                }
            },
        )
        assert project.run("freeze", "--reason", "INC-50").code == 0
        assert project.run("unfreeze").code == 0
        # delivered before each command exited: no wait here
        assert hook.events() == ["frozen", "unfrozen"]
        bodies = [json.loads(r.body) for r in hook.requests]
    assert "INC-50" in (bodies[0].get("reason") or ""), bodies
