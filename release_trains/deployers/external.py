"""The `external` deployer: for pipelines that deploy on their own (a CI job).

It deploys nothing. The executor marks the service `deploying`, and `deploy` waits until the
pipeline reports what it did (`PUT /api/v1/services/{service}/status` or `release-trains
report-deploy`, both stored as deploy reports in the state store, state/deploys.py):

- a `deployed` report of the run's target version ends the wait: deployed (a health status
  of `unhealthy` in it fails the service, since the pipeline says it is not running well);
- a `failed` report, or a report of another version, fails the service, saying so;
- no report before `timeout` (required: how long the pipeline may take) fails it too.

Only reports made after this deployer was built count: the executor builds one per service
step, just before it marks the service `deploying`, so a report left from an earlier run
never ends a new wait. The store is read every `poll_interval` (default 1 s, from 0.05 s to
60 s); the wait also ends, failing the service, when the run is told to stop (SIGTERM,
Ctrl-C), so a shutdown is never held for the whole timeout.

`current_version` is the version of the service's last `deployed` report (None: never
reported). A rollback waits for a `deployed` report of the version it returns to, in the
same way; an undeploy cannot be waited for (a person removes a first install).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from ..errors import InputError
from ..models import parse_duration
from .base import DeployRequest, DeployResult, Log, check_action

DEFAULT_POLL_S = 1.0
MIN_POLL_S = 0.05
MAX_POLL_S = 60.0
MAX_TIMEOUT_S = 7 * 86400.0  # a week: a pipeline that takes longer is not being waited for


@runtime_checkable
class DeployReports(Protocol):
    """Where reports are read from (implemented by the state store)."""

    def deploy_reports(self, service: str, *, environment: str, after_id: int = 0) -> list[Any]: ...

    def last_deploy_report(
        self, service: str, *, environment: str, status: str | None = None
    ) -> Any: ...

    def last_deploy_report_id(self) -> int: ...


def _setting_s(settings: Mapping[str, Any], key: str) -> float | None:
    value = settings.get(key)
    if value is None:
        return None
    try:
        seconds = parse_duration(value)
    except (TypeError, ValueError, KeyError):
        seconds = math.nan
    if not math.isfinite(seconds):
        raise InputError(f"external deployer: {key} {value!r} is not a duration")
    return seconds


@dataclass(frozen=True)
class ExternalDeployer:
    reports: DeployReports | None  # None: no store to read reports from (a dry run)
    environment: str
    log: Log
    timeout_s: float
    poll_s: float = DEFAULT_POLL_S
    stop: threading.Event = field(default_factory=threading.Event, compare=False)
    monotonic: Callable[[], float] = field(default=time.monotonic, compare=False)
    after_id: int = 0  # only reports newer than this one count (see the module's text)
    kind: str = field(default="external", init=False)

    @classmethod
    def from_settings(
        cls,
        settings: Mapping[str, Any],
        *,
        store: object,
        environment: str,
        log: Log,
        stop: threading.Event | None = None,
    ) -> ExternalDeployer:
        timeout = _setting_s(settings, "timeout")
        if timeout is None:
            raise InputError(
                "external deployer needs a timeout: how long to wait for the pipeline's report "
                "(e.g. timeout: 1h)"
            )
        if not 0 < timeout <= MAX_TIMEOUT_S:
            raise InputError(
                f"external deployer: timeout {settings['timeout']!r} must be more than 0 s and "
                f"at most {MAX_TIMEOUT_S / 86400:g} days"
            )
        poll = _setting_s(settings, "poll_interval")
        if poll is None:
            poll = DEFAULT_POLL_S
        if not MIN_POLL_S <= poll <= MAX_POLL_S:
            raise InputError(
                f"external deployer: poll_interval {settings['poll_interval']!r} must be from "
                f"{MIN_POLL_S:g} s to {MAX_POLL_S:g} s"
            )
        reports = store if isinstance(store, DeployReports) else None
        return cls(
            reports,
            environment,
            log,
            timeout,
            poll,
            stop if stop is not None else threading.Event(),
            after_id=reports.last_deploy_report_id() if reports is not None else 0,
        )

    def deploy(self, req: DeployRequest) -> DeployResult:
        return self._wait(req, req.version, "deploy")

    def rollback(self, req: DeployRequest) -> DeployResult:
        return self._wait(req, req.version, "rollback")

    def undeploy(self, req: DeployRequest) -> DeployResult | None:
        return None

    def can_undeploy(self) -> bool:
        return False

    def can_report_version(self) -> bool:
        return True

    def current_version(self, service: str) -> str | None:
        if self.reports is None:
            return None
        last = self.reports.last_deploy_report(
            service, environment=self.environment, status="deployed"
        )
        return str(last.version) if last is not None else None

    def check(self, req: DeployRequest) -> DeployResult | None:
        return None

    def describe(self, action: str, req: DeployRequest) -> str:
        check_action(action)
        if action == "current_version":
            return f"the version of {req.service}'s last `deployed` report in the state store"
        if action in ("check", "undeploy"):
            return f"external deployer: no {action} (the pipeline deploys on its own)"
        version = req.version
        return (
            f"external deployer: wait up to {self.timeout_s:g} s for the pipeline to report "
            f"{req.service} {version} (PUT /api/v1/services/{req.service}/status or "
            f"release-trains report-deploy {req.service} --status deployed --version {version})"
        )

    def _wait(self, req: DeployRequest, version: str, action: str) -> DeployResult:
        what = f"{req.service} {version}"
        if self.reports is None:
            return DeployResult(
                False, f"external deployer: no state store to read reports of {what}"
            )
        deadline = self.monotonic() + self.timeout_s
        if req.deadline is not None:
            deadline = min(deadline, req.deadline)
        self.log(
            f"{req.service}: waiting up to {deadline - self.monotonic():.0f} s for the pipeline"
        )
        while True:
            # the first report after this deployer was built decides (module's text)
            for report in self.reports.deploy_reports(
                req.service, environment=req.environment, after_id=self.after_id
            ):
                return _outcome(report, what, version, action)
            left = deadline - self.monotonic()
            if left <= 0:
                return DeployResult(
                    False,
                    f"no report from the pipeline of {what} within {self.timeout_s:g} s "
                    f"(external deployer timeout): report it with PUT "
                    f"/api/v1/services/{req.service}/status or release-trains report-deploy",
                )
            # the poll interval bounds how late a report is seen; stop.wait ends at once on a stop
            if self.stop.wait(min(self.poll_s, left)):
                return DeployResult(
                    False,
                    f"stopped (SIGTERM/Ctrl-C) while waiting for the pipeline's report of {what}",
                )


def _outcome(report: Any, what: str, version: str, action: str) -> DeployResult:
    by = f"reported by {report.reported_by}"
    said = f": {report.detail}" if report.detail else ""
    if report.status != "deployed":
        return DeployResult(False, f"the pipeline reported {action} of {what} failed ({by}){said}")
    if report.version != version:
        return DeployResult(
            False,
            f"the pipeline reported {report.version} deployed, expected {version} ({by}){said}",
        )
    if (report.health_status or "").lower() == "unhealthy":
        return DeployResult(
            False, f"the pipeline reported {what} deployed but unhealthy ({by}){said}"
        )
    health = f", health {report.health_status}" if report.health_status else ""
    return DeployResult(True, f"the pipeline reported {what} deployed ({by}{health}){said}")
