"""Deploy by running the user's own commands: argv templates, never a shell.

Settings: `deploy` (required), `rollback` (default: the deploy template for the version to
return to), `undeploy`, `current_version` (prints the deployed version), `check` (artifact
check at staging), `timeout` (s, default 300, per attempt), `retries` (default 0), `backoff`.
Relative executables like `./bin/deploy` resolve against `root`, the project root (--root),
not the working directory (executables.py).
A request's `deadline` cuts an attempt's timeout to the time left, and its `on_spawn` is told
the process group of every command started for it.
Exit status 0 is success; output lines are logged as `<service>: <line>`, the first 64 KiB as
they come and the last 64 KiB when the command ends, with `[... N bytes cut]` between them
(deployers/process.py); a failure quotes at most 500 characters of the last line.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..executables import resolve_argv
from .base import (
    Attempt,
    DeployRequest,
    DeployResult,
    Log,
    Retry,
    Sleep,
    check_action,
    remaining,
    seconds,
    template_values,
    with_retries,
)
from .process import GRACE_S, RunResult, run
from .templates import VALUE, Values, fields_used, render_argv

TEMPLATES = ("deploy", "rollback", "undeploy", "current_version", "check")
# current_version is asked outside any release: only these fields have values then.
_CURRENT_VERSION_FIELDS = {"service", "environment"}


@dataclass(frozen=True)
class CommandDeployer:
    templates: Mapping[str, tuple[str, ...]]  # action -> argv template
    environment: str
    log: Log
    timeout_s: float = 300.0
    retry: Retry = field(default_factory=Retry)
    sleep: Sleep = time.sleep
    grace_s: float = GRACE_S
    root: Path | None = None  # relative executables resolve against it (None: the cwd)
    kind: str = field(default="command", init=False)

    @classmethod
    def from_settings(
        cls,
        settings: Mapping[str, Any],
        *,
        environment: str,
        log: Log,
        sleep: Sleep = time.sleep,
        root: Path | None = None,
    ) -> CommandDeployer:
        templates = {k: tuple(settings[k]) for k in TEMPLATES if settings.get(k)}
        if "deploy" not in templates:
            raise InputError("deployer type command needs a `deploy` argv template")
        for name, argv in templates.items():
            used = fields_used(argv)  # an unknown field fails here, before any train starts
            if name == "current_version" and not used <= _CURRENT_VERSION_FIELDS:
                raise InputError(
                    "the current_version template may use only {service} and {environment}"
                )
        return cls(
            templates,
            environment,
            log,
            timeout_s=seconds(settings, "timeout", 300.0),
            retry=Retry.from_settings(settings),
            sleep=sleep,
            root=root,
        )

    def deploy(self, req: DeployRequest) -> DeployResult:
        return self._act("deploy", req)

    def rollback(self, req: DeployRequest) -> DeployResult:
        return self._act("rollback", req)

    def undeploy(self, req: DeployRequest) -> DeployResult | None:
        return self._act("undeploy", req) if "undeploy" in self.templates else None

    def can_undeploy(self) -> bool:
        return "undeploy" in self.templates

    def check(self, req: DeployRequest) -> DeployResult | None:
        return self._act("check", req) if "check" in self.templates else None

    def can_report_version(self) -> bool:
        return "current_version" in self.templates

    def current_version(self, service: str) -> str | None:
        template = self.templates.get("current_version")
        if template is None:
            return None
        argv = self._argv(template, {"service": service, "environment": self.environment})
        version, why = _version_from(self._run(service, argv), timeout_s=self.timeout_s)
        if version is None:
            self.log(f"{service}: current version unknown: {_shown(argv)} -> {why}")
        return version

    def describe(self, action: str, req: DeployRequest) -> str:
        check_action(action)
        if action == "current_version":
            template = self.templates.get(action)
            values: Values = {"service": req.service, "environment": req.environment}
        else:
            template, values = self._template(action, req)
        if template is None:
            return f"command: none configured for {action}"
        return f"command: {_shown(self._argv(template, values))}"

    def _template(self, action: str, req: DeployRequest) -> tuple[tuple[str, ...] | None, Values]:
        if action == "rollback" and "rollback" not in self.templates:
            # The default rollback deploys the version to return to with the deploy template.
            return self.templates["deploy"], template_values("deploy", req)
        return self.templates.get(action), template_values(action, req)

    def _act(self, action: str, req: DeployRequest) -> DeployResult:
        template, values = self._template(action, req)
        assert template is not None  # callers only ask for configured actions
        argv = self._argv(template, values)  # InputError on a bad value, before anything runs

        def attempt() -> Attempt:
            timeout_s = remaining(req.deadline, self.timeout_s)
            if timeout_s <= 0:
                return Attempt(False, f"command: {_shown(argv)} -> not started: deadline passed")
            result = self._run(req.service, argv, timeout_s=timeout_s, on_start=req.on_spawn)
            if result.ok:
                return Attempt(True, f"command: {_shown(argv)} -> exit 0")
            reason = result.reason(timeout_s)
            if result.timed_out and timeout_s < self.timeout_s:
                reason += " at the deadline of the whole operation"
            # A missing executable stays missing: retrying would only delay the verdict.
            return Attempt(False, f"command: {_shown(argv)} -> {reason}", result.error is None)

        what = f"{req.service}: {action}"
        return with_retries(
            attempt,
            retry=self.retry,
            what=what,
            log=self.log,
            sleep=self.sleep,
            deadline=req.deadline,
        )

    def _argv(self, template: Sequence[str], values: Values) -> list[str]:
        return resolve_argv(render_argv(template, values), self.root)

    def _run(
        self,
        service: str,
        argv: Sequence[str],
        *,
        timeout_s: float | None = None,
        on_start: Callable[[int], None] | None = None,
    ) -> RunResult:
        return run(
            argv,
            timeout_s=self.timeout_s if timeout_s is None else timeout_s,
            on_line=lambda line: self.log(f"{service}: {line}"),
            grace_s=self.grace_s,
            on_start=on_start,
        )


def _version_from(result: RunResult, *, timeout_s: float) -> tuple[str | None, str]:
    """The version a current_version command printed, or None and why not."""
    if not result.ok:
        return None, result.reason(timeout_s)
    if result.cut_bytes:  # output over KEEP_BYTES is no version, whatever its end says
        return None, f"printed over {result.cut_bytes} bytes, which is not one version"
    text = "\n".join(result.lines).strip()
    if not text:
        return None, "printed nothing"
    if not VALUE.fullmatch(text):
        # stderr is merged in: a warning beside the version must not be read as the version.
        return None, f"printed {text[:80]!r}, which is not one version"
    return text, ""


def _shown(argv: Sequence[str]) -> str:
    return shlex.join(argv)
