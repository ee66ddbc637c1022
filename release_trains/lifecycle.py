"""The nine train statuses and the legal moves between them; nothing else.

The `status:` in a train's YAML is only its starting status: the tool never rewrites
people's YAML; the state store holds where a train really is.
"""

from __future__ import annotations

from .errors import TransitionError

STATUSES = (
    "planning",
    "validating",
    "staging",
    "executing",
    "verifying",
    "completed",
    "failed",
    "rolled_back",
    "paused",
)
FINAL = frozenset({"completed", "failed", "rolled_back"})
ACTIVE = frozenset({"validating", "staging", "executing", "verifying"})
SERVICE_STATUSES = (
    "pending",
    "deploying",
    "verifying",
    "released",
    "failed",
    "rolling_back",
    "rolled_back",
    "skipped",
)

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
