"""Property (issue 15): for random schedules and freeze windows over a simulated week, the
due-start function (`execute --due`'s library function) called every simulated minute with a
pinned clock starts each train exactly once, at the first minute it is due and not frozen,
and never inside a freeze. The trains really run (local deployer, SQLite store in tmp_path).

The freeze oracle here is written independently of release_trains/windows.py: recurring
windows are drawn as "M H * * D" in zones without daylight saving, so their firings are plain
arithmetic.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from release_trains.catalog import load_catalog
from release_trains.due import start_due
from release_trains.runtime import Settings
from release_trains.state import open_store

WEEK_START = datetime(2026, 3, 2, tzinfo=timezone.utc)  # a Monday
MINUTES = 7 * 24 * 60
ZONES = {
    "UTC": timedelta(0),
    "Etc/GMT-2": timedelta(hours=2),
    "Asia/Kolkata": timedelta(hours=5, minutes=30),
}


@dataclass(frozen=True)
class Fixed:
    start: datetime
    end: datetime

    def config(self, i: int) -> dict[str, Any]:
        return {"name": f"fixed-{i}", "start": _z(self.start), "end": _z(self.end)}

    def covers(self, t: datetime) -> bool:
        return self.start <= t < self.end


@dataclass(frozen=True)
class Recurring:
    minute: int
    hour: int
    weekday: int | None  # cron's: 0 = Sunday; None: every day
    duration_min: int
    zone: str

    def config(self, i: int) -> dict[str, Any]:
        dow = "*" if self.weekday is None else str(self.weekday)
        return {
            "name": f"recurring-{i}",
            "cron": f"{self.minute} {self.hour} * * {dow}",
            "duration": f"{self.duration_min}m",
            "timezone": self.zone,
        }

    def covers(self, t: datetime) -> bool:
        offset = ZONES[self.zone]
        length = timedelta(minutes=self.duration_min)
        local_day = (t + offset).date()
        for back in range(0, 9):  # durations are under a week: a firing 8 days back is over
            day = local_day - timedelta(days=back)
            if self.weekday is not None and (day.weekday() + 1) % 7 != self.weekday:
                continue
            local = datetime(day.year, day.month, day.day, self.hour, self.minute)
            fired = local.replace(tzinfo=timezone.utc) - offset
            if fired <= t < fired + length:
                return True
        return False


def _z(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


minute_in_week = st.integers(min_value=-24 * 60, max_value=MINUTES + 60)
fixed = st.builds(
    lambda a, n: Fixed(WEEK_START + timedelta(minutes=a), WEEK_START + timedelta(minutes=a + n)),
    minute_in_week,
    st.integers(min_value=1, max_value=2 * 24 * 60),
)
recurring = st.builds(
    Recurring,
    st.integers(0, 59),
    st.integers(0, 23),
    st.one_of(st.none(), st.integers(0, 6)),
    st.integers(min_value=1, max_value=3 * 24 * 60),
    st.sampled_from(sorted(ZONES)),
)
# start times anywhere from a day before the week to an hour after it, to the second
starts = st.lists(
    st.integers(min_value=-86400, max_value=(MINUTES + 60) * 60), min_size=1, max_size=4
)


def _write(root: Path, start_offsets: list[int], windows: list[Fixed | Recurring]) -> None:
    def dump(rel: str, doc: Any) -> None:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")

    services = [
        {"name": f"s{i}", "version": "1.0.0", "quality": {"score": 90, "open_critical_vulns": 0}}
        for i in range(len(start_offsets))
    ]
    trains = [
        {
            "name": f"t{i}",
            "target_version": "2.0.0",
            "participants": [f"s{i}"],
            "schedule": {"start_time": _z(WEEK_START + timedelta(seconds=offset))},
        }
        for i, offset in enumerate(start_offsets)
    ]
    config = {
        "environment": "sim",
        "freeze_windows": [w.config(i) for i, w in enumerate(windows)],
    }
    dump("catalog/service-index.yaml", {"services": services})
    dump("catalog/release-trains.yaml", {"trains": trains})
    dump("config/upgrade-policies.yaml", {"release_trains": config})


def _expected_start(offset_s: int, windows: list[Fixed | Recurring]) -> int | None:
    """The first simulated minute at or after the start time that no window covers."""
    first = max(0, -(-offset_s // 60))  # ceil to the minute grid
    for k in range(first, MINUTES):
        t = WEEK_START + timedelta(minutes=k)
        if not any(w.covers(t) for w in windows):
            return k
    return None


@pytest.mark.slow  # a simulated week of minutes per example: ~10k calls each
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    start_offsets=starts,
    windows=st.lists(st.one_of(fixed, recurring), max_size=3),
)
def test_due_starts_each_train_once_never_inside_a_freeze(
    start_offsets: list[int], windows: list[Fixed | Recurring]
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        _write(root, start_offsets, windows)
        catalog = load_catalog(root)
        store = open_store(None, root, create=True)
        assert store is not None
        started: dict[str, list[int]] = {}
        clock = {"now": WEEK_START}
        settings_ = Settings(clock=lambda: clock["now"], who="cron@sim", echo=None)
        try:
            for k in range(MINUTES):
                clock["now"] = WEEK_START + timedelta(minutes=k)
                # quiet_freeze: the freezes are looked at only when a train is due, as the
                # workers do; what starts, and when, is the same as `execute --due`
                report = start_due(catalog, store, settings=settings_, quiet_freeze=True)
                assert report.frozen is None or not report.trains
                for t in report.trains:
                    assert t.outcome == "started", t
                    assert t.status == "completed", t
                    started.setdefault(t.train, []).append(k)
            runs = {name: len(store.runs(name)) for name in catalog.trains}
        finally:
            store.close()
    for i, offset in enumerate(start_offsets):
        name = f"t{i}"
        expected = _expected_start(offset, windows)
        if expected is None:
            assert name not in started and runs[name] == 0, (name, started)
            continue
        assert started.get(name) == [expected], (name, offset, started, windows)
        assert runs[name] == 1
        moment = WEEK_START + timedelta(minutes=expected)
        assert not any(w.covers(moment) for w in windows)
