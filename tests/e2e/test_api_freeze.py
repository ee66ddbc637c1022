"""The freeze endpoints and the schedule/freeze refusals of the API's start, against a real
`release-trains serve` on 127.0.0.1 (issue 15)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from e2e_support import TARGET, TRAIN, chain, make_project
from helpers import wait_until
from test_api_server import API, make_tokens, serve

DEADLINE_S = 60.0


def _z(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def test_freeze_endpoints_roles_audit_and_refused_starts(tmp_path: Path) -> None:
    now = datetime.now(timezone.utc)
    window = {
        "name": "year-end",
        "start": _z(now + timedelta(days=30)),
        "end": _z(now + timedelta(days=31)),
        "reason": "year-end close",
    }
    project = make_project(
        tmp_path, services=chain(["a"]), release_trains={"freeze_windows": [window]}
    )
    tokens = make_tokens(project)
    server = serve(project, "--workers", "0")
    server.tokens = tokens
    try:
        with (
            server.client("viewer") as viewer,
            server.client("operator") as ops,
            server.client("admin") as admin,
        ):
            r = viewer.get(f"{API}/freeze")
            assert r.status_code == 200 and r.json() is None, r.text

            for c in (viewer, ops):  # only an admin stops the line
                assert c.post(f"{API}/freeze", json={"reason": "x"}).status_code == 403
                assert c.delete(f"{API}/freeze").status_code == 403
            assert server.client(None).get(f"{API}/freeze").status_code == 401

            bad = admin.post(f"{API}/freeze", json={"reason": "x", "until": "2000-01-01T00:00Z"})
            assert bad.status_code == 400, bad.text
            assert bad.headers["content-type"].startswith("application/problem+json")
            assert "already passed" in bad.json()["detail"]
            assert admin.post(f"{API}/freeze", json={"reason": "  "}).status_code == 422

            until = _z(now + timedelta(hours=2))
            r = admin.post(f"{API}/freeze", json={"reason": "INC-7", "until": until})
            assert r.status_code == 201, r.text
            assert r.json()["freeze"]["reason"] == "INC-7"
            got = viewer.get(f"{API}/freeze").json()
            assert got["name"] == "platform freeze" and got["source"] == "platform"
            assert datetime.fromisoformat(got["until"]) == datetime.fromisoformat(
                until.replace("Z", "+00:00")
            )
            assert got["actor"] == "token:admin-bot"

            refused = ops.post(f"{API}/release-trains/{TRAIN}/execute", json={})
            assert refused.status_code == 409, refused.text
            problem = refused.json()
            assert problem["exit_code"] == 3 and "INC-7" in problem["detail"]
            assert "platform freeze" in problem["detail"] and until[:16] in problem["detail"]
            put = ops.put(f"{API}/release-trains/{TRAIN}", json={"status": "executing"})
            assert put.status_code == 409 and "INC-7" in put.json()["detail"], put.text
            plan = viewer.get(f"{API}/release-trains/{TRAIN}/plan").json()
            assert plan["freeze"]["reason"] == "INC-7"
            status = viewer.get(f"{API}/release-trains/{TRAIN}/status").json()
            assert status["freeze"] == plan["freeze"] == got  # one library function says it

            r = admin.delete(f"{API}/freeze")
            assert r.status_code == 200 and r.json()["frozen"] is False, r.text
            assert viewer.get(f"{API}/freeze").json() is None
            assert viewer.get(f"{API}/release-trains/{TRAIN}/status").json()["freeze"] is None
            again = admin.delete(f"{API}/freeze")
            assert again.status_code == 409 and "nothing to unfreeze" in again.json()["detail"]

            audit = viewer.get(f"{API}/audit").json()
            mine = [
                (a["action"], a["actor"]) for a in audit if a["action"] in ("freeze", "unfreeze")
            ]
            assert mine == [("freeze", "token:admin-bot"), ("unfreeze", "token:admin-bot")]
    finally:
        assert server.stop() == 0


def test_a_config_window_in_force_is_shown_and_refuses_the_start(tmp_path: Path) -> None:
    now = datetime.now(timezone.utc)
    window = {
        "name": "change-freeze",
        "cron": "* * * * *",  # fires every minute for an hour: in force whenever asked
        "duration": "1h",
        "reason": "quarter end",
    }
    project = make_project(
        tmp_path, services=chain(["a"]), release_trains={"freeze_windows": [window]}
    )
    server = serve(project, "--workers", "0")
    server.tokens = make_tokens(project)
    try:
        with server.client("operator") as ops:
            got = ops.get(f"{API}/freeze").json()
            assert got["name"] == "change-freeze" and got["source"] == "window", got
            assert got["until"] is None  # a window firing every minute never ends
            r = ops.post(f"{API}/release-trains/{TRAIN}/execute", json={})
            assert r.status_code == 409 and "change-freeze" in r.json()["detail"], r.text
        with server.client("admin") as admin:
            r = admin.delete(f"{API}/freeze")  # a config window is not lifted by the API
            assert r.status_code == 409 and "change-freeze" in r.json()["detail"], r.text
    finally:
        assert server.stop() == 0
    del now


def test_a_train_scheduled_later_is_refused_409_unless_now(tmp_path: Path) -> None:
    later = datetime.now(timezone.utc) + timedelta(hours=2, minutes=10)
    train = {
        "name": TRAIN,
        "target_version": TARGET,
        "participants": ["a"],
        "schedule": {"start_time": _z(later)},
    }
    project = make_project(tmp_path, services=chain(["a"]), trains=[train])
    server = serve(project)  # one in-process worker
    server.tokens = make_tokens(project)
    try:
        with server.client("operator") as ops:
            r = ops.post(f"{API}/release-trains/{TRAIN}/execute", json={})
            assert r.status_code == 409, r.text
            assert "scheduled for" in r.json()["detail"] and "in 2h" in r.json()["detail"]
            put = ops.put(f"{API}/release-trains/{TRAIN}", json={"status": "executing"})
            assert put.status_code == 409, put.text
            r = ops.put(f"{API}/release-trains/{TRAIN}", json={"status": "executing", "now": True})
            assert r.status_code == 202, r.text
            job = r.json()["job_id"]

            def done() -> bool:
                got = ops.get(f"{API}/jobs/{job}").json()
                return got["status"] in ("done", "failed")

            wait_until(done, timeout_s=DEADLINE_S, what="the early start's job to end")
            got = ops.get(f"{API}/jobs/{job}").json()
            assert got["status"] == "done" and got["outcome"]["status"] == "completed", got
        assert project.called() == [("a", TARGET)]
    finally:
        assert server.stop() == 0


def test_the_servers_worker_starts_a_due_train_by_itself(tmp_path: Path) -> None:
    train = {
        "name": TRAIN,
        "target_version": TARGET,
        "participants": ["a", "b"],
        "schedule": {"start_time": _z(datetime.now(timezone.utc) - timedelta(minutes=1))},
    }
    project = make_project(tmp_path, services=chain(["a", "b"]), trains=[train])
    server = serve(project)
    server.tokens = make_tokens(project)
    try:
        with server.client("viewer") as viewer:

            def completed() -> bool:
                r = viewer.get(f"{API}/release-trains/{TRAIN}/status")
                return r.status_code == 200 and r.json()["status"] == "completed"

            wait_until(completed, timeout_s=DEADLINE_S, what="the due train to complete")
        assert project.called() == [("a", TARGET), ("b", TARGET)]
        assert len(project.query("SELECT id FROM runs")) == 1
    finally:
        assert server.stop() == 0
