"""End to end: `release-trains execute` as a user runs it, in a subprocess, against real deploy
commands and real HTTP servers on 127.0.0.1.

Concurrency, signals and locks are in test_execute_concurrency.py, the kill test in
test_execute_kill.py, manual rollback in test_execute_rollback.py.

The main flows (the README's job, a chain released in order, a failed deploy retried then
resumed, a bad health check) run on both state stores (the `state` fixture); the rest are about
deployers and probes, which no store changes, and run on SQLite only.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

from e2e_support import (
    FROM,
    TARGET,
    TRAIN,
    Project,
    chain,
    make_project,
)
from helpers import Reply, process_gone, serve, wait_until, write_script

ABC = chain(["a", "b", "c"])


# --- 1. the README's main job on the sample root -------------------------------------------------


SAMPLE_TRAIN = "Q4-curve-upgrade"


def test_readme_main_job_execute_then_refuse_then_audit(
    sample_root: Path, tmp_path: Path, state: str | None
) -> None:
    sample = Project(root=sample_root, work=tmp_path, state=state)

    first = sample.run("execute", SAMPLE_TRAIN, "--json")
    assert first.code == 0, first
    doc = first.json()  # exactly one JSON document on stdout
    assert doc["train"] == SAMPLE_TRAIN
    assert doc["status"] == "completed"
    assert {s["service"] for s in doc["services"]} == {
        "curve-service",
        "backtesting-service",
        "scenario-service",
    }
    assert all(s["status"] == "released" for s in doc["services"]), doc["services"]
    curve = next(s for s in doc["services"] if s["service"] == "curve-service")
    assert (curve["from_version"], curve["to_version"]) == ("1.8.0", "2.0.0")

    again = sample.run("execute", SAMPLE_TRAIN)
    assert again.code == 3, again
    assert "completed" in again.err, again  # names the status ...
    assert "rollback" in again.err, again  # ... and what is possible now
    assert "Traceback" not in again.err
    assert sample.run_status(SAMPLE_TRAIN) == ("completed", None)  # the refusal changed nothing

    verified = sample.run("audit", "--verify")
    assert verified.code == 0, verified
    assert "chain intact" in verified.out


def _verify(project: Project) -> tuple[int, dict]:
    as_json = project.run("audit", "--verify", "--json")
    return as_json.code, as_json.json()


def test_audit_verify_detects_edited_removed_and_reordered_lines(
    sample_root: Path, tmp_path: Path
) -> None:
    sample = Project(root=sample_root, work=tmp_path)
    assert sample.run("execute", SAMPLE_TRAIN).code == 0
    original = sample.audit_log.read_text(encoding="utf-8")
    lines = original.splitlines(keepends=True)
    assert len(lines) >= 6, lines

    # An edited `detail` (one character) in the middle: that line is no record of the store.
    edited_at = 3  # 1-based line number
    record = json.loads(lines[edited_at - 1])
    detail = record["detail"]
    assert isinstance(detail, str) and detail, record
    changed = ("X" if detail[0] != "X" else "Y") + detail[1:]
    tampered = lines[edited_at - 1].replace(json.dumps(detail), json.dumps(changed), 1)
    assert tampered != lines[edited_at - 1]
    sample.audit_log.write_text(
        "".join([*lines[: edited_at - 1], tampered, *lines[edited_at:]]), encoding="utf-8"
    )
    text = sample.run("audit", "--verify")
    assert text.code == 1, text
    assert f"audit.log:{edited_at}: edited" in text.err, text  # names the edited line
    code, doc = _verify(sample)
    assert code == 1 and doc["ok"] is False and doc["bad_line"] == edited_at, doc

    # A removed middle line.
    sample.audit_log.write_text("".join(lines[:3] + lines[4:]), encoding="utf-8")
    code, doc = _verify(sample)
    assert code == 1 and doc["bad_line"] == 4, doc

    # Two lines swapped.
    swapped = [*lines[:2], lines[3], lines[2], *lines[4:]]
    sample.audit_log.write_text("".join(swapped), encoding="utf-8")
    code, doc = _verify(sample)
    assert code == 1 and doc["bad_line"] == 3, doc

    # Put back as it was: intact again (the check is about content, not about the file).
    sample.audit_log.write_text(original, encoding="utf-8")
    assert _verify(sample)[0] == 0


# --- 2. the command deployer ---------------------------------------------------------------------


def test_command_deployer_releases_a_chain_in_dependency_order(
    tmp_path: Path, state: str | None
) -> None:
    p = make_project(
        tmp_path, services={"c": ["b"], "b": ["a"], "a": []}, state=state
    )  # listed backwards on purpose

    result = p.run("execute", TRAIN, "--json")
    assert result.code == 0, result
    assert p.called() == [("a", TARGET), ("b", TARGET), ("c", TARGET)]
    doc = result.json()
    assert doc["status"] == "completed"
    assert [
        (s["service"], s["status"], s["from_version"], s["to_version"]) for s in doc["services"]
    ] == [
        ("a", "released", FROM, TARGET),
        ("b", "released", FROM, TARGET),
        ("c", "released", FROM, TARGET),
    ]
    assert {p.deployed(s) for s in "abc"} == {TARGET}
    assert p.run_status() == ("completed", None)
    assert p.run("audit", "--verify").code == 0


def test_execute_dry_run_prints_each_exact_call_and_changes_nothing(
    tmp_path: Path, tree_digest
) -> None:
    p = make_project(tmp_path, services=ABC)
    before = tree_digest(p.work)

    result = p.run("execute", TRAIN, "--dry-run")
    assert result.code == 0, result
    for service in "abc":
        call = shlex.join([str(p.deploy_script), service, TARGET])
        assert f"command: {call}" in result.out, result
    # in release order
    positions = [result.out.index(shlex.join([str(p.deploy_script), s, TARGET])) for s in "abc"]
    assert positions == sorted(positions)

    as_json = p.run("execute", TRAIN, "--dry-run", "--json")
    assert as_json.code == 0, as_json
    doc = as_json.json()
    assert doc["dry_run"] is True
    assert [(s["service"], s["call"]) for s in doc["steps"]] == [
        (s, "command: " + shlex.join([str(p.deploy_script), s, TARGET])) for s in "abc"
    ]

    assert not p.db.exists()
    assert not (p.root / "analysis").exists()
    assert not p.record.exists()
    assert tree_digest(p.work) == before


# --- 3. a deploy that fails, with retries --------------------------------------------------------


def test_failing_deploy_is_retried_then_fails_the_train_and_skips_dependents(
    tmp_path: Path, state: str | None
) -> None:
    p = make_project(tmp_path, services=ABC, deployer_extra={"retries": 1}, state=state)
    flag = p.fail("b", TARGET)

    result = p.run("execute", TRAIN, "--json")
    assert result.code == 1, result
    assert p.called() == [("a", TARGET), ("b", TARGET), ("b", TARGET)]  # 1 try + 1 retry, c never
    doc = result.json()
    assert doc["status"] == "failed"
    by = {s["service"]: s for s in doc["services"]}
    assert by["a"]["status"] == "released"
    assert by["b"]["status"] == "failed"
    assert "exit 1" in by["b"]["error"], by["b"]
    assert by["c"]["status"] == "skipped"
    assert "b" in by["c"]["error"], by["c"]
    assert p.run_status()[0] == "failed"
    assert p.integrity() == "ok"

    # A failed train may be executed again: only what is not released is deployed.
    flag.unlink()
    again = p.run("execute", TRAIN, "--json")
    assert again.code == 0, again
    assert p.called()[3:] == [("b", TARGET), ("c", TARGET)]
    assert p.run_status()[0] == "completed"
    assert p.integrity() == "ok"


def test_first_failure_skips_every_transitive_dependent(tmp_path: Path) -> None:
    p = make_project(tmp_path, services=ABC)
    p.fail("a", TARGET)
    result = p.run("execute", TRAIN, "--json")
    assert result.code == 1, result
    assert p.called() == [("a", TARGET)]
    assert {s: st["status"] for s, st in p.steps().items()} == {
        "a": "failed",
        "b": "skipped",
        "c": "skipped",
    }
    assert p.deployed("a") is None


# --- 4. a deploy that hangs ----------------------------------------------------------------------


def test_hanging_deploy_is_killed_at_the_timeout_with_its_children(tmp_path: Path) -> None:
    pids = tmp_path / "hang.pids"
    hang = write_script(
        tmp_path / "hang",
        f"echo $$ >> {shlex.quote(str(pids))}\n"
        "sleep 60 &\n"
        f"echo $! >> {shlex.quote(str(pids))}\n"
        "wait\n",
    )
    p = make_project(
        tmp_path,
        services=chain(["a", "b"]),
        deployer_extra={"timeout": 1, "deploy": [str(hang), "{service}", "{version}"]},
    )

    result = p.run("execute", TRAIN, "--json", timeout_s=30)  # 60 s of sleep would fail this
    assert result.code == 1, result
    doc = result.json()
    assert doc["status"] == "failed"
    by = {s["service"]: s for s in doc["services"]}
    assert by["a"]["status"] == "failed"
    assert "timed out after 1 s" in by["a"]["error"], by["a"]
    assert by["b"]["status"] == "skipped"
    started = [int(x) for x in pids.read_text().split()]
    assert len(started) == 2, started  # the script and its `sleep`
    wait_until(
        lambda: all(process_gone(pid) for pid in started),
        timeout_s=5,
        what="the deploy's processes gone",
    )


# --- 5. http health probes -----------------------------------------------------------------------


def _health(url: str) -> dict:
    return {
        "type": "http",
        "url": url + "/health/{service}",
        "retries": 3,
        "interval": 0.05,
        "timeout": 2,
    }


def test_health_probe_that_recovers_within_its_retries_releases(tmp_path: Path) -> None:
    with serve() as server:
        server.script("/health/a", Reply(500), Reply(503), Reply(200, {"ok": True}))
        server.script("/health/b", Reply(200, {"ok": True}))
        p = make_project(tmp_path, services=chain(["a", "b"]), health=_health(server.url))

        result = p.run("execute", TRAIN, "--json")
        assert result.code == 0, result
        doc = result.json()
        assert doc["status"] == "completed"
        assert [(s["service"], s["status"], s["health"]) for s in doc["services"]] == [
            ("a", "released", "healthy"),
            ("b", "released", "healthy"),
        ]
        a_probes = [r for r in server.requests if r.path == "/health/a"]
        assert len(a_probes) >= 3, server.requests
        assert all(r.method == "GET" for r in server.requests)
    assert p.called() == [("a", TARGET), ("b", TARGET)]


def test_service_whose_health_stays_bad_fails_the_train_and_skips_dependents(
    tmp_path: Path, state: str | None
) -> None:
    with serve() as server:
        server.script("/health/a", Reply(200))
        server.script("/health/b", Reply(503, "starting"))
        server.script("/health/c", Reply(200))
        p = make_project(tmp_path, services=ABC, health=_health(server.url), state=state)

        result = p.run("execute", TRAIN, "--json")
        assert result.code == 1, result
        doc = result.json()
        assert doc["status"] == "failed"
        by = {s["service"]: s for s in doc["services"]}
        assert (by["a"]["status"], by["a"]["health"]) == ("released", "healthy")
        assert (by["b"]["status"], by["b"]["health"]) == ("failed", "unhealthy")
        assert "503" in by["b"]["error"], by["b"]
        assert by["c"]["status"] == "skipped"
        assert len([r for r in server.requests if r.path == "/health/b"]) == 4  # 1 + 3 retries
        assert not [r for r in server.requests if r.path == "/health/c"]
    assert p.called() == [("a", TARGET), ("b", TARGET)]  # c is never deployed
    assert p.run_status()[0] == "failed"


# --- 6. the http deployer ------------------------------------------------------------------------


def _http_deployer(url: str) -> dict:
    return {"type": "http", "url": url + "/deploy/{service}", "timeout": 5, "retries": 0}


def test_http_deployer_posts_each_release_in_dependency_order(tmp_path: Path) -> None:
    with serve() as server:
        server.script("*", Reply(200, {"status": "accepted"}))
        p = make_project(
            tmp_path,
            services={"c": ["b"], "b": ["a"], "a": []},
            deployer=_http_deployer(server.url),
        )

        result = p.run("execute", TRAIN, "--json")
        assert result.code == 0, result
        posts = [r for r in server.requests if r.method == "POST"]
        assert [r.path for r in posts] == ["/deploy/a", "/deploy/b", "/deploy/c"]
        for seen, service in zip(posts, "abc", strict=True):
            body = seen.json()
            assert body["action"] == "deploy"
            assert (body["service"], body["version"], body["previous_version"]) == (
                service,
                TARGET,
                FROM,
            )
            assert (body["train"], body["environment"]) == (TRAIN, "test")
            assert seen.headers["content-type"].startswith("application/json")
    assert result.json()["status"] == "completed"


def test_http_deployer_500_fails_the_service(tmp_path: Path) -> None:
    with serve() as server:
        server.script("/deploy/a", Reply(200))
        server.script("/deploy/b", Reply(500, {"error": "boom"}))
        server.script("/deploy/c", Reply(200))
        p = make_project(tmp_path, services=ABC, deployer=_http_deployer(server.url))

        result = p.run("execute", TRAIN, "--json")
        assert result.code == 1, result
        assert [r.path for r in server.requests if r.method == "POST"] == ["/deploy/a", "/deploy/b"]
        by = {s["service"]: s for s in result.json()["services"]}
        assert by["a"]["status"] == "released"
        assert by["b"]["status"] == "failed"
        assert "500" in by["b"]["error"], by["b"]
        assert by["c"]["status"] == "skipped"
    assert p.run_status()[0] == "failed"
