"""The external deployer's wait, against a real SQLite store: the first report after the
deployer was built decides; a stop ends the wait at once; its settings are checked."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from release_trains.deployers import build_deployer
from release_trains.deployers.base import DeployRequest
from release_trains.errors import InputError
from release_trains.state import Store, open_store

NOW = "2026-01-01T00:00:00.000+00:00"
REQ = DeployRequest(service="a", version="2.0.0", previous_version="1.0.0", train="T",
                    environment="prod")  # fmt: skip


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = open_store(None, tmp_path, create=True)
    assert s is not None
    return s


def report(store: Store, status: str, version: str, environment: str = "prod") -> None:
    store.add_deploy_report(
        service="a", environment=environment, status=status, version=version,
        health_status=None, detail=None, who="ci", now=NOW,
    )  # fmt: skip


def deployer(store: Store, stop: threading.Event | None = None, timeout: str = "30s") -> object:
    settings = {"type": "external", "timeout": timeout, "poll_interval": 0.05}
    return build_deployer(settings, store=store, environment="prod", log=lambda _: None, stop=stop)


def test_a_report_made_before_the_deployer_was_built_does_not_count(store: Store) -> None:
    report(store, "deployed", "2.0.0")  # left from an earlier run
    d = deployer(store, timeout="0.2s")
    result = d.deploy(REQ)  # type: ignore[attr-defined]
    assert not result.ok and "no report from the pipeline of a 2.0.0 within 0.2 s" in result.detail
    assert d.current_version("a") == "2.0.0"  # type: ignore[attr-defined]


def test_the_first_report_after_it_decides(store: Store) -> None:
    d = deployer(store)
    report(store, "deployed", "2.0.0", environment="other")  # another environment: not ours
    report(store, "deployed", "2.0.0")
    report(store, "failed", "2.0.0")
    result = d.deploy(REQ)  # type: ignore[attr-defined]
    assert result.ok, result.detail
    wrong = deployer(store)
    report(store, "deployed", "2.0.1")
    assert "reported 2.0.1 deployed, expected 2.0.0" in wrong.deploy(REQ).detail  # type: ignore[attr-defined]


def test_a_report_made_while_it_waits_ends_the_wait(store: Store, tmp_path: Path) -> None:
    d = deployer(store)
    other = open_store(None, tmp_path, create=True)  # the pipeline: another connection
    assert other is not None
    started = threading.Event()
    result: list[object] = []

    def wait() -> None:
        started.set()
        result.append(d.deploy(REQ))  # type: ignore[attr-defined]

    t = threading.Thread(target=wait)
    t.start()
    started.wait(10)
    report(other, "deployed", "2.0.0")
    t.join(30)
    assert not t.is_alive() and result[0].ok  # type: ignore[attr-defined]


def test_a_stop_ends_the_wait_at_once(store: Store) -> None:
    stop = threading.Event()
    stop.set()
    result = deployer(store, stop, timeout="1h").deploy(REQ)  # type: ignore[attr-defined]
    assert not result.ok and "stopped" in result.detail


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"type": "external"}, "needs a timeout"),
        ({"type": "external", "timeout": 0}, "more than 0 s"),
        ({"type": "external", "timeout": "8d"}, "at most 7 days"),
        ({"type": "external", "timeout": "1h", "poll_interval": "5m"}, "poll_interval"),
    ],
)
def test_settings_are_checked(store: Store, settings: dict[str, object], message: str) -> None:
    with pytest.raises(InputError, match=message):
        build_deployer(settings, store=store, environment="prod", log=lambda _: None)
