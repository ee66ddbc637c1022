"""Approval decisions: one row per actor's vote on an approval gate of a run (`approve`,
`reject`, the API's approvals endpoint). The primary key makes one actor count once per
gate and run."""

from __future__ import annotations

from .db import StoreBase

APPROVALS_TABLE = """CREATE TABLE IF NOT EXISTS approvals (
    run_id BIGINT NOT NULL,
    gate TEXT NOT NULL,
    actor TEXT NOT NULL,
    decision TEXT NOT NULL,          -- approve | reject
    comment TEXT,
    ts TEXT NOT NULL,
    PRIMARY KEY (run_id, gate, actor)
)"""


class ApprovalsMixin(StoreBase):
    """The store's approval votes (methods arrive with the approvals work, issue 15)."""
