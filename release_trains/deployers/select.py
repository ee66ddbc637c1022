"""Which deployer a service gets, with which settings, and what runs now: what the executor,
rollback, `plan` and dry runs all need, kept below each of them."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from . import build_deployer
from .base import Deployer, LocalEnvironment

if TYPE_CHECKING:
    from ..models import Catalog, Service
    from ..state import Store


def deployer_settings(catalog: Catalog, service: Service) -> dict[str, Any]:
    """Config `deployer:` with the service's own `release.deployer` keys on top; a service
    that names another deployer type takes only its own settings."""
    own = dict(service.release.get("deployer") or {})
    base = dict(catalog.config.deployer)
    if "type" in own and own["type"] != base.get("type", "local"):
        return own
    return {**base, **own}


def deployer_for(
    catalog: Catalog,
    service: Service,
    *,
    store: LocalEnvironment,
    log: Callable[[str], None],
    stop: threading.Event | None = None,
) -> Deployer:
    return build_deployer(
        deployer_settings(catalog, service),
        store=store,
        environment=catalog.config.environment,
        log=log,
        root=catalog.root,
        stop=stop,
    )


def current_versions(
    catalog: Catalog, store: Store | None, services: list[Service]
) -> dict[str, str]:
    """What runs now, per service: the deployer's answer, else what the store recorded."""
    environment = catalog.config.environment
    recorded = store.deployed_versions(environment) if store else {}
    here: LocalEnvironment = store if store is not None else NoStore()
    out: dict[str, str] = {}
    for s in services:
        deployer = deployer_for(catalog, s, store=here, log=lambda _: None)
        if deployer.kind == "local":  # its answer is that record (of this environment)
            version = recorded.get(s.name)  # so no read per service
        else:
            version = deployer.current_version(s.name) or recorded.get(s.name)
        if version:
            out[s.name] = version
    return out


class NoStore:
    """Stands in for the store where none exists yet (dry runs on a fresh checkout)."""

    def deployed_version(self, environment: str, service: str) -> str | None:
        return None

    def set_deployed_version(
        self, environment: str, service: str, version: str | None
    ) -> str | None:
        raise RuntimeError("a dry run never deploys")
