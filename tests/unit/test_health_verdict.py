"""Health is shown the same way everywhere, and never "healthy" without a check that said so."""

from __future__ import annotations

import pytest

from release_trains.gates import Health


@pytest.mark.parametrize(
    ("healthy", "shown"), [(True, "healthy"), (False, "unhealthy"), (None, "not verified")]
)
def test_verdict(healthy: bool | None, shown: str) -> None:
    assert Health("svc", healthy, "evidence").verdict == shown
