"""validation.health_check_timeout, as probes.check_health's `time_limit_s`: it bounds one
service's whole health verification (every sample, retry and interval), not one probe."""

from __future__ import annotations

from pathlib import Path

from helpers import write_script

from release_trains.probes import check_health


class FakeTime:
    """A monotonic clock that moves only when the check sleeps (and a little per probe)."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        self.now += 0.001
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def _failing(tmp_path: Path) -> dict[str, object]:
    probe = write_script(tmp_path / "probe", 'echo "not ready"\nexit 1\n')
    return {"type": "command", "command": [str(probe)], "retries": 100, "interval": 0.5}


def test_the_time_limit_stops_the_retries_of_a_check_that_keeps_failing(tmp_path: Path) -> None:
    t = FakeTime()
    health = check_health(
        "a", _failing(tmp_path), sleep=t.sleep, time_limit_s=2.0, monotonic=t.monotonic
    )
    assert health.healthy is False
    assert "gave up at the 2 s limit of the whole health verification" in health.detail
    assert "not ready" in health.detail  # the last evidence is kept
    assert sum(t.sleeps) < 2.0  # no wait that would end past the limit was started
    assert len(t.sleeps) == 3


def test_without_a_limit_every_retry_runs(tmp_path: Path) -> None:
    t = FakeTime()
    settings = {**_failing(tmp_path), "retries": 5}
    health = check_health("a", settings, sleep=t.sleep, monotonic=t.monotonic)
    assert health.healthy is False and "gave up" not in health.detail
    assert len(t.sleeps) == 5


def test_samples_not_taken_before_the_limit_count_as_failed(tmp_path: Path) -> None:
    ok = write_script(tmp_path / "ok", "exit 0\n")
    t = FakeTime()
    settings = {"type": "command", "command": [str(ok)], "samples": 10, "interval": 1}
    health = check_health(
        "a", settings, sleep=t.sleep, time_limit_s=3.0, monotonic=t.monotonic, threshold=50
    )
    assert health.healthy is False, health
    assert "3/3 probes ok of 10 planned" in health.detail, health.detail
    assert "gave up at the 3 s limit" in health.detail
