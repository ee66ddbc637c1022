"""Shared by the scripts: they keep the seed documentation's flags and call the one CLI."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # runnable before `pip install`

from release_trains.cli.main import main


def run(argv: Sequence[str]) -> None:
    sys.exit(main(list(argv)))
