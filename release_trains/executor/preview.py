"""`execute --dry-run`: a preview of exactly what a run would do, changing nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from ..deployers.base import DeployRequest, LocalEnvironment
from ..deployers.select import NoStore, current_versions, deployer_for
from ..errors import InputError
from ..models import Catalog
from ..planning import find_train, plan_train, resolve_participants
from ..state import Store


def dry_run(
    catalog: Catalog, store: Store | None, train: str, *, clock: Callable[[], datetime]
) -> dict[str, Any]:
    t = find_train(catalog, train)
    services = resolve_participants(catalog, t)
    plan = plan_train(
        catalog, train, now=clock(), current_versions=current_versions(catalog, store, services)
    )
    here: LocalEnvironment = store if store is not None else NoStore()
    steps = []
    for name in plan.ordering.order:
        p = plan.service(name)
        deployer = deployer_for(catalog, catalog.services[name], store=here, log=lambda _: None)
        req = DeployRequest(
            name,
            p.to_version or p.from_version or "?",
            p.from_version,
            train,
            catalog.config.environment,
        )
        try:
            call = deployer.describe("deploy", req)
        except InputError as e:
            call = f"refused: {e}"
        steps.append(
            {
                "service": name,
                "from_version": p.from_version,
                "to_version": p.to_version,
                "call": call,
            }
        )
    return {"train": train, "dry_run": True, "ready": plan.ready, "problems": list(plan.problems),
            "waves": [list(w) for w in plan.ordering.waves], "steps": steps}  # fmt: skip
