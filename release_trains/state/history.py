"""What happened and what runs where: events, deployed versions, the audit chain (chain.py),
and the read-only queries reports make over them."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from . import chain
from .chain import Adoption
from .db import StoreBase, Tx
from .records import (
    EVENT_COLUMNS,
    AuditEntry,
    AuditRecord,
    Event,
    audit_record_of,
    event_of,
)

_EVENT_SELECT = f"SELECT {', '.join(EVENT_COLUMNS)} FROM events"


def set_deployed(tx: Tx, environment: str, service: str, *, version: str | None, now: str) -> None:
    tx.execute(
        "INSERT INTO deployed (environment, service, version, updated_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (environment, service) DO UPDATE SET version = excluded.version,"
        " updated_at = excluded.updated_at",
        (environment, service, version, now),
    )


def add_event(
    tx: Tx, run_id: int, *, ts: str, kind: str, service: str | None, message: str
) -> None:
    tx.execute(
        "INSERT INTO events (run_id, ts, kind, service, message) VALUES (?, ?, ?, ?, ?)",
        (run_id, ts, kind, service, message),
    )


class HistoryMixin(StoreBase):
    # --- deployed versions (the embedded `local` environment, and what others reported) ----

    def deployed_version(self, environment: str, service: str) -> str | None:
        rows = self._select(
            "SELECT version FROM deployed WHERE environment = ? AND service = ?",
            (environment, service),
        )
        return rows[0][0] if rows else None

    def deployed_versions(self, environment: str) -> dict[str, str]:
        with self._read() as tx:
            rows = tx.execute(
                "SELECT service, version FROM deployed"
                " WHERE environment = ? AND version IS NOT NULL",
                (environment,),
            ).fetchall()
        return {r[0]: r[1] for r in rows}

    def set_deployed_version(
        self, environment: str, service: str, version: str | None, *, now: str | None = None
    ) -> str | None:
        """Record `version` (None: undeployed) and return the version it replaces, read in
        the same transaction (on PostgreSQL with the COMMIT's answer: one round trip)."""
        if now is None:
            from datetime import datetime, timezone

            now = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
        late = self.db.kind == "postgresql"  # SQLite gives a statement's rows before COMMIT
        with self._write() as tx:
            old = tx.execute(
                "SELECT version FROM deployed WHERE environment = ? AND service = ?",
                (environment, service),
            )
            row = None if late else old.fetchone()
            set_deployed(tx, environment, service, version=version, now=now)
        if late:
            row = old.fetchone()
        return row[0] if row else None

    def deployed_everywhere(self, service: str) -> dict[str, str | None]:
        """environment -> the version recorded for `service` there (None: undeployed)."""
        with self._read() as tx:
            rows = tx.execute(
                "SELECT environment, version FROM deployed WHERE service = ? ORDER BY environment",
                (service,),
            ).fetchall()
        return {r[0]: r[1] for r in rows}

    # --- events ----------------------------------------------------------------------------

    def add_event(
        self, run_id: int, *, ts: str, kind: str, service: str | None, message: str
    ) -> None:
        with self._write() as tx:
            add_event(tx, run_id, ts=ts, kind=kind, service=service, message=message)

    def add_events(self, run_id: int, events: Sequence[tuple[str, str, str | None, str]]) -> None:
        """Several events (ts, kind, service, message) of one run, in one write transaction."""
        with self._write() as tx:
            tx.executemany(
                "INSERT INTO events (run_id, ts, kind, service, message) VALUES (?, ?, ?, ?, ?)",
                [(run_id, *e) for e in events],
            )

    def events(self, run_id: int, *, limit: int | None = None) -> list[Event]:
        with self._read() as tx:
            if limit is None:
                rows = tx.execute(
                    f"{_EVENT_SELECT} WHERE run_id = ? ORDER BY id", (run_id,)
                ).fetchall()
            else:
                rows = tx.execute(
                    f"SELECT {', '.join(EVENT_COLUMNS)} FROM ({_EVENT_SELECT} WHERE run_id = ?"
                    " ORDER BY id DESC LIMIT ?) newest ORDER BY id",
                    (run_id, limit),
                ).fetchall()
        return [event_of(r) for r in rows]

    def run_events(self, run_id: int, kinds: Sequence[str]) -> list[Event]:
        """The events of the given kinds of one run, oldest first (timeline.py reads the
        `status` ones)."""
        marks = ",".join("?" * len(kinds))
        with self._read() as tx:
            rows = tx.execute(
                f"{_EVENT_SELECT} WHERE run_id = ? AND kind IN ({marks}) ORDER BY id",
                (run_id, *kinds),
            ).fetchall()
        return [event_of(r) for r in rows]

    def train_events(self, train: str, kinds: Sequence[str]) -> list[Event]:
        """Every event of the given kinds in any run of `train`, oldest first."""
        marks = ",".join("?" * len(kinds))
        columns = ", ".join(f"e.{c}" for c in EVENT_COLUMNS)
        with self._read() as tx:
            rows = tx.execute(
                f"SELECT {columns} FROM events e JOIN runs r ON r.id = e.run_id"
                f" WHERE r.train = ? AND e.kind IN ({marks}) ORDER BY e.id",
                (train, *kinds),
            ).fetchall()
        return [event_of(r) for r in rows]

    def events_of_runs(
        self,
        run_ids: Sequence[int],
        kinds: Sequence[str],
        *,
        limit: int,
        service: str | None = None,
    ) -> list[Event]:
        """At most `limit` events of the given kinds in the runs `run_ids` (about `service`,
        when given), newest first (index events_run): a report reads the events of the runs
        it shows, no others."""
        if not run_ids or not kinds:
            return []
        runs, marks = ",".join("?" * len(run_ids)), ",".join("?" * len(kinds))
        about = " AND service = ?" if service is not None else ""
        with self._read() as tx:
            rows = tx.execute(
                f"{_EVENT_SELECT} WHERE run_id IN ({runs}) AND kind IN ({marks}){about}"
                " ORDER BY id DESC LIMIT ?",
                (*run_ids, *kinds, *(() if service is None else (service,)), limit),
            ).fetchall()
        return [event_of(r) for r in rows]

    def service_events(self, service: str) -> list[Event]:
        """Every event about `service`, in every run, oldest first."""
        with self._read() as tx:
            rows = tx.execute(
                f"{_EVENT_SELECT} WHERE service = ? ORDER BY id", (service,)
            ).fetchall()
        return [event_of(r) for r in rows]

    # --- the audit chain (chain.py; audit.py checks audit.log files against it) -------------

    def append_audit(
        self,
        entry: AuditEntry,
        *,
        origin: str | None,
        adopt: Callable[[], Adoption] | None = None,
    ) -> AuditRecord:
        """One record at the end of the chain, in one write transaction. Not fenced: the audit
        record of a lost lock (a takeover, an unlock) must still be written."""
        with self._write(fenced=False) as tx:
            return chain.append(tx, entry, origin=origin, adopt=adopt)

    def has_audit_chain(self) -> bool:
        """Whether this store holds audit records (an older store has no table for them)."""
        if "audit_records" not in self.tables:
            return False
        with self._read() as tx:
            return bool(chain.head(tx))

    def audit_written_after(self, *, origin: str, after_hash: str, limit: int) -> list[AuditRecord]:
        """The records of `origin` (an audit.log) the chain holds after the record `after_hash`."""
        if "audit_records" not in self.tables:
            return []
        with self._read() as tx:
            return chain.written_after(tx, origin=origin, after_hash=after_hash, limit=limit)

    def audit_chain(self, *, train: str | None = None) -> list[AuditRecord]:
        """Every audit record (of `train`), in chain order; [] on a store without the table."""
        if "audit_records" not in self.tables:
            return []
        with self._read() as tx:
            return chain.records(tx, train=train)

    def audit_tail(
        self, train: str, *, keep: Callable[[str], bool], limit: int, page: int = 500
    ) -> tuple[list[AuditRecord], bool]:
        """The newest records of `train`, newest first, while `keep(ts)` holds, at most
        `limit`; and whether older records were left unread. Read page by page down the
        index (train, id), so a report reads the records it shows and stops: a train with a
        million records costs what its shown tail costs."""
        if "audit_records" not in self.tables:
            return [], False
        out: list[AuditRecord] = []
        below: int | None = None
        with self._read() as tx:
            while True:
                size = min(page, limit - len(out) + 1)
                where, params = (
                    ("train = ?", (train,))
                    if below is None
                    else ("train = ? AND id < ?", (train, below))
                )
                rows = tx.execute(
                    f"{chain.SELECT} WHERE {where} ORDER BY id DESC LIMIT ?", (*params, size)
                ).fetchall()
                for row in rows:
                    record = audit_record_of(row)
                    if not keep(record.ts):
                        return out, True
                    if len(out) == limit:
                        return out, True
                    out.append(record)
                if len(rows) < size:
                    return out, False
                below = out[-1].id

    def legacy_audit_anchor(self) -> tuple[str, int] | None:
        """The issue-10 anchor of a version-1 store not migrated yet (read-only there)."""
        with self._read() as tx:
            return chain.legacy_anchor(tx, self.tables)

    def integrity_ok(self) -> bool:
        return self.db.integrity_ok()
