"""The run context: everything one run of a train works with, built fully formed before the
first phase starts (so no phase asks whether the run, its journal or its lease exist yet),
and the outcome a run ends with."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..deployers.base import Deployer, DeployRequest
from ..deployers.select import deployer_for
from ..errors import EXIT_NO, EXIT_OK
from ..journal import Journal
from ..leases import Lease
from ..models import Catalog, Service, Train
from ..runtime import Settings
from ..state import Run, Step, Store


@dataclass(frozen=True)
class RunContext:
    catalog: Catalog
    store: Store  # fenced by the lease: no write lands once the lease is lost
    train: Train
    services: tuple[Service, ...]  # the train's participants
    run: Run  # as it was when the run (re)started; its status lives in the store
    journal: Journal
    settings: Settings
    lease: Lease

    @property
    def run_id(self) -> int:
        return self.run.id

    @property
    def name(self) -> str:
        return self.train.name

    @property
    def environment(self) -> str:
        return self.catalog.config.environment

    def now(self) -> str:
        return self.settings.now()

    def status(self) -> str:
        """The run's status as the store has it now."""
        run = self.store.run(self.run.id)
        return run.status if run else self.run.status

    def steps(self) -> list[Step]:
        return self.store.steps(self.run.id)

    def step(self, name: str) -> Step:
        return next(s for s in self.steps() if s.service == name)

    def deployer(self, service: Service) -> Deployer:
        return deployer_for(
            self.catalog,
            service,
            store=self.store,
            log=self.journal.output,
            stop=self.settings.stop,
        )

    def request(self, service: str, version: str, previous: str | None) -> DeployRequest:
        return DeployRequest(
            service=service,
            version=version,
            previous_version=previous,
            train=self.train.name,
            environment=self.environment,
        )

    def rollback_enabled(self) -> bool:
        """The train's rollback.enabled, else config rollback.enabled (default false)."""
        enabled = self.train.rollback.enabled
        return self.catalog.config.rollback_enabled if enabled is None else bool(enabled)


@dataclass(frozen=True)
class RunOutcome:
    train: str
    run_id: int
    status: str
    reason: str | None
    steps: tuple[Step, ...] = ()

    @property
    def exit_code(self) -> int:
        return EXIT_OK if self.status == "completed" else EXIT_NO

    def to_json(self) -> dict[str, Any]:
        return {
            "train": self.train,
            "run_id": self.run_id,
            "status": self.status,
            "reason": self.reason,
            "services": [
                {
                    "service": s.service,
                    "status": s.status,
                    "from_version": s.from_version,
                    "to_version": s.to_version,
                    "attempts": s.attempts,
                    "health": s.health,
                    "error": s.error,
                }
                for s in self.steps
            ],
        }
