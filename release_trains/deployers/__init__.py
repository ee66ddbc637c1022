"""Deployers: local (the embedded default), command (argv templates), http (webhook),
external (waits for a pipeline's report).

`build_deployer` picks one from the `deployer:` settings (config, or a service's `release:`
override). The http deployer is imported only when chosen, so httpx is loaded only then.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import InputError
from .base import Deployer, DeployRequest, DeployResult, LocalEnvironment, Log, Sleep
from .command import CommandDeployer
from .local import LocalDeployer

__all__ = [
    "DeployRequest",
    "DeployResult",
    "Deployer",
    "LocalEnvironment",
    "build_deployer",
]

KINDS = ("local", "command", "http", "external")


def build_deployer(
    settings: Mapping[str, Any],
    *,
    store: LocalEnvironment,
    environment: str,
    log: Log,
    sleep: Sleep = time.sleep,
    root: Path | None = None,
    stop: threading.Event | None = None,
) -> Deployer:
    """The deployer `settings["type"]` names (default local); InputError if it is unusable.
    `root` is what relative executables resolve against (the project root); `stop` ends a
    wait for an external pipeline (the run was told to stop)."""
    kind = settings.get("type", "local")
    if kind == "local":
        return LocalDeployer(store, environment, log)
    if kind == "command":
        return CommandDeployer.from_settings(
            settings, environment=environment, log=log, sleep=sleep, root=root
        )
    if kind == "http":
        from .http import HttpDeployer

        return HttpDeployer.from_settings(settings, environment=environment, log=log, sleep=sleep)
    if kind == "external":
        from .external import ExternalDeployer

        return ExternalDeployer.from_settings(
            settings, store=store, environment=environment, log=log, stop=stop
        )
    raise InputError(f"unknown deployer type {kind!r}; expected one of {', '.join(KINDS)}")
