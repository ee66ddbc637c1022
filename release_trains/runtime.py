"""What a run (execute, resume, rollback) is given besides the catalog and the store: time,
identity, how wide it may go and how it is told to stop. The CLI builds it; tests build it
directly with their own clock."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from .identity import host


@dataclass
class Settings:
    clock: Callable[[], datetime]
    who: str  # the actor: user@host
    max_parallel: int = 1
    echo: Callable[[str], None] | None = None  # progress lines (the CLI's stderr printer)
    stop: threading.Event = field(default_factory=threading.Event)  # SIGTERM / Ctrl-C
    sleep: Callable[[float], None] | None = None
    host: str = field(default_factory=host)  # this machine, as locks and deploys record it
    # Services whose deploy recorded on another host the operator declares ended
    # (`--deploy-ended S`): it cannot be checked from here, so only they may say so.
    deploys_ended: frozenset[str] = frozenset()
    # Start a notification sender for the run and wait (bounded) on the way out for what it
    # queued; a worker, which runs a sender of its own for its whole life, passes False.
    own_sender: bool = True

    def now(self) -> str:
        return self.clock().isoformat(timespec="milliseconds")
