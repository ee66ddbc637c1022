"""Deploy reports of external pipelines (the `external` deployer).

A pipeline that deploys on its own reports the outcome (`PUT /api/v1/services/{service}/status`
or `release-trains report-deploy`); each report is one row, kept whether or not a run was
waiting for it, so a service's status shows what its pipeline said last. A waiting run reads
the reports made since its deploy started (deployers/external.py)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from .db import StoreBase

DEPLOY_REPORTS_TABLE = """CREATE TABLE IF NOT EXISTS deploy_reports (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    service TEXT NOT NULL,
    environment TEXT NOT NULL,
    status TEXT NOT NULL,            -- deployed | failed
    version TEXT NOT NULL,
    health_status TEXT,
    detail TEXT,
    reported_by TEXT NOT NULL,
    reported_at TEXT NOT NULL
)"""

DEPLOY_REPORTS_INDEX = (
    "CREATE INDEX IF NOT EXISTS deploy_reports_service ON deploy_reports (environment, service, id)"
)

_COLUMNS = (
    "id",
    "service",
    "environment",
    "status",
    "version",
    "health_status",
    "detail",
    "reported_by",
    "reported_at",
)
_SELECT = f"SELECT {', '.join(_COLUMNS)} FROM deploy_reports"


@dataclass(frozen=True)
class DeployReport:
    id: int
    service: str
    environment: str
    status: str
    version: str
    health_status: str | None
    detail: str | None
    reported_by: str
    reported_at: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _record(row: Any) -> DeployReport:
    return DeployReport(*(row[i] for i in range(len(_COLUMNS))))


class DeploysMixin(StoreBase):
    def add_deploy_report(
        self,
        *,
        service: str,
        environment: str,
        status: str,
        version: str,
        health_status: str | None,
        detail: str | None,
        who: str,
        now: str,
    ) -> DeployReport:
        with self._write(fenced=False) as tx:
            row = tx.execute(
                "INSERT INTO deploy_reports (service, environment, status, version,"
                " health_status, detail, reported_by, reported_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (service, environment, status, version, health_status, detail, who, now),
            ).fetchone()
        assert row is not None
        return DeployReport(
            int(row[0]), service, environment, status, version, health_status, detail, who, now
        )

    def deploy_reports(
        self, service: str, *, environment: str, after_id: int = 0
    ) -> list[DeployReport]:
        """The reports of SERVICE in ENVIRONMENT with an id above `after_id`, oldest first."""
        if "deploy_reports" not in self.tables:
            return []
        with self._read() as tx:
            rows = tx.execute(
                f"{_SELECT} WHERE environment = ? AND service = ? AND id > ? ORDER BY id",
                (environment, service, after_id),
            ).fetchall()
        return [_record(r) for r in rows]

    def last_deploy_report(
        self, service: str, *, environment: str, status: str | None = None
    ) -> DeployReport | None:
        if "deploy_reports" not in self.tables:
            return None
        sql = f"{_SELECT} WHERE environment = ? AND service = ?"
        params: list[Any] = [environment, service]
        if status is not None:
            sql += " AND status = ?"
            params.append(status)
        with self._read() as tx:
            row = tx.execute(sql + " ORDER BY id DESC LIMIT 1", params).fetchone()
        return _record(row) if row is not None else None

    def last_deploy_report_id(self) -> int:
        """The newest report's id (0: none): a deploy waits for reports after it."""
        if "deploy_reports" not in self.tables:
            return 0
        with self._read() as tx:
            row = tx.execute("SELECT MAX(id) FROM deploy_reports").fetchone()
        return int(row[0]) if row is not None and row[0] is not None else 0
