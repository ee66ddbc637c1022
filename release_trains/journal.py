"""One place that records what happens during a run: the state store's events (for status and
reports), the human-readable `release_monitoring.log`, and, for state-changing actions, the
audit log. Callers say it once; the three never disagree.
"""

from __future__ import annotations

import getpass
import os
import socket
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from . import audit
from .state import Store
from .text import printable


def actor() -> str:
    """user@host, as the audit record wants it; RELEASE_TRAINS_ACTOR overrides (CI bots)."""
    if os.environ.get("RELEASE_TRAINS_ACTOR"):
        return os.environ["RELEASE_TRAINS_ACTOR"]
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    return f"{user}@{socket.gethostname()}"


def log_path(root: Path) -> Path:
    return root / "analysis" / "reports" / "release_monitoring.log"


class Journal:
    def __init__(
        self,
        *,
        root: Path,
        store: Store,
        train: str,
        run_id: int,
        clock: Callable[[], datetime],
        who: str,
        echo: Callable[[str], None] | None = None,
    ) -> None:
        self.root = root
        self.store = store
        self.train = train
        self.run_id = run_id
        self.clock = clock
        self.who = who
        self.echo = echo  # the CLI's progress printer, if any
        self._lock = threading.Lock()
        path = log_path(root)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Line-buffered, no fsync per line: the state store is the durable record.
        self._log = open(path, "a", buffering=1, encoding="utf-8")  # noqa: SIM115

    def now(self) -> str:
        return self.clock().isoformat(timespec="milliseconds")

    def event(
        self,
        kind: str,
        message: str,
        *,
        service: str | None = None,
        audit_detail: Any = None,
        audited: bool = False,
    ) -> None:
        ts = self.now()
        self.store.add_event(self.run_id, ts=ts, kind=kind, service=service, message=message)
        where = f" {service}" if service else ""
        # One line per event, whatever the message holds: a newline in a reason or in a
        # command's output must not forge a line, nor an escape sequence reach a terminal.
        line = printable(f"{ts} {self.train}{where} {kind}: {message}")
        with self._lock:
            self._log.write(line + "\n")
            if audited:
                audit.append(
                    audit.path_for(self.root),
                    store=self.store,
                    ts=ts,
                    actor=self.who,
                    action=kind,
                    train=self.train,
                    service=service,
                    detail=audit_detail if audit_detail is not None else message,
                )
        if self.echo:
            self.echo(line)

    def output(self, line: str) -> None:
        """A deploy or probe command's output line: monitoring log only."""
        with self._lock:
            self._log.write(printable(f"{self.now()} {self.train} output: {line}") + "\n")

    def close(self) -> None:
        self._log.close()
