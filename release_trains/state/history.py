"""What happened and what runs where: events, deployed versions, the audit log's anchor, and
the read-only queries reports make over them."""

from __future__ import annotations

from collections.abc import Sequence

from .db import StoreBase, Tx
from .records import EVENT_COLUMNS, Event, event_of

_EVENT_SELECT = f"SELECT {', '.join(EVENT_COLUMNS)} FROM events"


def set_deployed(tx: Tx, environment: str, service: str, *, version: str | None, now: str) -> None:
    tx.execute(
        "INSERT INTO deployed (environment, service, version, updated_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (environment, service) DO UPDATE SET version = excluded.version,"
        " updated_at = excluded.updated_at",
        (environment, service, version, now),
    )


class HistoryMixin(StoreBase):
    # --- deployed versions (the embedded `local` environment, and what others reported) ----

    def deployed_version(self, environment: str, service: str) -> str | None:
        with self._read() as tx:
            row = tx.execute(
                "SELECT version FROM deployed WHERE environment = ? AND service = ?",
                (environment, service),
            ).fetchone()
        return row[0] if row else None

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
    ) -> None:
        if now is None:
            from datetime import datetime, timezone

            now = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
        with self._write() as tx:
            set_deployed(tx, environment, service, version=version, now=now)

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
            tx.execute(
                "INSERT INTO events (run_id, ts, kind, service, message) VALUES (?, ?, ?, ?, ?)",
                (run_id, ts, kind, service, message),
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

    def service_events(self, service: str) -> list[Event]:
        """Every event about `service`, in every run, oldest first."""
        with self._read() as tx:
            rows = tx.execute(
                f"{_EVENT_SELECT} WHERE service = ? ORDER BY id", (service,)
            ).fetchall()
        return [event_of(r) for r in rows]

    # --- the audit log's anchor (see audit.py) ----------------------------------------------

    def audit_anchor(self) -> tuple[str, int] | None:
        """(hash of the audit log's last line, its number of lines), or None before the first
        anchored append (a store of an older release may have no table yet: also None)."""
        if "audit_anchor" not in self.tables:
            return None
        with self._read() as tx:
            row = tx.execute("SELECT last_hash, count FROM audit_anchor WHERE id = 1").fetchone()
        return (str(row[0]), int(row[1])) if row else None

    def set_audit_anchor(self, *, last_hash: str, count: int, now: str) -> None:
        # not fenced: the audit record of a lost lock must still be written
        with self._write(fenced=False) as tx:
            tx.execute(
                "INSERT INTO audit_anchor (id, last_hash, count, updated_at) VALUES (1, ?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET last_hash = excluded.last_hash,"
                " count = excluded.count, updated_at = excluded.updated_at",
                (last_hash, count, now),
            )

    def integrity_ok(self) -> bool:
        return self.db.integrity_ok()
