"""Every network caller under a hostile endpoint: bytes dribbled one every 0.3 s (each well
inside a per-read timeout) in the headers or in the body, and a health body of 300 MB.
Each caller must give up at its configured total timeout with "timed out after N s", and hold
no more of a body than its cap (issue 10, "Hanging or growing without bound")."""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import FakeEnvironment, wait_until
from slow_servers import hostile_server, within

from release_trains.deployers import DeployRequest, build_deployer
from release_trains.deployers.http_transport import MAX_BODY_BYTES
from release_trains.probes import check_health
from release_trains.signals import read_signal

GUARD_S = 30.0  # only stops a broken deadline from hanging the run; never decides a pass
TIMEOUT_S = 1.0
REQ = DeployRequest("curve-service", "2.0.0", "1.8.0", "Q4-curve-upgrade", "staging")
MODES = ["dribble-headers", "dribble-body"]


def _http_deployer(settings: dict[str, Any], logs: list[str]) -> Any:
    return build_deployer(
        {"type": "http", "timeout": TIMEOUT_S, **settings},
        store=FakeEnvironment(),
        environment="staging",
        log=logs.append,
        sleep=lambda _: None,
    )


def _timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    started = time.monotonic()
    result = within(GUARD_S, fn)
    return result, time.monotonic() - started


@pytest.mark.parametrize("mode", MODES)
def test_health_probe_gives_up_at_its_timeout(mode: str) -> None:
    with hostile_server(mode) as server:
        settings = {"type": "http", "url": f"{server.url}/health", "timeout": TIMEOUT_S}
        settings |= {"retries": 0}
        health, elapsed = _timed(lambda: check_health("s", settings, sleep=lambda _: None))
        assert health.healthy is False
        assert f"GET {server.url}/health: timed out after 1 s" in health.detail
        assert elapsed < TIMEOUT_S + 2.0, elapsed
        wait_until(lambda: server.hung_up[0], what="the probe hanging up")


@pytest.mark.parametrize("mode", MODES)
def test_http_deploy_gives_up_at_its_timeout(mode: str) -> None:
    with hostile_server(mode) as server:
        d = _http_deployer({"url": f"{server.url}/deploy"}, [])
        result, elapsed = _timed(lambda: d.deploy(REQ))
        assert not result.ok
        assert result.detail == f"POST {server.url}/deploy: timed out after 1 s"
        assert elapsed < TIMEOUT_S + 2.0, elapsed


@pytest.mark.parametrize("mode", MODES)
def test_http_status_polling_gives_up_at_its_timeout(mode: str) -> None:
    with hostile_server(mode) as server, hostile_server("huge-body", size=10) as ok:
        # The POST is answered at once (a 10-byte body); the status URL dribbles.
        d = _http_deployer({"url": f"{ok.url}/deploy", "status_url": f"{server.url}/s"}, [])
        result, elapsed = _timed(lambda: d.deploy(REQ))
        assert not result.ok
        assert "status not final after 1 s" in result.detail, result.detail
        assert "timed out after" in result.detail
        assert elapsed < TIMEOUT_S + 2.0, elapsed


@pytest.mark.parametrize("mode", MODES)
def test_version_url_gives_up_at_its_timeout(mode: str) -> None:
    with hostile_server(mode) as server:
        logs: list[str] = []
        d = _http_deployer({"url": f"{server.url}/d", "version_url": f"{server.url}/v"}, logs)
        version, elapsed = _timed(lambda: d.current_version("curve-service"))
        assert version is None
        assert logs == [
            f"curve-service: current version unknown: GET {server.url}/v -> timed out after 1 s"
        ]
        assert elapsed < TIMEOUT_S + 2.0, elapsed


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "source",
    [
        lambda url: {"http_json": f"{url}/s", "path": "a"},
        lambda url: {"prometheus": {"url": url, "query": "up"}},
        lambda url: {"prometheus": {"metrics_url": f"{url}/metrics", "metric": "up"}},
    ],
    ids=["http_json", "prometheus-query", "metrics-page"],
)
def test_signals_give_up_at_their_timeout(
    mode: str, source: Callable[[str], dict[str, Any]], tmp_path: Path
) -> None:
    with hostile_server(mode) as server:
        spec = {**source(server.url), "timeout": TIMEOUT_S}
        reading, elapsed = _timed(lambda: read_signal("sig", spec, root=tmp_path))
        assert reading.value is None
        assert reading.error is not None and reading.error.endswith("timed out after 1 s")
        assert elapsed < TIMEOUT_S + 2.0, elapsed


def test_plan_with_a_dribbling_version_url_ends(
    sample_root: Path, run_cli: Callable[..., Any]
) -> None:
    with hostile_server("dribble-headers") as server:
        path = sample_root / "config" / "upgrade-policies.yaml"
        config = yaml.safe_load(path.read_text())
        config["release_trains"]["deployer"] = {
            "type": "http",
            "url": f"{server.url}/deploy",
            "version_url": f"{server.url}/version/{{service}}",
            "timeout": TIMEOUT_S,
        }
        path.write_text(yaml.safe_dump(config))
        result = within(
            GUARD_S, lambda: run_cli("--root", sample_root, "plan", "Q4-curve-upgrade", "--json")
        )
        assert result.code in (0, 1), result.err
        # Each of the three participants was asked, and each request ended at its deadline.
        assert len(server.sent) >= 3, server.sent


def test_a_300_mb_health_body_is_not_held(tmp_path: Path) -> None:
    with hostile_server("huge-body", size=300 * 1024 * 1024) as server:
        url = f"{server.url}/health"
        settings = {"type": "http", "url": url, "timeout": 20, "retries": 0}
        fielded = {**settings, "json_field": "status"}
        tracemalloc.start()
        try:
            plain = within(GUARD_S, lambda: check_health("s", settings, sleep=lambda _: None))
            checked = within(GUARD_S, lambda: check_health("s", fielded, sleep=lambda _: None))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert peak < 8 * MAX_BODY_BYTES, peak
    # Only the status counts without a json_field; with one, a body over the cap is refused.
    assert plain.healthy is True and plain.detail == f"1/1 probes ok: GET {url} -> 200"
    assert checked.healthy is False
    assert checked.detail.endswith(f"GET {url}: body is larger than 1 MiB"), checked.detail
