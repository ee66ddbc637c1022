"""Fixtures of the end-to-end tests (helpers themselves live in e2e_support.py).

- `start`: CLI calls in the background, killed at teardown.
- `state`: the state store a test's project uses, for the tests that are about the store:
  parametrised over STATES ("sqlite": None, the SQLite file under the root; "postgresql": a
  fresh database on the session's PostgreSQL server). A test passes it to
  `make_project(..., state=state)`; one that runs on PostgreSQL only for some of its cases
  parametrises `state` itself with `indirect=True`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from e2e_support import Background, Project

STATES = ("sqlite", "postgresql")


@pytest.fixture
def start() -> Iterator[Callable[..., Background]]:
    """start(project, *args, name=...) -> a CLI call running in the background. Any process a
    test leaves running (a failed assertion mid-test) is killed, by its own pid, at teardown."""
    started: list[Background] = []

    def launch(project: Project, *args: str, **kw: Any) -> Background:
        bg = Background(project, *args, **kw)
        started.append(bg)
        return bg

    yield launch
    for bg in started:
        bg.kill()


@pytest.fixture(params=STATES)
def state(request: pytest.FixtureRequest) -> str | None:
    """None (SQLite under the project's root) or the URL of a new empty PostgreSQL database."""
    if request.param == "sqlite":
        return None
    assert request.param == "postgresql", request.param
    url: str = request.getfixturevalue("postgres_db_url")
    return url
