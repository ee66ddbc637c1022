"""The domain, as frozen data classes built only from validated data (see catalog.py).

Raw dicts stop at catalog.py: everything after it speaks in these types.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any

from .gates_parser import Expression


class Outcome(str, Enum):
    """The outcome of a gate or a dependency check (str so it serialises as itself)."""

    PASS = "pass"
    FAIL = "fail"
    UNKNOWN = "unknown"
    ERROR = "error"


class GateCheck(str, Enum):
    """What a gate measures. Every gate form (string, custom, object) maps onto one of these."""

    QUALITY = "quality"  # every participant's quality score
    COVERAGE = "coverage"  # every participant's test coverage, in percent
    CRITICAL_VULNS = "critical_vulns"  # every participant's open critical vulnerabilities
    HEALTHY = "healthy"  # every participant's configured health check
    FAILURE_RATE = "failure_rate"  # every participant's failure rate, in percent
    SIGNAL = "signal"  # a named value from config `signals:`
    APPROVAL = "approval"  # people's sign-off, asked for during the run (approvals.py)


@dataclass(frozen=True)
class Service:
    name: str
    version: str | None
    aliases: tuple[str, ...] = ()
    depends_on: tuple[str, ...] = ()  # dependencies.internal, names only
    api_contracts: tuple[tuple[str, str | None], ...] = ()
    quality_score: float | None = None
    coverage: float | None = None  # percent (catalog fractions are converted)
    critical_vulns: int | None = None
    failure_rate: float | None = None  # percent of failed builds (quality data)
    release: Mapping[str, Any] = field(default_factory=dict)  # the service's `release:` overrides


@dataclass(frozen=True)
class Participant:
    name: str  # as written in the train
    version: str | None = None  # the participant's own target version, if given


@dataclass(frozen=True)
class Dependency:
    kind: str  # "spec" | "library"
    name: str
    constraint: str  # "" means any version


@dataclass(frozen=True)
class Gate:
    label: str  # how people wrote it, shown in plans and reports
    check: GateCheck
    comparison: Expression | None = None  # quality/coverage/signal thresholds
    signals: tuple[str, ...] = ()  # signal names to look up, first found wins
    max_vulns: int | None = None
    required: bool = True
    when: str = "before"  # before | during | after
    origin: str = "train"  # "train" or "config" (the standard quality gates)
    # an approval gate: who may decide (empty: anyone with the operator role) and how many
    # approvals it needs
    approvers: tuple[str, ...] = ()
    min_approvals: int = 1


@dataclass(frozen=True)
class Trigger:
    """A rollback trigger: `expression` is the bad condition; fires after `for_count` bad reads."""

    name: str
    expression: Expression
    for_count: int = 1


@dataclass(frozen=True)
class RollbackPolicy:
    enabled: bool | None = None  # None: fall back to config, then false
    timeout_s: float | None = None
    health_check_threshold: float | None = None
    triggers: tuple[Trigger, ...] = ()


@dataclass(frozen=True)
class Train:
    name: str
    participants: tuple[Participant, ...]
    target_version: str | None = None
    description: str = ""
    dependencies: tuple[Dependency, ...] = ()
    gates: tuple[Gate, ...] = ()
    status: str = "planning"
    estimated_duration_s: float | None = None
    start_time: str | None = None  # as written
    starts_at: datetime | None = None  # start_time parsed (it always carries a zone)
    rollback: RollbackPolicy = RollbackPolicy()
    # the train as written in its file (the API's GET .../{train} shows it); not compared
    definition: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)
    source: str = "catalog"  # "api": defined through the API (state/trains.py)


@dataclass(frozen=True)
class FreezeWindow:
    """A config freeze window (`release_trains.freeze_windows`): fixed (`start`..`end`) or
    recurring (from each time `cron` fires, in `timezone`, for `duration_s`)."""

    name: str
    reason: str
    start: datetime | None = None
    end: datetime | None = None
    cron: str | None = None
    duration_s: float = 0.0
    timezone: str = "UTC"


@dataclass(frozen=True)
class QualityGates:
    min_quality_score: float | None = 80
    max_critical_vulns: int | None = 0
    min_coverage: float | None = None  # opt-in: most real catalogs sit well below 75 %
    # opt-in: it was accepted and ignored before it was checked, so catalogs without failure
    # data keep the plans they had
    max_failure_rate: float | None = None


@dataclass(frozen=True)
class Config:
    """The `release_trains:` section of config/upgrade-policies.yaml, with defaults applied."""

    environment: str = "production"
    quality_gates: QualityGates = QualityGates()
    health_check_timeout_s: float = 300
    dependency_check_timeout_s: float = 60
    rollback_timeout_s: float = 600
    per_service_estimate_s: float = 600
    deployer: Mapping[str, Any] = field(default_factory=dict)
    health: Mapping[str, Any] = field(default_factory=dict)
    signals: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    rollback_enabled: bool = False
    triggers: tuple[Trigger, ...] = ()
    trigger_interval_s: float = 5  # between trigger readings while verifying
    max_parallel: int = 1
    lock_stale_after_s: float = 120
    notifications: Mapping[str, Any] = field(default_factory=dict)
    freeze_windows: tuple[FreezeWindow, ...] = ()


@dataclass(frozen=True)
class Catalog:
    root: Path
    services: Mapping[str, Service]
    aliases: Mapping[str, tuple[str, ...]]  # alias -> the services declaring it
    trains: Mapping[str, Train]
    specs: Mapping[str, tuple[str, ...]]  # spec name -> versions published anywhere
    libraries: Mapping[str, tuple[str, ...]]
    config: Config
    files: Mapping[str, Path]  # "trains", "services", ... -> the file actually read

    def graph(self) -> dict[str, tuple[str, ...]]:
        return {name: s.depends_on for name, s in self.services.items()}


_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([a-z]+)")
_UNIT_SECONDS = {
    "ms": 0.001,
    "s": 1,
    "sec": 1,
    "secs": 1,
    "second": 1,
    "seconds": 1,
    "m": 60,
    "min": 60,
    "mins": 60,
    "minute": 60,
    "minutes": 60,
    "h": 3600,
    "hr": 3600,
    "hrs": 3600,
    "hour": 3600,
    "hours": 3600,
    "d": 86400,
    "day": 86400,
    "days": 86400,
}


def parse_duration(value: float | int | str) -> float:
    """Seconds from 300, "300s", "10m", "2 hours", "1h30m" (the schema has checked the shape)."""
    if isinstance(value, (int, float)):
        return float(value)
    return sum(float(n) * _UNIT_SECONDS[u] for n, u in _DURATION_PART.findall(value.lower()))
