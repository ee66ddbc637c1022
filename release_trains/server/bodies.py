"""Request bodies: strict (no "1" for 1, no "yes" for true) and closed (an unknown field is a
422 naming it), so a typo in a pipeline's request is an error, not a silent default."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Text = Field(min_length=1, max_length=4000)


class Closed(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


def _says_something(value: str | None) -> str | None:
    if value is not None and not value.strip():
        raise ValueError("must not be empty or only whitespace: say why")
    return value


class ExecuteBody(Closed):
    max_parallel: int | None = Field(
        default=None, ge=1, le=64, description="Services released at once (default: config)."
    )
    dry_run: bool = Field(default=False, description="Answer with the exact steps; change nothing.")
    now: bool = Field(default=False, description="Start before the scheduled start time.")


class PauseBody(Closed):
    reason: str = Field(
        default="paused by an operator", min_length=1, max_length=4000, description="Why."
    )

    _check = field_validator("reason")(classmethod(lambda cls, v: _says_something(v)))


class ResumeBody(Closed):
    pass


class RollbackBody(Closed):
    reason: str | None = Field(
        default=None,
        min_length=1,
        max_length=4000,
        description="Why (lands in the audit log with the token's name); required unless dry_run.",
    )
    force: bool = Field(default=False, description="Go past failed steps and unsafe subsets.")
    dry_run: bool = Field(default=False, description="Answer with the plan; change nothing.")
    services: list[str] | None = Field(
        default=None, max_length=1000, description="Roll back only these services."
    )

    _check = field_validator("reason")(classmethod(lambda cls, v: _says_something(v)))


class TrainUpdate(BaseModel):
    """Either `{status, reason?}` (start, resume or pause a run) or a whole train definition
    (the YAML train schema; only trains created through the API can be changed)."""

    model_config = ConfigDict(extra="allow", strict=True)
    status: Literal["executing", "paused"] | None = None
    reason: str | None = Field(default=None, min_length=1, max_length=4000)
    now: bool | None = Field(
        default=None, description="With `executing`: start before the scheduled start time."
    )
    progress: Any = Field(default=None, description="Cannot be set: it is computed (422).")

    @field_validator("progress")
    @classmethod
    def _computed(cls, v: Any) -> Any:
        # runs only when the body has the key (a default is not validated): null included
        raise ValueError("progress cannot be set: it is computed from the released services")


class ServiceReport(Closed):
    status: Literal["deployed", "failed"]
    version: str = Field(min_length=1, max_length=200)
    health_status: str | None = Field(default=None, max_length=200)
    detail: str | None = Field(default=None, max_length=4000)


class FreezeBody(Closed):
    reason: str = Field(min_length=1, max_length=4000, description="Why the line stops (audited).")
    until: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="When it ends by itself: ISO 8601 with a zone (default: until DELETE).",
    )

    _check = field_validator("reason")(classmethod(lambda cls, v: _says_something(v)))


class ApprovalBody(Closed):
    gate: str = Field(min_length=1, max_length=200, description="The approval gate's name.")
    decision: Literal["approve", "reject"]
    comment: str | None = Field(
        default=None,
        max_length=4000,
        description="Why; required (non-empty) for a rejection, whose reason it is.",
    )
