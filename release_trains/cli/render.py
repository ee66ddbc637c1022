"""Small formatting helpers shared by the commands' human output."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..models import Catalog

# One format for every length of time (CLI, reports, logs); `duration` is its name here.
from ..durations import format_duration as duration

__all__ = ["duration", "local_note", "local_services", "outcome_style"]


def outcome_style(outcome: str) -> str:
    return {
        "pass": "green",
        "satisfied": "green",
        "released": "green",
        "completed": "green",
        "healthy": "green",
        "fail": "red",
        "failed": "red",
        "unsatisfied": "red",
        "unhealthy": "red",
        "error": "red",
        "unknown": "yellow",
    }.get(outcome, "white")


def local_services(catalog: Catalog, names: Sequence[str]) -> list[str]:
    """The services (of `names`) that the embedded `local` deployer releases, as
    deployers.select.deployer_settings decides: a service's own `release.deployer.type`, else the
    config's, else local. Read here without importing the executor (start-up time)."""
    base = catalog.config.deployer.get("type", "local")
    out = []
    for name in names:
        service = catalog.services.get(name)
        own = (service.release.get("deployer") if service else None) or {}
        if own.get("type", base) == "local":
            out.append(name)
    return out


def local_note(services: Sequence[str]) -> str:
    return (
        f"Deployer: local for {', '.join(services)}: it records versions in the state store and "
        "deploys nothing (set release_trains.deployer in config/upgrade-policies.yaml to deploy "
        "for real)"
    )
