"""One place that records what happens during a run: the state store's events (for status and
reports), the human-readable `release_monitoring.log`, and, for state-changing actions, the
audit log. Callers say it once; the three never disagree.

What one event writes to the store is one transaction: the event row, the step change it reports
(`step=`, if any) and, when audited, its audit record (Store.record). An audited event's line
is then copied into this machine's audit.log under the file's lock (audit.write). Inside
`batch()`, plain events (neither audited nor changing a step) wait and are written together in
one transaction when the batch ends, or before the next event that cannot wait.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import audit
from .errors import ReleaseTrainError
from .identity import host as this_host
from .state import AuditEntry, AuditRecord, Store
from .state.chain import Adoption
from .text import printable

if TYPE_CHECKING:
    from .notify.announce import Announcer


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
        host: str | None = None,
        echo: Callable[[str], None] | None = None,
        notify: Announcer | None = None,
    ) -> None:
        self.root = root
        self.notify = notify  # the train's notifications: rows queued with the events they announce
        self.store = store
        self.train = train
        self.run_id = run_id
        self.clock = clock
        self.who = who
        # the machine its audit records come from (None: identity.host(), as Settings does)
        self.origin = audit.origin_for(root, host=host if host is not None else this_host())
        self.echo = echo  # the CLI's progress printer, if any
        self._lock = threading.Lock()
        self._pending: list[tuple[str, str, str | None, str]] | None = None  # see batch()
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
        step: Mapping[str, Any] | None = None,
        deployed: tuple[str, str, str] | None = None,
    ) -> None:
        """Record that `kind` happened (and, with `step`, the change it made to `service`'s
        step; with `deployed`, (environment, version, since when) now running `service`: all in
        the same transaction)."""
        ts = self.now()
        entry = None
        if audited:
            detail = audit_detail if audit_detail is not None else message
            entry = AuditEntry(ts, self.who, kind, self.train, service, detail)

        outbox = (
            self.notify.rows_for(
                run_id=self.run_id, kind=kind, message=message, service=service, ts=ts
            )
            if self.notify is not None
            else None
        )

        def commit(adopt: Callable[[], Adoption] | None = None) -> AuditRecord | None:
            return self.store.record(
                self.run_id,
                ts=ts,
                kind=kind,
                service=service,
                message=message,
                step=step,
                deployed=deployed,
                audit=entry,
                origin=self.origin,
                adopt=adopt,
                outbox=outbox,
            )

        where = f" {service}" if service else ""
        # One line per event, whatever the message holds: a newline in a reason or in a
        # command's output must not forge a line, nor an escape sequence reach a terminal.
        line = printable(f"{ts} {self.train}{where} {kind}: {message}")
        if (
            self._pending is not None
            and not audited
            and not step
            and outbox is None
            and not deployed
        ):
            self._pending.append((ts, kind, service, message))  # written when the batch ends
        else:
            self._flush()  # in order: what waited is written before this one
            if audited:
                audit.write(audit.path_for(self.root), commit)
            else:
                commit()
            if outbox is not None and self.notify is not None:
                self.notify.written()
        with self._lock:
            self._log.write(line + "\n")
        if self.echo:
            self.echo(line)

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Plain events recorded inside are written in one transaction (see the module's text);
        used by one thread at a time (staging)."""
        self._pending = []
        try:
            yield
        except BaseException:
            with suppress(ReleaseTrainError):  # the error that ended the batch is the news
                self._flush()
            raise
        else:
            self._flush()
        finally:
            self._pending = None

    def _flush(self) -> None:
        pending = self._pending
        if pending:
            self._pending = []
            self.store.add_events(self.run_id, pending)

    def output(self, line: str) -> None:
        """A deploy or probe command's output line: monitoring log only."""
        with self._lock:
            self._log.write(printable(f"{self.now()} {self.train} output: {line}") + "\n")

    def close(self) -> None:
        self._log.close()
