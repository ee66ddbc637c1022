"""The embedded default: versions live in the state store, each change one atomic write.

Nothing is fetched or started, so a deploy cannot fail on its own; an error from the store
(busy, unwritable) propagates unchanged, because it is a state problem, not a failed deploy.
Every text it gives (plans, dry runs, events, evidence) says so: on a real catalog, "set
curve-service 0.1.0 -> 2.0.0" read as if something had been deployed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .base import (
    DeployRequest,
    DeployResult,
    LocalEnvironment,
    Log,
    check_action,
    removed_version,
)


@dataclass(frozen=True)
class LocalDeployer:
    store: LocalEnvironment
    environment: str
    log: Log
    kind: str = field(default="local", init=False)

    def deploy(self, req: DeployRequest) -> DeployResult:
        return self._set(req, req.version)

    def rollback(self, req: DeployRequest) -> DeployResult:
        return self._set(req, req.version)

    def undeploy(self, req: DeployRequest) -> DeployResult | None:
        return self._set(req, None)

    def can_undeploy(self) -> bool:
        return True

    def can_report_version(self) -> bool:
        return True

    def current_version(self, service: str) -> str | None:
        return self.store.deployed_version(self.environment, service)

    def check(self, req: DeployRequest) -> DeployResult | None:
        return DeployResult(True, f"{PREFIX} nothing to fetch")

    def describe(self, action: str, req: DeployRequest) -> str:
        check_action(action)
        if action == "current_version":
            return f"{PREFIX} read the version of {req.service} recorded in the state store"
        if action == "check":
            return f"{PREFIX} nothing to fetch"
        if action == "undeploy":
            return _change(req, removed_version(req), None)
        return _change(req, req.previous_version, req.version)

    def _set(self, req: DeployRequest, version: str | None) -> DeployResult:
        # The evidence names what the store held, which is the truth even if the request's
        # previous_version was stale.
        old = self.store.set_deployed_version(req.environment, req.service, version)
        detail = _change(req, old, version)
        self.log(f"{req.service}: {detail}")
        return DeployResult(True, detail, running=version)


PREFIX = "local deployer (deploys nothing):"


def _change(req: DeployRequest, old: str | None, new: str | None) -> str:
    where = f"was {old or '(none)'}, environment {req.environment}"
    if new is None:
        return f"{PREFIX} remove {req.service} from the state store ({where})"
    return f"{PREFIX} record {req.service} {new} in the state store ({where})"
