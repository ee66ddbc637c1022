"""Freeze windows and the freeze in force (library level, pinned clock): fixed and recurring
windows, time zones across a daylight-saving change, windows that chain into one long freeze,
the platform freeze of the store, and schedules."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from release_trains.errors import InputError, NotNowError
from release_trains.freezes import (
    FrozenError,
    freeze_in_force,
    freeze_platform,
    refuse_if_frozen,
    unfreeze_platform,
)
from release_trains.models import Config, FreezeWindow, Train
from release_trains.schedule import ScheduledLaterError, check_start, parse_instant, wait_text
from release_trains.state import open_store
from release_trains.windows import build_windows, covering

UTC = timezone.utc


def _windows(*raw: dict[str, object]) -> tuple[FreezeWindow, ...]:
    problems: list[tuple[list[str | int], str]] = []
    out = build_windows(list(raw), lambda path, why: problems.append((path, why)))
    assert problems == []
    return out


def test_a_weekend_freeze_in_london_keeps_its_local_time_across_the_clock_change() -> None:
    (w,) = _windows(
        {"name": "weekend", "cron": "0 18 * * FRI", "duration": "62h", "timezone": "Europe/London"}
    )
    # summer (BST, UTC+1): Friday 18:00 London is 17:00 UTC
    summer = covering(w, datetime(2026, 7, 3, 17, 0, tzinfo=UTC))
    assert summer is not None and summer.until == datetime(2026, 7, 6, 7, 0, tzinfo=UTC)
    assert covering(w, datetime(2026, 7, 3, 16, 59, tzinfo=UTC)) is None
    assert covering(w, datetime(2026, 7, 6, 7, 0, tzinfo=UTC)) is None  # Monday 08:00 London
    # winter (GMT): Friday 18:00 London is 18:00 UTC
    assert covering(w, datetime(2026, 12, 4, 17, 59, tzinfo=UTC)) is None
    winter = covering(w, datetime(2026, 12, 6, 12, 0, tzinfo=UTC))
    assert winter is not None and winter.start == datetime(2026, 12, 4, 18, 0, tzinfo=UTC)


def test_a_window_firing_before_its_stretch_ends_is_one_long_freeze() -> None:
    (w,) = _windows({"name": "chained", "cron": "0 */6 * * *", "duration": "8h"})
    at = covering(w, datetime(2026, 3, 2, 1, 0, tzinfo=UTC))
    assert at is not None and at.until is None  # every firing lands inside the last stretch
    (daily,) = _windows({"name": "days", "cron": "0 0 2,3 * *", "duration": "30h"})
    two_days = covering(daily, datetime(2026, 3, 2, 12, 0, tzinfo=UTC))
    assert two_days is not None
    assert two_days.until == datetime(2026, 3, 4, 6, 0, tzinfo=UTC)  # 3rd 00:00 + 30h


def test_fixed_windows_cover_from_start_up_to_but_not_including_end() -> None:
    (w,) = _windows(
        {"name": "xmas", "start": "2026-12-24T00:00:00+01:00", "end": "2026-12-27T00:00:00Z"}
    )
    assert covering(w, datetime(2026, 12, 23, 22, 59, tzinfo=UTC)) is None
    assert covering(w, datetime(2026, 12, 23, 23, 0, tzinfo=UTC)) is not None
    assert covering(w, datetime(2026, 12, 27, 0, 0, tzinfo=UTC)) is None


@pytest.mark.parametrize(
    ("raw", "where", "why"),
    [
        ({"name": "a", "cron": "61 * * * *", "duration": "1h"}, [0, "cron"], "invalid cron"),
        ({"name": "a", "cron": "* * * * *"}, [0], "needs `duration`"),
        ({"name": "a", "cron": "* * * * *", "duration": 0}, [0, "duration"], "lasts no time"),
        (
            {"name": "a", "cron": "0 0 * * *", "duration": "1h", "timezone": "Nowhere"},
            [0, "timezone"],
            "unknown time zone",
        ),
        ({"name": "a", "start": "2026-12-24T00:00:00"}, [0, "start"], "no time zone"),
        ({"name": "a", "start": "2026-12-24T00:00:00Z", "cron": "* * * * *"}, [0], "keep one kind"),
    ],
)
def test_bad_windows_are_named_at_their_key(
    raw: dict[str, object], where: list[object], why: str
) -> None:
    problems: list[tuple[list[str | int], str]] = []
    assert build_windows([raw], lambda path, m: problems.append((path, m))) == ()
    assert any(p == where and why in m for p, m in problems), problems


def test_platform_freeze_until_expires_unfreeze_lifts_and_both_are_audited(tmp_path: Path) -> None:
    store = open_store(None, tmp_path, create=True)
    assert store is not None
    config = Config()
    t0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    audit_path = tmp_path / "audit.log"
    try:
        assert freeze_in_force(config, store, t0) is None
        with pytest.raises(InputError):
            freeze_platform(
                config,
                store,
                reason="x",
                until="2026-03-02T08:00:00Z",
                who="a@h",
                now=t0,
                audit_path=audit_path,
            )
        freeze_platform(
            config,
            store,
            reason="INC-1",
            until="2026-03-02T11:00:00Z",
            who="a@h",
            now=t0,
            audit_path=audit_path,
        )
        frozen = freeze_in_force(config, store, t0 + timedelta(hours=1))
        assert frozen is not None and frozen.reason == "INC-1" and frozen.actor == "a@h"
        with pytest.raises(
            FrozenError,
            match=r"platform freeze \(INC-1\) until 2026-03-02T11:00:00.000\+00:00 \(in 1h\)",
        ):
            refuse_if_frozen(config, store, now=t0 + timedelta(hours=1), action="execute train 'T'")
        assert freeze_in_force(config, store, t0 + timedelta(hours=2)) is None  # expired
        with pytest.raises(NotNowError, match="nothing to unfreeze"):
            unfreeze_platform(
                config, store, who="b@h", now=t0 + timedelta(hours=2), audit_path=audit_path
            )
        freeze_platform(
            config, store, reason="INC-2", until=None, who="a@h", now=t0, audit_path=audit_path
        )
        doc = unfreeze_platform(
            config, store, who="b@h", now=t0 + timedelta(hours=3), audit_path=audit_path
        )
        assert doc["frozen"] is False
        assert freeze_in_force(config, store, t0 + timedelta(hours=3)) is None
        actions = [r.action for r in store.audit_chain()]
    finally:
        store.close()
    assert actions == ["freeze", "freeze", "unfreeze"]


def test_start_times_need_a_zone_and_an_early_execute_says_how_long() -> None:
    with pytest.raises(ValueError, match="no time zone"):
        parse_instant("2026-12-01T09:00:00")
    assert parse_instant("2026-12-01T09:00:00Z") == datetime(2026, 12, 1, 9, tzinfo=UTC)
    train = Train(name="T", participants=(), starts_at=parse_instant("2026-12-01T11:10:00+01:00"))
    now = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    with pytest.raises(
        ScheduledLaterError,
        match=r"scheduled for 2026-12-01T10:10:00.000\+00:00, in 2h10m; --now starts it early",
    ):
        check_start(train, now=now, early=False)
    check_start(train, now=now, early=True)
    check_start(train, now=now + timedelta(hours=3), early=False)
    assert [wait_text(s) for s in (59.2, 60, 61, 3600, 90000)] == ["1m", "1m", "1m1s", "1h", "1d1h"]


def test_an_api_train_without_a_zone_in_its_start_time_is_a_422_naming_the_key(
    tmp_path: Path,
) -> None:
    from release_trains.catalog import check_train_definition, load_catalog

    root = tmp_path / "root"
    (root / "catalog").mkdir(parents=True)
    (root / "catalog" / "service-index.yaml").write_text(
        "services:\n  - {name: a, version: 1.0.0}\n", encoding="utf-8"
    )
    (root / "catalog" / "release-trains.yaml").write_text("trains: []\n", encoding="utf-8")
    definition = {
        "name": "api-train",
        "target_version": "2.0.0",
        "participants": ["a"],
        "schedule": {"start_time": "2026-12-01 09:00"},
    }
    found = check_train_definition(load_catalog(root), definition)
    assert found == [
        {
            "path": "$.schedule.start_time",
            "message": "train 'api-train': '2026-12-01 09:00' has no time zone: add one (Z for "
            "UTC, or an offset like +01:00), or it would mean a different moment on each machine",
        }
    ], found
