"""identity: RELEASE_TRAINS_HOST names this machine for locks, in-flight deploys and audit
actors; RELEASE_TRAINS_ACTOR replaces the whole actor."""

from __future__ import annotations

import getpass
import socket
from datetime import datetime, timezone

import pytest

from release_trains.identity import actor, host
from release_trains.runtime import Settings


def test_the_host_is_the_machine_name_unless_overridden() -> None:
    assert host({}) == socket.gethostname()
    assert host({"RELEASE_TRAINS_HOST": "build-7"}) == "build-7"
    assert host({"RELEASE_TRAINS_HOST": ""}) == socket.gethostname()  # empty: not set


def test_the_actor_carries_the_overridden_host() -> None:
    assert actor({"RELEASE_TRAINS_HOST": "build-7"}) == f"{getpass.getuser()}@build-7"
    assert actor({"RELEASE_TRAINS_ACTOR": "ci-bot", "RELEASE_TRAINS_HOST": "x"}) == "ci-bot"


def test_run_settings_take_the_host_from_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELEASE_TRAINS_HOST", "build-8")
    assert Settings(clock=lambda: datetime.now(timezone.utc), who="t").host == "build-8"
