"""What a run (execute, resume, rollback) is given besides the catalog and the store: time,
identity, how wide it may go and how it is told to stop. The CLI builds it; tests build it
directly with their own clock."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

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
    # The notifications' Delivery (notify/sender.py) the run queues through; None: the run
    # starts a sender of its own and waits (bounded) on the way out for what it queued. A
    # worker passes one over its long-lived sender; `execute --due` may pass one for all.
    delivery: Any = None

    def now(self) -> str:
        return self.clock().isoformat(timespec="milliseconds")
