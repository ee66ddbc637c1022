"""Work started through the API is queued and carried out by workers: the full story over
HTTP against a real `release-trains serve` (execute, watch, roll back, audit, the CLI
agreeing), SIGTERM pausing an in-process worker's run, and two workers (one in `serve`, one
standalone `release-trains worker`) sharing a PostgreSQL store, one of them SIGKILLed mid-run."""

from __future__ import annotations

import signal
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from e2e_support import TARGET, TRAIN, Background, Project, chain, make_project
from helpers import wait_until
from test_api_server import Server, serve

pytestmark = pytest.mark.slow

API = "/api/v1"
DEADLINE_S = 60.0


def token(project: Project, name: str, role: str) -> str:
    r = project.run("token", "create", name, "--role", role, "--json")
    assert r.code == 0, r
    secret: str = r.json()["token"]
    return secret


def client(server: Server, secret: str) -> httpx.Client:
    return httpx.Client(
        base_url=server.base, headers={"Authorization": f"Bearer {secret}"}, timeout=30
    )


def poll(c: httpx.Client, path: str, done: Any, *, what: str) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    def check() -> bool:
        r = c.get(path)
        assert r.status_code in (200, 404), r.text
        seen.clear()
        seen.update(r.json() if r.status_code == 200 else {})
        return r.status_code == 200 and bool(done(seen))

    wait_until(check, timeout_s=DEADLINE_S, what=what)
    return seen


def test_the_full_story_over_http(tmp_path: Path) -> None:
    project = make_project(tmp_path, services=chain(["a", "b"]))
    ops = token(project, "ops-bot", "operator")
    server = serve(project)  # --workers 1, the default
    try:
        with client(server, ops) as c:
            r = c.post(f"{API}/release-trains/{TRAIN}/execute", json={})
            assert r.status_code == 202, r.text
            queued = r.json()
            assert queued["train"] == TRAIN and queued["kind"] == "execute"
            assert queued["run_id"] is None  # the worker creates the run
            assert r.headers["location"] == f"/api/v1/jobs/{queued['job_id']}"

            status = poll(
                c,
                f"{API}/release-trains/{TRAIN}/status",
                lambda d: d.get("status") == "completed",
                what="the train completed",
            )
            job = poll(
                c, f"{API}/jobs/{queued['job_id']}", lambda d: d["status"] == "done", what="job"
            )
            assert job["requested_by"] == "token:ops-bot"
            assert job["outcome"]["status"] == "completed"
            assert job["run_id"] == status["run_id"]
            assert project.called() == [("a", TARGET), ("b", TARGET)]

            # refused at once, with the CLI's answer: the train is completed
            again = c.post(f"{API}/release-trains/{TRAIN}/execute", json={})
            assert again.status_code == 409, again.text
            assert "completed" in again.json()["detail"]
            resume = c.post(f"{API}/release-trains/{TRAIN}/resume", json={})
            assert resume.status_code == 409, resume.text
            unknown = c.post(f"{API}/release-trains/nope/execute", json={})
            assert unknown.status_code == 404, unknown.text

            r = c.post(f"{API}/release-trains/{TRAIN}/rollback", json={"reason": "error rate up"})
            assert r.status_code == 202, r.text
            assert r.json()["run_id"] == status["run_id"]
            back = poll(
                c,
                f"{API}/release-trains/{TRAIN}/rollback/status",
                lambda d: d.get("status") == "rolled_back",
                what="the rollback finished",
            )
            assert back["reason"] == "error rate up"
            assert {s["service"] for s in back["services"]} == {"a", "b"}

            audit = c.get(f"{API}/audit", params={"train": TRAIN}).json()
            records = audit["records"] if isinstance(audit, dict) else audit
            actors = {(rec["action"], rec["actor"]) for rec in records}
            assert any(a == "token:ops-bot" for _, a in actors), actors
            assert any("rollback" in act and a == "token:ops-bot" for act, a in actors), actors

            api_status = c.get(f"{API}/release-trains/{TRAIN}/status").json()
        cli = project.run("status", TRAIN, "--json")
        assert cli.code == 1, cli  # status exits 1 for a train that is not completed
        cli_status = cli.json()
        for key in ("train", "status", "run_id", "progress", "reason"):
            assert cli_status.get(key) == api_status.get(key), key
        assert cli_status["status"] == "rolled_back"
    finally:
        assert server.stop() == 0


def test_sigterm_pauses_the_run_of_an_in_process_worker(tmp_path: Path) -> None:
    project = make_project(tmp_path, services=chain(["a", "b"]))
    ops = token(project, "ops-bot", "operator")
    server = serve(project, "--workers", "1")
    held = project.hold("a")  # a is released first; hold its deploy
    try:
        with client(server, ops) as c:
            r = c.put(f"{API}/release-trains/{TRAIN}", json={"status": "executing"})
            assert r.status_code == 202, r.text
            wait_until(lambda: ("a", TARGET) in project.called(), timeout_s=DEADLINE_S, what="a")
        server.proc.send_signal(signal.SIGTERM)
        held.unlink()  # the deploy in hand finishes; the run stops before the next service
        assert server.proc.wait(timeout=DEADLINE_S) == 0
    finally:
        if server.proc.poll() is None:
            server.proc.kill()
    assert project.run_status() is not None and project.run_status()[0] == "paused"  # type: ignore[index]
    assert project.called() == [("a", TARGET)]
    # resumed through the API (PUT executing on a paused train resumes it)
    server = serve(project)
    try:
        with client(server, ops) as c:
            r = c.put(f"{API}/release-trains/{TRAIN}", json={"status": "executing"})
            assert r.status_code == 202, r.text
            assert r.json()["kind"] == "resume"
            poll(
                c,
                f"{API}/release-trains/{TRAIN}/status",
                lambda d: d.get("status") == "completed",
                what="the resumed train completed",
            )
    finally:
        assert server.stop() == 0
    assert project.called() == [("a", TARGET), ("b", TARGET)]


def test_a_rollback_queued_while_the_train_runs_stops_it_first(tmp_path: Path) -> None:
    """With one worker, busy with the run itself: the run pauses before its next service
    (b is never released), then the same worker rolls a back."""
    project = make_project(tmp_path, services=chain(["a", "b"]))
    ops = token(project, "ops-bot", "operator")
    server = serve(project)
    held = project.hold("a")
    try:
        with client(server, ops) as c:
            r = c.post(f"{API}/release-trains/{TRAIN}/execute", json={})
            assert r.status_code == 202, r.text
            wait_until(lambda: ("a", TARGET) in project.called(), timeout_s=DEADLINE_S, what="a")
            r = c.post(f"{API}/release-trains/{TRAIN}/rollback", json={"reason": "abort"})
            assert r.status_code == 202, r.text
            held.unlink()
            poll(
                c,
                f"{API}/release-trains/{TRAIN}/rollback/status",
                lambda d: d.get("status") == "rolled_back",
                what="the rollback finished",
            )
    finally:
        assert server.stop() == 0
    assert ("b", TARGET) not in project.called()
    assert project.deployed("a") == "1.0.0"


def test_two_workers_share_a_postgres_store_and_survive_a_sigkill(
    tmp_path: Path, postgres_db_url: str
) -> None:
    services = {"a1": [], "a2": ["a1"], "b1": [], "b2": ["b1"], "c1": [], "c2": ["c1"]}
    trains = [
        {"name": name, "target_version": TARGET, "participants": [f"{p}1", f"{p}2"]}
        for name, p in (("T1", "a"), ("T2", "b"), ("T3", "c"))
    ]
    project = make_project(tmp_path, services=services, trains=trains, state=postgres_db_url)
    ops = token(project, "ops-bot", "operator")
    held = project.hold("a1")  # T1's first deploy waits: the test kills its worker meanwhile
    server = serve(project, "--workers", "1")
    standalone = Background(project, "worker", name="worker")
    try:
        with client(server, ops) as c:
            jobs = {}
            for name in ("T1", "T2", "T3"):
                r = c.post(f"{API}/release-trains/{name}/execute", json={})
                assert r.status_code == 202, r.text
                jobs[name] = r.json()["job_id"]
            wait_until(
                lambda: ("a1", TARGET) in project.called(), timeout_s=DEADLINE_S, what="a1 held"
            )
            t1 = c.get(f"{API}/jobs/{jobs['T1']}").json()
            assert t1["status"] == "running"
            pids = {standalone.pid: "standalone", server.proc.pid: "serve"}
            assert {pids.get(pid) for pid in _job_pids(project, jobs["T1"])} <= set(pids.values())
        killed = pids[_job_pids(project, jobs["T1"])[0]]
        if killed == "standalone":
            standalone.kill()
        else:
            server.proc.kill()
            server.proc.wait(timeout=10)
        held.unlink()

        def all_completed() -> bool:
            r = project.run("status", "--json")
            assert r.code == 0, r
            rows = {row["train"]: row["status"] for row in r.json()["trains"]}
            return all(rows.get(t) == "completed" for t in ("T1", "T2", "T3"))

        wait_until(all_completed, timeout_s=DEADLINE_S * 2, what="all three trains completed")
        # every service released once, whichever worker did it
        counts = Counter(project.called())
        assert set(counts) == {(s, TARGET) for s in services}
        assert all(n == 1 for n in counts.values()), counts
        runs = project.query("SELECT train, COUNT(*) FROM runs GROUP BY train ORDER BY train")
        assert [tuple(r) for r in runs] == [("T1", 1), ("T2", 1), ("T3", 1)]
        rows = project.query("SELECT train, status, attempts FROM jobs ORDER BY id")
        assert [(r[0], r[1]) for r in rows] == [("T1", "done"), ("T2", "done"), ("T3", "done")]
        assert rows[0][2] == 2  # T1's job was taken again after its worker died
        survivor = next(pid for pid, who in pids.items() if who != killed)
        assert _job_pids(project, jobs["T1"]) == [survivor]
    finally:
        standalone.kill()
        if server.proc.poll() is None:
            server.stop()


def _job_pids(project: Project, job_id: int) -> list[int]:
    return [int(r[0]) for r in project.query("SELECT worker_pid FROM jobs WHERE id = ?", (job_id,))]
