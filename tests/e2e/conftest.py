"""Fixtures of the end-to-end tests (helpers themselves live in e2e_support.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from e2e_support import Background, Project


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
