"""The nine train statuses and the legal moves between them; nothing else.

The `status:` in a train's YAML is only its starting status: the tool never rewrites
people's YAML; the state store holds where a train really is.
"""

from __future__ import annotations

from enum import Enum

from .errors import TransitionError


class _Values(str, Enum):
    """A str Enum that prints and formats as its value, so messages and JSON documents read
    exactly as they did when statuses were plain strings."""

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)


class RunStatus(_Values):
    """A train run's status (the train's status is its latest run's)."""

    PLANNING = "planning"
    VALIDATING = "validating"
    STAGING = "staging"
    EXECUTING = "executing"
    VERIFYING = "verifying"
    COMPLETED = "completed"
    FAILED = "failed"
    ROLLED_BACK = "rolled_back"
    PAUSED = "paused"


class StepStatus(_Values):
    """One service's step in a run."""

    PENDING = "pending"
    DEPLOYING = "deploying"
    VERIFYING = "verifying"
    RELEASED = "released"
    FAILED = "failed"
    ROLLING_BACK = "rolling_back"
    ROLLED_BACK = "rolled_back"
    SKIPPED = "skipped"


STATUSES = tuple(s.value for s in RunStatus)
FINAL = frozenset({RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.ROLLED_BACK})
ACTIVE = frozenset(
    {RunStatus.VALIDATING, RunStatus.STAGING, RunStatus.EXECUTING, RunStatus.VERIFYING}
)
SERVICE_STATUSES = tuple(s.value for s in StepStatus)
# After a run in one of these, `execute` starts a new run; a run in any other status is
# resumed (paused, interrupted, failed) or, completed, refused (state.runs.create_run).
NEW_RUN_AFTER = frozenset({RunStatus.ROLLED_BACK})

# status -> statuses it may move to. A failed or rolled-back train may be executed again
# (a new attempt; services already released are not deployed twice); a completed one may
# only be rolled back.
TRANSITIONS: dict[str, frozenset[str]] = {
    "planning": frozenset({"validating"}),
    "validating": frozenset({"staging", "failed", "paused"}),
    "staging": frozenset({"executing", "failed", "paused"}),
    "executing": frozenset({"verifying", "failed", "paused", "rolled_back"}),
    "verifying": frozenset({"completed", "failed", "paused", "rolled_back"}),
    "paused": frozenset({"validating", "failed", "rolled_back"}),
    "completed": frozenset({"rolled_back", "failed"}),
    "failed": frozenset({"validating", "rolled_back", "failed"}),
    "rolled_back": frozenset({"validating", "failed"}),
}

# What a person can do from each status, for messages that say what is possible.
ACTIONS: dict[str, tuple[str, ...]] = {
    "planning": ("execute",),
    "validating": ("pause", "rollback"),
    "staging": ("pause", "rollback"),
    "executing": ("pause", "rollback"),
    "verifying": ("pause", "rollback"),
    "paused": ("resume", "execute", "rollback"),
    "completed": ("rollback",),
    "failed": ("execute", "rollback --force"),
    "rolled_back": ("execute",),
}


def check(train: str, current: str, new: str) -> None:
    """Raise TransitionError (exit 3) when `current -> new` is not a legal move."""
    if new not in TRANSITIONS.get(current, frozenset()):
        raise TransitionError(
            f"train {train!r} is {current}: it cannot become {new}; possible now: "
            f"{', '.join(ACTIONS.get(current, ())) or 'nothing'}"
        )


def refuse(train: str, current: str, action: str) -> TransitionError:
    """The error for an action the current status does not allow."""
    return TransitionError(
        f"cannot {action} train {train!r}: it is {current}; possible now: "
        f"{', '.join(ACTIONS.get(current, ())) or 'nothing'}"
    )
