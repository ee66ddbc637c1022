"""The deployer interface, its request and result, and the one retry-with-backoff helper.

Template fields always speak from the release's point of view: `{version}` is the version
the train releases and `{previous_version}` the one that ran before it. A rollback request
carries `version` = the version to return to and `previous_version` = the version being
left, so `template_values` swaps them for a rollback: that is why the documented
`rollback: ["./bin/deploy", "{service}", "{previous_version}"]` deploys the old version.
An undeploy is the rollback of a first install, shaped the same way: `previous_version` is
the version being removed and `version` is "" (nothing to return to); a request that names
the removed version in `version` instead is read the same. Its templates see `{version}` =
the removed version and no `{previous_version}`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..models import parse_duration
from .templates import Values

BACKOFF_CAP_S = 30.0
ACTIONS = ("deploy", "rollback", "undeploy", "check", "current_version")

Log = Callable[[str], None]
Sleep = Callable[[float], None]


Spawned = Callable[[int], None]


@dataclass(frozen=True)
class DeployRequest:
    """One action on one service. `on_spawn` is told the process group of every command a
    deployer starts for it (the executor records it, so a run that takes over after a kill
    can wait for a deploy still in flight); `deadline` (a time.monotonic() value) is when the
    whole action must end, however many attempts are left (a rollback's overall timeout)."""

    service: str
    version: str
    previous_version: str | None
    train: str
    environment: str
    on_spawn: Spawned | None = field(default=None, compare=False, repr=False)
    deadline: float | None = field(default=None, compare=False)


@dataclass(frozen=True)
class DeployResult:
    ok: bool
    detail: str
    attempts: int = 1
    # the version that runs now, known from the action itself rather than asked afterwards:
    # the local deployer's committed write is the state it reports (confirm needs no read)
    running: str | None = None


class LocalEnvironment(Protocol):
    """Where the local deployer keeps versions (implemented by the state store)."""

    def deployed_version(self, environment: str, service: str) -> str | None: ...

    def set_deployed_version(
        self, environment: str, service: str, version: str | None
    ) -> str | None: ...  # None: undeployed; gives the version it replaces (one transaction)


class Deployer(Protocol):
    @property
    def kind(self) -> str: ...

    def deploy(self, req: DeployRequest) -> DeployResult: ...

    def rollback(self, req: DeployRequest) -> DeployResult:
        """Return to req.version, leaving req.previous_version."""
        ...

    def undeploy(self, req: DeployRequest) -> DeployResult | None:
        """Remove the service (see `removed_version`); None: this deployer cannot."""
        ...

    def can_undeploy(self) -> bool:
        """False: a first install cannot be rolled back by this deployer (a person must)."""
        ...

    def current_version(self, service: str) -> str | None:
        """The deployed version; None: cannot tell (the reason goes to the log)."""
        ...

    def can_report_version(self) -> bool:
        """Whether `current_version` is configured to answer at all: a release is then
        confirmed against it, and a None answer after a deploy is a failure."""
        ...

    def check(self, req: DeployRequest) -> DeployResult | None:
        """Artifact check at staging; None: nothing to check with."""
        ...

    def describe(self, action: str, req: DeployRequest) -> str:
        """The exact call `action` would make, for --dry-run."""
        ...


def confirm(
    deployer: Deployer, *, action: str, service: str, expected: str, result: DeployResult
) -> tuple[DeployResult, bool]:
    """A deploy or rollback that said it succeeded, checked against what the deployer reports
    now, where it can report a version: exit 0 alone does not make a release. A report of
    another version fails it, naming both; no answer (current_version failed or printed no
    version, which it logged) leaves it as it is, and the second value says it is unconfirmed
    so the caller can say so (health verification then decides)."""
    if not result.ok or not expected or not deployer.can_report_version():
        return result, False
    running = result.running or deployer.current_version(service)
    if running is None:
        return result, True
    if running == expected:
        return result, False
    how = "exited 0" if deployer.kind == "command" else "succeeded"
    failed = DeployResult(
        False,
        f"{action} {how} but current_version reports {running}, expected {expected}",
        result.attempts,
    )
    return failed, False


def template_values(action: str, req: DeployRequest) -> Values:
    """The template fields for `action`, from the release's point of view (module docstring)."""
    version: str | None = req.version
    previous = req.previous_version
    if action == "rollback":
        version, previous = req.previous_version, req.version
    elif action == "undeploy":
        version, previous = removed_version(req), None
    return {
        "service": req.service,
        "version": version,
        "previous_version": previous,
        "train": req.train,
        "environment": req.environment,
    }


def removed_version(req: DeployRequest) -> str | None:
    """The version an undeploy request removes (module docstring: both shapes are accepted)."""
    return req.previous_version or req.version or None


def check_action(action: str) -> None:
    if action not in ACTIONS:
        raise ValueError(f"unknown deployer action {action!r}; expected one of {ACTIONS}")


def remaining(deadline: float | None, timeout_s: float) -> float:
    """The time one attempt may take: its own timeout, cut to what is left before `deadline`
    (never negative; 0 means the deadline has passed)."""
    if deadline is None:
        return timeout_s
    return max(0.0, min(timeout_s, deadline - time.monotonic()))


def seconds(settings: Mapping[str, Any], key: str, default: float) -> float:
    """A duration setting (300, "300s", "5m") in seconds."""
    value = settings.get(key)
    return default if value is None else parse_duration(value)


@dataclass(frozen=True)
class Attempt:
    """One try's outcome; `retryable` is False where trying again cannot change it."""

    ok: bool
    detail: str
    retryable: bool = True


@dataclass(frozen=True)
class Retry:
    retries: int = 0
    backoff_s: float = 1.0

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> Retry:
        return cls(int(settings.get("retries", 0)), seconds(settings, "backoff", 1.0))

    def delay(self, retry: int) -> float:
        """Seconds before retry number `retry` (1-based): backoff, doubling, capped at 30 s."""
        return float(min(self.backoff_s * 2 ** (retry - 1), BACKOFF_CAP_S))


def with_retries(
    attempt: Callable[[], Attempt],
    *,
    retry: Retry,
    what: str,
    log: Log,
    sleep: Sleep = time.sleep,
    deadline: float | None = None,
    monotonic: Callable[[], float] = time.monotonic,
) -> DeployResult:
    """Run `attempt` until it succeeds, cannot be retried, or `retry.retries` are spent;
    no retry starts that could not end before `deadline` (a time.monotonic() value)."""
    tries = 0
    while True:
        tries += 1
        result = attempt()
        if result.ok or not result.retryable or tries > retry.retries:
            return DeployResult(result.ok, result.detail, tries)
        wait = retry.delay(tries)
        if deadline is not None and monotonic() + wait >= deadline:
            return DeployResult(
                False,
                f"{result.detail}; no time left for another attempt before the deadline",
                tries,
            )
        log(f"{what}: attempt {tries} failed ({result.detail}); retrying in {wait:g} s")
        sleep(wait)  # backoff: give the target time to recover before the next attempt
