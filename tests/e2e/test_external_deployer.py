"""The `external` deployer: a run started by the CLI waits while a test pipeline deploys on
its own, and carries on when the pipeline reports over HTTP (PUT /api/v1/services/{service}/
status) or with `release-trains report-deploy`; a report of another version, a failed report,
or none before the timeout, fails the service."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from e2e_support import TRAIN, Background, Project, chain, make_project
from helpers import wait_until
from test_api_server import API, Server, make_tokens, serve

pytestmark = pytest.mark.slow


def external(timeout: str = "60s") -> dict[str, object]:
    return {"type": "external", "timeout": timeout, "poll_interval": 0.05}


@pytest.fixture
def project(tmp_path: Path, state: str | None) -> Project:
    """On SQLite and on PostgreSQL (the `state` fixture): the reports travel through the store."""
    return make_project(tmp_path, services=chain(["a", "b"]), deployer=external(), state=state)


@pytest.fixture
def server(project: Project) -> Iterator[Server]:
    tokens = make_tokens(project)
    s = serve(project)
    s.tokens = tokens
    yield s
    assert s.stop() == 0


def _waiting(project: Project, service: str) -> None:
    wait_until(
        lambda: project.step_status(service) == "deploying",
        timeout_s=30,
        what=f"{service} deploying (waiting for the pipeline)",
    )


def _report(server: Server, service: str, **body: object) -> httpx.Response:
    with server.client("operator") as c:
        return c.put(f"{API}/services/{service}/status", json=body)


def test_a_run_waits_for_the_pipeline_and_completes(
    project: Project, server: Server, start: Callable[..., Background]
) -> None:
    run = start(project, "execute", TRAIN, name="execute")
    for service in ("a", "b"):  # b depends on a: a first
        _waiting(project, service)
        with server.client("viewer") as c:
            status = c.get(f"{API}/services/{service}/status").json()
        assert status["status"] == "deploying"
        r = _report(server, service, status="deployed", version="2.0.0", detail="ci job 7")
        assert r.status_code == 200, r.text  # a deploy was waiting for it
        waiting = r.json()["waiting"]
        assert (waiting["train"], waiting["to_version"], waiting["matches"]) == (
            TRAIN,
            "2.0.0",
            True,
        )
        assert r.json()["reported_by"] == "token:operator-bot"
    done = run.wait()
    assert done.code == 0, done.err
    assert project.run_status()[0] == "completed"
    with server.client("viewer") as c:
        svc = c.get(f"{API}/services/a/status").json()
    assert svc["version"] == "2.0.0"  # current_version: the last `deployed` report
    assert svc["last_report"]["detail"] == "ci job 7"
    # a report with no deploy waiting is recorded and shows in the status: 202
    late = _report(server, "a", status="deployed", version="2.0.1")
    assert late.status_code == 202 and late.json()["waiting"] is None
    with server.client("viewer") as c:
        assert c.get(f"{API}/services/a/status").json()["last_report"]["version"] == "2.0.1"


def test_a_report_of_another_version_fails_the_service(
    project: Project, server: Server, start: Callable[..., Background]
) -> None:
    run = start(project, "execute", TRAIN, name="execute")
    _waiting(project, "a")
    r = _report(server, "a", status="deployed", version="3.0.0")
    assert r.status_code == 200 and r.json()["waiting"]["matches"] is False
    done = run.wait()
    assert done.code == 1, done.err
    step = project.steps()["a"]
    assert step["status"] == "failed"
    assert "reported 3.0.0 deployed, expected 2.0.0" in step["error"]
    assert project.steps()["b"]["status"] == "skipped"


def test_a_failed_report_fails_the_service(
    project: Project, server: Server, start: Callable[..., Background]
) -> None:
    run = start(project, "execute", TRAIN, name="execute")
    _waiting(project, "a")
    assert _report(server, "a", status="failed", version="2.0.0", detail="helm").status_code == 200
    assert run.wait().code == 1
    error = project.steps()["a"]["error"]
    assert "failed" in error and "helm" in error


def test_no_report_before_the_timeout_fails_the_service(tmp_path: Path) -> None:
    project = make_project(tmp_path, services=chain(["a"]), deployer=external("0.5s"))
    done = project.run("execute", TRAIN)
    assert done.code == 1, done
    error = project.steps()["a"]["error"]
    assert "no report from the pipeline of a 2.0.0 within 0.5 s" in error


def test_report_deploy_from_the_cli(project: Project, start: Callable[..., Background]) -> None:
    run = start(project, "execute", TRAIN, name="execute")
    for service in ("a", "b"):
        _waiting(project, service)
        r = project.run(
            "report-deploy", service, "--status", "deployed", "--version", "2.0.0", "--json"
        )
        assert r.code == 0, r
        assert r.json()["waiting"]["matches"] is True
        assert r.json()["service"] == service
    assert run.wait().code == 0
    idle = project.run("report-deploy", "a", "--status", "deployed", "--version", "2.0.0")
    assert idle.code == 0 and "no deploy was waiting" in idle.out
    bad = project.run("report-deploy", "nope", "--status", "deployed", "--version", "1")
    assert bad.code == 2 and "nope" in bad.err


def test_validate_and_plan_know_the_external_deployer(tmp_path: Path) -> None:
    no_timeout = make_project(
        tmp_path, services=chain(["a"]), deployer={"type": "external"}, name="none"
    )
    r = no_timeout.run("validate")
    assert r.code == 2 and "external deployer needs a timeout" in r.out, r
    too_long = make_project(tmp_path, services=chain(["a"]), deployer=external("30d"), name="long")
    r = too_long.run("plan", TRAIN)
    assert r.code == 2 and "at most 7 days" in r.err, r
    ok = make_project(tmp_path, services=chain(["a"]), deployer=external("1h"), name="ok")
    assert ok.run("validate").code == 0
    dry = ok.run("execute", TRAIN, "--dry-run", "--json")
    assert dry.code == 0, dry
    assert "wait up to 3600 s for the pipeline" in dry.out
