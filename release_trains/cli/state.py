"""What the commands ask of the state store before it exists as a module of its own."""

from __future__ import annotations

from ..models import Catalog
from .context import Options


def known_versions(opts: Options, catalog: Catalog) -> dict[str, str]:
    """Versions the state store recorded as deployed; empty until the executor has run."""
    return {}


def train_status(opts: Options, train: str) -> str | None:
    return None
