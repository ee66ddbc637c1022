from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from helpers import (
    FakeEnvironment,
    Reply,
    ScriptedServer,
    closed_port,
    process_gone,
    recording_script,
    serve,
    wait_until,
    write_script,
)

from release_trains.deployers import DeployRequest, build_deployer
from release_trains.deployers.base import Deployer, Retry
from release_trains.deployers.command import CommandDeployer
from release_trains.errors import InputError

REQ = DeployRequest("curve-service", "2.0.0", "1.8.0", "Q4-curve-upgrade", "staging")
# A rollback request: back to 1.8.0, leaving 2.0.0.
BACK = DeployRequest("curve-service", "1.8.0", "2.0.0", "Q4-curve-upgrade", "staging")
# Rolling back a first install, as rollback.py asks: nothing to return to, 2.0.0 being left.
FIRST = DeployRequest("curve-service", "", "2.0.0", "Q4-curve-upgrade", "staging")
# The same undeploy, naming the removed version in `version`: read the same way.
FIRST_ALT = DeployRequest("curve-service", "2.0.0", None, "Q4-curve-upgrade", "staging")


class Logs(list[str]):
    def __call__(self, line: str) -> None:
        self.append(line)


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def deployer(settings: dict[str, Any], logs: Logs | None = None, **kw: Any) -> Deployer:
    return build_deployer(
        settings,
        store=FakeEnvironment(),
        environment="staging",
        log=logs if logs is not None else Logs(),
        **kw,
    )


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with serve() as s:
        yield s


# --- local -------------------------------------------------------------------------------


def test_local_deployer_changes_versions_in_the_store() -> None:
    env, logs = FakeEnvironment(), Logs()
    env.set_deployed_version("staging", "curve-service", "1.8.0")
    d = build_deployer({}, store=env, environment="staging", log=logs)
    assert d.kind == "local"
    assert d.current_version("curve-service") == "1.8.0"

    result = d.deploy(REQ)
    assert result.ok and result.attempts == 1
    assert env.deployed_version("staging", "curve-service") == "2.0.0"
    assert result.detail == (
        "local deployer (deploys nothing): record curve-service 2.0.0 in the state store"
        " (was 1.8.0, environment staging)"
    )
    assert logs == [f"curve-service: {result.detail}"]

    assert d.rollback(BACK).ok
    assert d.current_version("curve-service") == "1.8.0"

    undone = d.undeploy(FIRST)
    assert undone is not None and undone.ok
    assert d.current_version("curve-service") is None
    assert "remove curve-service from the state store (was 1.8.0," in undone.detail  # the store's
    assert d.can_undeploy()
    check = d.check(REQ)
    assert check is not None and check.ok and "nothing to fetch" in check.detail


def test_local_deployer_describes_without_touching_the_store() -> None:
    env = FakeEnvironment()
    d = build_deployer({"type": "local"}, store=env, environment="local", log=Logs())
    req = DeployRequest("curve-service", "2.0.0", "1.8.0", "t", "local")
    # Every text says that nothing is deployed: on a real catalog "set curve-service 0.1.0 ->
    # 2.0.0 in environment production" read as a deploy to production.
    assert d.describe("deploy", req) == (
        "local deployer (deploys nothing): record curve-service 2.0.0 in the state store"
        " (was 1.8.0, environment local)"
    )
    assert "record curve-service 1.8.0 in the state store (was 2.0.0," in d.describe(
        "rollback", BACK
    )
    assert "remove curve-service from the state store (was 2.0.0," in d.describe("undeploy", FIRST)
    for action in ("deploy", "rollback", "undeploy", "check", "current_version"):
        assert "deploys nothing" in d.describe(action, req), action
    assert env.versions == {}


def test_unknown_deployer_type_is_input_error() -> None:
    with pytest.raises(InputError, match="ftp"):
        deployer({"type": "ftp"})


# --- command -----------------------------------------------------------------------------


def test_command_deploy_runs_the_script_with_the_templated_argv(tmp_path: Path) -> None:
    rec = recording_script(tmp_path)
    logs = Logs()
    d = deployer({"type": "command", "deploy": [str(rec.script), "{service}", "{version}"]}, logs)
    result = d.deploy(REQ)
    assert result.ok, result.detail
    assert result.attempts == 1
    assert rec.lines() == ["curve-service 2.0.0"]
    assert "curve-service: deploy curve-service 2.0.0" in logs  # each output line, prefixed
    assert result.detail == f"command: {rec.script} curve-service 2.0.0 -> exit 0"
    assert d.describe("deploy", REQ) == f"command: {rec.script} curve-service 2.0.0"


def test_every_template_field_is_substituted(tmp_path: Path) -> None:
    rec = recording_script(tmp_path)
    argv = [
        str(rec.script),
        "{service}",
        "v={version}",
        "{previous_version}",
        "{train}",
        "--env={environment}",
        "{literal text}",
    ]
    assert deployer({"type": "command", "deploy": argv}).deploy(REQ).ok
    assert rec.lines() == [
        "curve-service v=2.0.0 1.8.0 Q4-curve-upgrade --env=staging {literal text}"
    ]


def test_default_rollback_deploys_the_previous_version(tmp_path: Path) -> None:
    rec = recording_script(tmp_path)
    d = deployer({"type": "command", "deploy": [str(rec.script), "{service}", "{version}"]})
    result = d.rollback(BACK)
    assert result.ok
    assert rec.lines() == ["curve-service 1.8.0"]


def test_rollback_template_previous_version_is_the_version_to_return_to(tmp_path: Path) -> None:
    # The CONTRACT's example: rollback: ["./bin/deploy", "{service}", "{previous_version}"].
    rec = recording_script(tmp_path)
    settings = {
        "type": "command",
        "deploy": [str(rec.script), "{service}", "{version}"],
        "rollback": [str(rec.script), "{service}", "{previous_version}", "from", "{version}"],
    }
    assert deployer(settings).rollback(BACK).ok
    assert rec.lines() == ["curve-service 1.8.0 from 2.0.0"]


def test_relative_executable_resolves_against_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rec = recording_script(tmp_path / "bin")
    monkeypatch.chdir(tmp_path)
    d = deployer({"type": "command", "deploy": ["./bin/deploy", "{service}", "{version}"]})
    assert d.deploy(REQ).ok
    assert rec.lines() == ["curve-service 2.0.0"]


def test_failing_script_is_retried_with_backoff_then_fails(tmp_path: Path) -> None:
    rec = recording_script(tmp_path, exit_code=1, output="registry unreachable")
    sleeps, logs = Sleeps(), Logs()
    settings = {
        "type": "command",
        "deploy": [str(rec.script), "{service}", "{version}"],
        "retries": 2,
        "backoff": 0.5,
    }
    result = deployer(settings, logs, sleep=sleeps).deploy(REQ)
    assert not result.ok
    assert result.attempts == 3
    assert rec.lines() == ["curve-service 2.0.0"] * 3  # the record file counts the attempts
    assert sleeps == [0.5, 1.0]  # doubling
    assert "exit 1: registry unreachable" in result.detail
    assert sum("retrying in" in line for line in logs) == 2


def test_backoff_doubles_and_is_capped_at_30_seconds() -> None:
    retry = Retry(retries=8, backoff_s=4)
    assert [retry.delay(n) for n in range(1, 7)] == [4, 8, 16, 30, 30, 30]


def test_missing_executable_is_a_failure_not_an_exception(tmp_path: Path) -> None:
    sleeps = Sleeps()
    d = deployer(
        {"type": "command", "deploy": [str(tmp_path / "nope"), "{service}"], "retries": 3},
        sleep=sleeps,
    )
    result = d.deploy(REQ)
    assert not result.ok
    assert "executable not found" in result.detail and "nope" in result.detail
    assert result.attempts == 1 and sleeps == []  # a missing file does not appear by retrying


@pytest.mark.slow
def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    child_pid = tmp_path / "child.pid"
    script = write_script(
        tmp_path / "stubborn",
        f"trap '' TERM\nsleep 60 &\necho $! > {child_pid}\necho started\nwait\n",
    )
    logs = Logs()
    d = deployer({"type": "command", "deploy": [str(script), "{service}"], "timeout": 1}, logs)
    started = time.monotonic()
    result = d.deploy(REQ)
    elapsed = time.monotonic() - started
    assert not result.ok
    assert "timed out after 1 s (process group killed)" in result.detail
    assert elapsed < 1 + 5 + 5  # timeout + grace + margin: it did not wait for `sleep 60`
    assert "curve-service: started" in logs
    pid = int(child_pid.read_text())
    wait_until(lambda: process_gone(pid), timeout_s=5, what=f"child {pid} gone")


def test_shell_metacharacters_in_a_version_are_refused(tmp_path: Path) -> None:
    rec = recording_script(tmp_path)
    pwned = tmp_path / "pwned"
    d = deployer({"type": "command", "deploy": [str(rec.script), "{service}", "{version}"]})
    evil = DeployRequest("curve-service", f"1.0; touch {pwned}", None, "t", "staging")
    with pytest.raises(InputError, match="refusing version"):
        d.deploy(evil)
    with pytest.raises(InputError):
        d.describe("deploy", evil)
    assert not pwned.exists()
    assert rec.lines() == []  # nothing ran at all


def test_unknown_template_field_is_input_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"\{servce\}"):
        deployer({"type": "command", "deploy": ["./bin/deploy", "{servce}", "{version}"]})


def test_a_template_that_needs_a_missing_previous_version_is_refused(tmp_path: Path) -> None:
    rec = recording_script(tmp_path)
    d = deployer({"type": "command", "deploy": [str(rec.script), "{previous_version}"]})
    first_install = DeployRequest("curve-service", "2.0.0", None, "t", "staging")
    with pytest.raises(InputError, match="no previous version"):
        d.deploy(first_install)
    assert rec.lines() == []


def test_command_deployer_needs_a_deploy_template() -> None:
    with pytest.raises(InputError, match="deploy"):
        deployer({"type": "command"})


def test_optional_commands_absent_mean_none(tmp_path: Path) -> None:
    rec = recording_script(tmp_path)
    d = deployer({"type": "command", "deploy": [str(rec.script)]})
    assert d.undeploy(FIRST) is None
    assert not d.can_undeploy()
    assert d.check(REQ) is None
    assert d.current_version("curve-service") is None
    assert d.describe("undeploy", REQ) == "command: none configured for undeploy"


def test_undeploy_and_check_commands_run(tmp_path: Path) -> None:
    rec = recording_script(tmp_path)
    d = deployer(
        {
            "type": "command",
            "deploy": [str(rec.script), "deploy", "{service}"],
            "undeploy": [str(rec.script), "undeploy", "{service}", "{version}"],
            "check": [str(rec.script), "check", "{service}", "{version}"],
        }
    )
    assert d.can_undeploy()
    undone, again, checked = d.undeploy(FIRST), d.undeploy(FIRST_ALT), d.check(REQ)
    assert undone is not None and undone.ok
    assert again is not None and again.ok
    assert checked is not None and checked.ok
    assert rec.lines() == [
        "undeploy curve-service 2.0.0",
        "undeploy curve-service 2.0.0",
        "check curve-service 2.0.0",
    ]


def test_undeploy_template_has_no_previous_version(tmp_path: Path) -> None:
    rec = recording_script(tmp_path)
    d = deployer(
        {"type": "command", "deploy": ["true"], "undeploy": [str(rec.script), "{previous_version}"]}
    )
    with pytest.raises(InputError, match="no previous version"):
        d.undeploy(FIRST)
    assert rec.lines() == []


def test_current_version_reads_the_stripped_output(tmp_path: Path) -> None:
    script = write_script(tmp_path / "current", 'test "$1" = curve-service && echo "  1.8.0 "\n')
    d = deployer(
        {
            "type": "command",
            "deploy": ["true"],
            "current_version": [str(script), "{service}", "{environment}"],
        }
    )
    assert d.current_version("curve-service") == "1.8.0"


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ("exit 3\n", "exit 3"),
        ("true\n", "printed nothing"),
        ("echo 'warning: x'; echo 1.8.0\n", "not one version"),
    ],
)
def test_current_version_unknown_is_none_with_the_reason_logged(
    tmp_path: Path, body: str, why: str
) -> None:
    script = write_script(tmp_path / "current", body)
    logs = Logs()
    d = deployer({"type": "command", "deploy": ["true"], "current_version": [str(script)]}, logs)
    assert d.current_version("curve-service") is None
    assert any("current version unknown" in line and why in line for line in logs), logs


def test_current_version_template_cannot_use_release_fields() -> None:
    with pytest.raises(InputError, match="current_version"):
        deployer({"type": "command", "deploy": ["true"], "current_version": ["x", "{version}"]})


def test_output_is_logged_line_by_line_for_a_chatty_script(tmp_path: Path) -> None:
    script = write_script(tmp_path / "chatty", "for i in 1 2 3; do echo line $i >&2; done\n")
    logs = Logs()
    d = CommandDeployer.from_settings({"deploy": [str(script)]}, environment="staging", log=logs)
    assert d.deploy(REQ).ok
    assert [x for x in logs if "line" in x] == [f"curve-service: line {i}" for i in (1, 2, 3)]


def test_a_daemon_holding_the_pipe_does_not_block_the_deploy(tmp_path: Path) -> None:
    pid_file = tmp_path / "daemon.pid"
    script = write_script(tmp_path / "starts-daemon", f"sleep 30 &\necho $! > {pid_file}\n")
    started = time.monotonic()
    result = deployer({"type": "command", "deploy": [str(script)], "timeout": 20}).deploy(REQ)
    try:
        assert result.ok, result.detail
        assert time.monotonic() - started < 10
    finally:
        import os
        import signal

        os.kill(int(pid_file.read_text()), signal.SIGKILL)


# --- http --------------------------------------------------------------------------------


def test_http_deploy_posts_the_json_body(server: ScriptedServer) -> None:
    server.script("/deploy", Reply(200, {"accepted": True}))
    logs = Logs()
    d = deployer({"type": "http", "url": f"{server.url}/deploy"}, logs)
    result = d.deploy(REQ)
    assert result.ok, result.detail
    assert result.detail == f"POST {server.url}/deploy -> 200"
    (seen,) = server.requests
    assert seen.method == "POST"
    assert seen.json() == {
        "action": "deploy",
        "service": "curve-service",
        "version": "2.0.0",
        "previous_version": "1.8.0",
        "train": "Q4-curve-upgrade",
        "environment": "staging",
    }


def test_http_rollback_and_undeploy_say_so_in_the_body(server: ScriptedServer) -> None:
    server.script("*", Reply(204))
    d = deployer({"type": "http", "url": f"{server.url}/deploy"})
    assert d.rollback(BACK).ok
    undone = d.undeploy(FIRST)
    assert undone is not None and undone.ok
    back, gone = (r.json() for r in server.requests)
    # Release point of view: rolling back release 2.0.0 to its previous version 1.8.0.
    assert (back["action"], back["version"], back["previous_version"]) == (
        "rollback",
        "2.0.0",
        "1.8.0",
    )
    assert (gone["action"], gone["version"], gone["previous_version"]) == (
        "undeploy",
        "2.0.0",
        None,
    )


def test_http_url_template_values_are_quoted(server: ScriptedServer) -> None:
    server.script("*", Reply(200))
    d = deployer({"type": "http", "url": f"{server.url}/services/{{service}}/v/{{version}}"})
    req = DeployRequest("curve-service", "1.0+build.7", None, "t", "staging")
    assert d.deploy(req).ok
    assert server.requests[0].path == "/services/curve-service/v/1.0%2Bbuild.7"


def test_http_500_is_a_failure_after_retries(server: ScriptedServer) -> None:
    server.script("/deploy", Reply(500, "database locked"))
    sleeps = Sleeps()
    d = deployer(
        {"type": "http", "url": f"{server.url}/deploy", "retries": 1, "backoff": 2}, sleep=sleeps
    )
    result = d.deploy(REQ)
    assert not result.ok
    assert result.attempts == 2 and len(server.requests) == 2 and sleeps == [2]
    assert "-> 500: database locked" in result.detail


def test_http_400_is_not_retried(server: ScriptedServer) -> None:
    server.script("/deploy", Reply(400, "unknown service"))
    d = deployer({"type": "http", "url": f"{server.url}/deploy", "retries": 3}, sleep=Sleeps())
    result = d.deploy(REQ)
    assert not result.ok and result.attempts == 1 and "400" in result.detail


def test_http_connection_refused_is_a_failure() -> None:
    url = f"http://127.0.0.1:{closed_port()}/deploy"
    result = deployer({"type": "http", "url": url}).deploy(REQ)
    assert not result.ok
    assert "connection refused" in result.detail


def test_header_secret_is_sent_but_never_shown(
    server: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "s3cr3t-t0ken-value"
    monkeypatch.setenv("DEPLOY_TOKEN", secret)
    # The server echoes the token back in its error body: it must still not leak.
    server.script("/deploy", Reply(500, f"bad token Bearer {secret}"))
    logs = Logs()
    settings = {
        "type": "http",
        "url": f"{server.url}/deploy",
        "headers": {"Authorization": "Bearer ${DEPLOY_TOKEN}"},
        "retries": 1,
    }
    d = deployer(settings, logs, sleep=Sleeps())
    result = d.deploy(REQ)
    assert server.requests[0].headers["authorization"] == f"Bearer {secret}"
    assert not result.ok
    assert secret not in result.detail and "***" in result.detail
    assert logs and all(secret not in line for line in logs)
    described = d.describe("deploy", REQ)
    assert secret not in described and "${DEPLOY_TOKEN}" in described


def test_missing_header_variable_is_input_error_naming_it(
    server: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DEPLOY_TOKEN", raising=False)
    d = deployer(
        {
            "type": "http",
            "url": f"{server.url}/deploy",
            "headers": {"Authorization": "Bearer ${DEPLOY_TOKEN}"},
        }
    )
    with pytest.raises(InputError, match="DEPLOY_TOKEN"):
        d.check(REQ)  # refused at staging, before anything is deployed
    with pytest.raises(InputError, match="DEPLOY_TOKEN"):
        d.deploy(REQ)
    assert server.requests == []


def test_status_url_is_polled_until_success(server: ScriptedServer) -> None:
    server.script("/deploy", Reply(202))
    server.script(
        "/status/curve-service",
        Reply(200, {"status": "running"}),
        Reply(200, {"status": "running"}),
        Reply(200, {"status": "succeeded"}),
    )
    logs = Logs()
    d = deployer(
        {
            "type": "http",
            "url": f"{server.url}/deploy",
            "status_url": f"{server.url}/status/{{service}}",
            "poll_interval": 0.01,
        },
        logs,
    )
    result = d.deploy(REQ)
    assert result.ok, result.detail
    assert "'succeeded'" in result.detail
    assert [r.method for r in server.requests] == ["POST", "GET", "GET", "GET"]
    assert sum("'running'" in line for line in logs) == 1  # logged once, when it changed


def test_status_url_reporting_failure_fails_the_deploy(server: ScriptedServer) -> None:
    server.script("/deploy", Reply(202))
    server.script("/status", Reply(200, {"status": "running"}), Reply(200, {"status": "failed"}))
    d = deployer(
        {
            "type": "http",
            "url": f"{server.url}/deploy",
            "status_url": f"{server.url}/status",
            "poll_interval": 0.01,
        }
    )
    result = d.deploy(REQ)
    assert not result.ok
    assert "'failed'" in result.detail


def test_status_never_final_fails_at_the_timeout(server: ScriptedServer) -> None:
    server.script("/deploy", Reply(202))
    server.script("/status", Reply(200, {"status": "running"}))
    d = deployer(
        {
            "type": "http",
            "url": f"{server.url}/deploy",
            "status_url": f"{server.url}/status",
            "poll_interval": 0.05,
            "timeout": 0.5,
        }
    )
    started = time.monotonic()
    result = d.deploy(REQ)
    assert not result.ok
    assert "status not final after 0.5 s" in result.detail
    assert time.monotonic() - started < 3 * 0.5 + 1


def test_http_current_version_from_version_url(server: ScriptedServer) -> None:
    server.script("/version/curve-service", Reply(200, {"version": "1.8.0"}))
    server.script("/version/other", Reply(404))
    logs = Logs()
    d = deployer(
        {
            "type": "http",
            "url": f"{server.url}/deploy",
            "version_url": f"{server.url}/version/{{service}}",
        },
        logs,
    )
    assert d.current_version("curve-service") == "1.8.0"
    assert d.current_version("other") is None
    assert any("current version unknown" in line and "404" in line for line in logs)
    assert deployer({"type": "http", "url": f"{server.url}/d"}).current_version("x") is None


def test_http_describe_is_the_exact_call() -> None:
    d = deployer({"type": "http", "url": "http://deploy.example/api/{service}"})
    text = d.describe("deploy", REQ)
    method, url, body = text.split(" ", 2)
    assert (method, url) == ("POST", "http://deploy.example/api/curve-service")
    assert json.loads(body)["version"] == "2.0.0"


def test_http_deployer_needs_a_url() -> None:
    with pytest.raises(InputError, match="url"):
        deployer({"type": "http"})


# --- issue 10: the process group in flight, a whole-operation deadline, version reporting ----


def test_every_command_started_for_a_request_reports_its_process_group(tmp_path: Path) -> None:
    """The executor records the group with the step, so a run that takes over after a kill
    can wait for a deploy still in flight: the group reported is the one the command runs in."""
    seen = tmp_path / "pgid"
    script = write_script(tmp_path / "deploy", f"ps -o pgid= -p $$ | tr -d ' ' > {seen}\nexit 1\n")
    groups: list[int] = []
    d = deployer(
        {"type": "command", "deploy": [str(script)], "retries": 1, "backoff": 0},
        sleep=lambda _: None,
    )
    result = d.deploy(replace(REQ, on_spawn=groups.append))
    assert not result.ok and result.attempts == 2
    assert len(groups) == 2  # each attempt is a new command, in its own group
    assert int(seen.read_text().strip()) == groups[-1]


def test_a_failing_spawn_record_stops_the_command_before_it_runs_on(tmp_path: Path) -> None:
    pids = tmp_path / "pid"
    script = write_script(tmp_path / "deploy", f"echo $$ > {pids}\nexec sleep 30\n")

    def refuse(pgid: int) -> None:
        wait_until(pids.exists, timeout_s=5, what="the script started")
        raise RuntimeError("cannot record")

    d = deployer({"type": "command", "deploy": [str(script)]})
    with pytest.raises(RuntimeError, match="cannot record"):
        d.deploy(replace(REQ, on_spawn=refuse))
    assert process_gone(int(pids.read_text()))


def test_a_request_deadline_cuts_the_attempt_in_flight(tmp_path: Path) -> None:
    """A rollback's overall timeout: the command is stopped at the deadline, not at the
    deployer's own (much longer) timeout, and no retry starts after it."""
    script = write_script(tmp_path / "hang", "exec sleep 30\n")
    d = deployer(
        {"type": "command", "deploy": [str(script)], "timeout": 60, "retries": 3, "backoff": 0.1}
    )
    result = d.deploy(replace(REQ, deadline=time.monotonic() + 0.5))
    assert not result.ok
    assert "at the deadline of the whole operation" in result.detail, result.detail
    assert "60 s" not in result.detail
    assert result.attempts == 1, result


def test_with_retries_starts_no_retry_that_would_end_past_the_deadline() -> None:
    from release_trains.deployers.base import Attempt, with_retries

    calls: list[int] = []

    def attempt() -> Attempt:
        calls.append(1)
        return Attempt(False, "nope")

    result = with_retries(
        attempt,
        retry=Retry(retries=5, backoff_s=10),
        what="x",
        log=Logs(),
        sleep=lambda _: None,
        deadline=time.monotonic() + 5,
    )
    assert calls == [1]
    assert not result.ok and "no time left for another attempt" in result.detail


def test_which_deployers_can_report_the_running_version(tmp_path: Path) -> None:
    current = write_script(tmp_path / "current", "echo 1.0.0\n")
    assert deployer({"type": "local"}).can_report_version()
    assert not deployer({"type": "command", "deploy": ["true"]}).can_report_version()
    with_current = {"type": "command", "deploy": ["true"], "current_version": [str(current)]}
    assert deployer(with_current).can_report_version()
    assert not deployer({"type": "http", "url": "http://127.0.0.1:9/d"}).can_report_version()
    assert deployer(
        {"type": "http", "url": "http://127.0.0.1:9/d", "version_url": "http://127.0.0.1:9/v"}
    ).can_report_version()


def test_leader_running_sees_a_running_leader_and_not_its_zombie(tmp_path: Path) -> None:
    import subprocess

    from release_trains.deployers.process import leader_running

    proc = subprocess.Popen(["sleep", "30"], start_new_session=True)
    try:
        assert leader_running(proc.pid)
        proc.kill()
        # not reaped yet: the leader is a zombie, which no longer counts as running
        wait_until(lambda: not leader_running(proc.pid), timeout_s=5, what="the group ended")
    finally:
        proc.kill()
        proc.wait()
    assert not leader_running(proc.pid)
