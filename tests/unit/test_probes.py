from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import Reply, ScriptedServer, closed_port, recording_script, serve, write_script

from release_trains.errors import InputError
from release_trains.gates import Health
from release_trains.probes import NOT_CONFIGURED, check_health, health_settings


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with serve() as s:
        yield s


def test_http_probe_passes(server: ScriptedServer) -> None:
    server.script("/health", Reply(200, {"status": "up"}))
    url = f"{server.url}/health"
    health = check_health("curve-service", {"type": "http", "url": url}, sleep=Sleeps())
    assert health == Health("curve-service", True, f"1/1 probes ok: GET {url} -> 200")


def test_fails_twice_then_passes_within_retries(server: ScriptedServer) -> None:
    server.script("/health", Reply(503), Reply(503), Reply(200))
    sleeps = Sleeps()
    settings = {"type": "http", "url": f"{server.url}/health", "retries": 3, "interval": 0.5}
    health = check_health("curve-service", settings, sleep=sleeps)
    assert health.healthy is True, health.detail
    assert len(server.requests) == 3
    assert sleeps == [0.5, 0.5]  # `interval` between tries


def test_stays_bad_is_unhealthy_with_the_last_reason(server: ScriptedServer) -> None:
    server.script("/health", Reply(503))
    settings = {"type": "http", "url": f"{server.url}/health", "retries": 3}
    health = check_health("curve-service", settings, sleep=Sleeps())
    assert health.healthy is False
    assert "0/1 probes ok" in health.detail
    assert "status 503, expected 200" in health.detail
    assert len(server.requests) == 4  # the first try and 3 retries


def test_expect_status_is_honoured(server: ScriptedServer) -> None:
    server.script("/health", Reply(204))
    settings = {"type": "http", "url": f"{server.url}/health", "expect_status": 204}
    assert check_health("s", settings, sleep=Sleeps()).healthy is True


def test_connection_refused_is_unhealthy() -> None:
    settings = {"type": "http", "url": f"http://127.0.0.1:{closed_port()}/h", "retries": 0}
    health = check_health("s", settings, sleep=Sleeps())
    assert health.healthy is False
    assert "connection refused" in health.detail


def test_a_server_that_never_answers_times_out(server: ScriptedServer) -> None:
    server.script("/health", Reply(hang=True))
    timeout = 0.5
    settings = {"type": "http", "url": f"{server.url}/health", "timeout": timeout, "retries": 0}
    started = time.monotonic()
    health = check_health("s", settings, sleep=Sleeps())
    elapsed = time.monotonic() - started
    assert health.healthy is False
    assert f"timed out after {timeout:g} s" in health.detail
    assert elapsed < 3 * timeout
    server.wait_for(1)  # the request did arrive: it was the answer that never came


def test_json_field_check(server: ScriptedServer) -> None:
    server.script("/health", Reply(200, {"checks": {"db": {"status": "up"}}}))
    settings = {
        "type": "http",
        "url": f"{server.url}/health",
        "json_field": "checks.db.status",
        "json_value": "up",
    }
    health = check_health("s", settings, sleep=Sleeps())
    assert health.healthy is True, health.detail
    assert "checks.db.status='up'" in health.detail


def test_json_field_mismatch_is_unhealthy_with_evidence(server: ScriptedServer) -> None:
    server.script("/health", Reply(200, {"status": "down"}))
    settings = {
        "type": "http",
        "url": f"{server.url}/health",
        "json_field": "status",
        "json_value": "up",
        "retries": 1,
    }
    health = check_health("s", settings, sleep=Sleeps())
    assert health.healthy is False
    assert "field status='down' expected 'up'" in health.detail


@pytest.mark.parametrize(
    ("body", "healthy"),
    [({"ready": True}, True), ({"ready": False}, False), ({"other": 1}, False), ("text", False)],
)
def test_json_field_without_value_must_be_true(
    server: ScriptedServer, body: object, healthy: bool
) -> None:
    server.script("/h", Reply(200, body))
    settings = {"type": "http", "url": f"{server.url}/h", "json_field": "ready", "retries": 0}
    assert check_health("s", settings, sleep=Sleeps()).healthy is healthy


def test_json_value_true_is_not_matched_by_1(server: ScriptedServer) -> None:
    server.script("/h", Reply(200, {"ok": 1}))
    settings = {
        "type": "http",
        "url": f"{server.url}/h",
        "json_field": "ok",
        "json_value": True,
        "retries": 0,
    }
    assert check_health("s", settings, sleep=Sleeps()).healthy is False


def test_url_template_takes_the_service_and_fields(server: ScriptedServer) -> None:
    server.script("*", Reply(200))
    settings = {"type": "http", "url": f"{server.url}/health/{{service}}/{{version}}"}
    fields = {"version": "2.0.0"}
    assert check_health("curve-service", settings, sleep=Sleeps(), fields=fields).healthy
    assert server.requests[0].path == "/health/curve-service/2.0.0"


def test_command_probe(tmp_path: Path) -> None:
    rec = recording_script(tmp_path, name="healthy")
    settings = {"type": "command", "command": [str(rec.script), "{service}"]}
    health = check_health("curve-service", settings, sleep=Sleeps())
    assert health.healthy is True
    assert health.detail == f"1/1 probes ok: {rec.script} curve-service -> exit 0"
    assert rec.lines() == ["curve-service"]


def test_failing_command_probe_is_unhealthy(tmp_path: Path) -> None:
    rec = recording_script(tmp_path, name="sick", exit_code=2, output="db down")
    settings = {"type": "command", "command": [str(rec.script)], "retries": 2}
    health = check_health("curve-service", settings, sleep=Sleeps())
    assert health.healthy is False
    assert "exit 2: db down" in health.detail
    assert len(rec.lines()) == 3


def test_command_probe_times_out(tmp_path: Path) -> None:
    script = write_script(tmp_path / "slow", "exec sleep 30\n")
    settings = {"type": "command", "command": [str(script)], "timeout": 0.3, "retries": 0}
    started = time.monotonic()
    health = check_health("s", settings, sleep=Sleeps())
    assert health.healthy is False
    assert "timed out after 0.3 s" in health.detail
    assert time.monotonic() - started < 5  # `sleep` dies on SIGTERM: no grace period needed


@pytest.mark.parametrize("settings", [{}, {"type": "none"}, {"timeout": 5}])
def test_no_check_configured_is_not_verified(settings: dict[str, object]) -> None:
    health = check_health("curve-service", settings)
    assert health == Health("curve-service", None, NOT_CONFIGURED)


def test_threshold_over_samples(server: ScriptedServer) -> None:
    settings = {"type": "http", "url": f"{server.url}/h", "samples": 4, "retries": 0, "interval": 2}

    def run(threshold: float) -> Health:
        server.script("/h", Reply(200), Reply(503), Reply(200), Reply(200))
        return check_health("s", settings, threshold=threshold, sleep=sleeps)

    sleeps = Sleeps()
    passing = run(75)
    assert passing.healthy is True, passing.detail
    assert passing.detail.startswith("3/4 probes ok (threshold 75%)")
    assert "last failure:" in passing.detail and "status 503" in passing.detail
    assert sleeps == [2, 2, 2]  # samples are `interval` apart

    failing = run(80)
    assert failing.healthy is False
    assert "status 503" in failing.detail


def test_sampling_stops_once_the_threshold_is_out_of_reach(server: ScriptedServer) -> None:
    server.script("/h", Reply(503))
    settings = {"type": "http", "url": f"{server.url}/h", "samples": 5, "retries": 0}
    health = check_health("s", settings, sleep=Sleeps())
    assert health.healthy is False
    assert len(server.requests) == 1
    assert health.detail.startswith("0/1 probes ok of 5 planned (threshold 100%)")


def test_service_release_health_overrides_config_keys() -> None:
    config = {"type": "http", "url": "http://127.0.0.1:8080/health", "timeout": 5}
    merged = health_settings(config, {"health": {"url": "http://127.0.0.1:9090/ready"}})
    assert merged == {"type": "http", "url": "http://127.0.0.1:9090/ready", "timeout": 5}
    assert health_settings(config, {}) == config
    assert health_settings({}, {"health": {"type": "none"}}) == {"type": "none"}


@pytest.mark.parametrize(
    ("settings", "match"),
    [
        ({"type": "http"}, "url"),
        ({"type": "command"}, "command"),
        ({"type": "tcp"}, "tcp"),
        ({"type": "http", "url": "http://127.0.0.1/{nope}"}, "nope"),
        ({"type": "http", "url": "http://127.0.0.1/h", "samples": 0}, "samples"),
    ],
)
def test_misconfigured_check_is_input_error(settings: dict[str, object], match: str) -> None:
    with pytest.raises(InputError, match=match):
        check_health("s", settings)
