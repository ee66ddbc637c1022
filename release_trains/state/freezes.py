"""Platform-wide freezes ("stop the line"): `release-trains freeze --reason R [--until T]`,
`unfreeze`, and the API's `/api/v1/freeze`. One row per freeze ever declared; the one in force
is the latest whose `lifted_at` is NULL and whose `until` (if any) has not passed. Config
freeze windows (`release_trains.freeze_windows`) are not stored: they are read from the
config (release_trains/freezes.py combines both)."""

from __future__ import annotations

from .db import StoreBase

FREEZES_TABLE = """CREATE TABLE IF NOT EXISTS freezes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    reason TEXT NOT NULL,
    actor TEXT NOT NULL,
    started_at TEXT NOT NULL,
    until TEXT,                      -- NULL: until `unfreeze`
    lifted_at TEXT,
    lifted_by TEXT
)"""


class FreezesMixin(StoreBase):
    """The store's freezes (methods arrive with the freeze work, issue 15)."""
