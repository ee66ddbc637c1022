"""Trains defined through the API: one row per train, its definition as JSON.

The catalog loader (catalog.py) merges them with the YAML trains, so they are planned,
executed and reported like catalog trains; only these rows can be changed or deleted through
the API (a catalog train is edited in catalog/release-trains.yaml). A train's runs, steps and
events are keyed by its name and are not touched when its definition is deleted: its history
stays."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..errors import NotNowError, UnknownTrainError
from .db import StoreBase

API_TRAINS_TABLE = """CREATE TABLE IF NOT EXISTS api_trains (
    name TEXT PRIMARY KEY,
    definition TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
)"""

_SELECT = "SELECT name, definition, created_by, created_at, updated_at FROM api_trains"


@dataclass(frozen=True)
class ApiTrain:
    name: str
    definition: dict[str, Any]
    created_by: str
    created_at: str
    updated_at: str


def _record(row: Any) -> ApiTrain:
    return ApiTrain(row[0], json.loads(row[1]), row[2], row[3], row[4])


class TrainsMixin(StoreBase):
    def api_trains(self) -> list[ApiTrain]:
        if "api_trains" not in self.tables:  # an older store: no train was defined there
            return []
        with self._read() as tx:
            return [_record(r) for r in tx.execute(f"{_SELECT} ORDER BY name").fetchall()]

    def api_train(self, name: str) -> ApiTrain | None:
        if "api_trains" not in self.tables:
            return None
        with self._read() as tx:
            row = tx.execute(f"{_SELECT} WHERE name = ?", (name,)).fetchone()
        return _record(row) if row is not None else None

    def add_api_train(self, definition: dict[str, Any], *, who: str, now: str) -> ApiTrain:
        """Store a new (already validated) definition; a name in use: exit 3 (409)."""
        name = definition["name"]
        with self._write(fenced=False) as tx:
            if tx.execute("SELECT 1 FROM api_trains WHERE name = ?", (name,)).fetchone():
                raise NotNowError(f"a train named {name!r} exists (created through the API)")
            tx.execute(
                "INSERT INTO api_trains (name, definition, created_by, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (name, json.dumps(definition), who, now, now),
            )
        return ApiTrain(name, definition, who, now, now)

    def replace_api_train(
        self, name: str, definition: dict[str, Any], *, not_running: list[str], now: str
    ) -> ApiTrain:
        """Replace NAME's definition; `not_running` lists the statuses a run may have for the
        change to be allowed, checked in the same write transaction as the change."""
        with self._write(fenced=False) as tx:
            row = tx.execute(f"{_SELECT} WHERE name = ?", (name,)).fetchone()
            if row is None:
                raise UnknownTrainError(f"no train {name!r} was created through the API")
            _refuse_running(tx, name, not_running, "change")
            tx.execute(
                "UPDATE api_trains SET definition = ?, updated_at = ? WHERE name = ?",
                (json.dumps(definition), now, name),
            )
        old = _record(row)
        return ApiTrain(name, definition, old.created_by, old.created_at, now)

    def delete_api_train(self, name: str, *, not_running: list[str]) -> None:
        """Remove NAME's definition (its runs and events stay); running: exit 3 (409)."""
        with self._write(fenced=False) as tx:
            row = tx.execute("SELECT 1 FROM api_trains WHERE name = ?", (name,)).fetchone()
            if row is None:
                raise UnknownTrainError(f"no train {name!r} was created through the API")
            _refuse_running(tx, name, not_running, "delete")
            tx.execute("DELETE FROM api_trains WHERE name = ?", (name,))


def _refuse_running(tx: Any, name: str, settled: list[str], verb: str) -> None:
    row = tx.execute(
        "SELECT id, status FROM runs WHERE train = ? ORDER BY id DESC LIMIT 1", (name,)
    ).fetchone()
    if row is not None and row[1] not in settled:
        raise NotNowError(
            f"train {name!r} has run {row[0]} {row[1]}: cannot {verb} its definition while it "
            "runs (let it finish, or pause it and roll it back)"
        )
