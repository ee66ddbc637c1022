"""Every error raised on purpose, and the exit code each maps to (see CONTRACT.md).

The CLI turns a ReleaseTrainError into its message on stderr and its exit code; anything
else is an internal error (exit 4). Messages say what failed, where, and what to do next.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_NO = 1  # checked and said no: not ready, release failed, rolled back
EXIT_INPUT = 2  # bad usage or bad input
EXIT_NOT_NOW = 3  # a lock is held, or the train's status does not allow the action
EXIT_INTERNAL = 4  # unexpected internal error


class ReleaseTrainError(Exception):
    """Base of every error raised on purpose."""

    exit_code = EXIT_INTERNAL


class InputError(ReleaseTrainError):
    """Bad usage or bad input: unknown train, invalid file, bad gate expression."""

    exit_code = EXIT_INPUT


class CatalogError(InputError):
    """A catalog or config file cannot be read or is invalid."""


class ValidationFailed(CatalogError):
    """One or more schema problems; `problems` holds every one of them."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class DefinitionInvalid(ValidationFailed):
    """A train definition sent to the API with problems; `fields` holds each as
    {path, message}, the JSON path inside the definition (the API's `errors`)."""

    def __init__(self, fields: list[dict[str, str]]) -> None:
        super().__init__([f"{f['path']}: {f['message']}" for f in fields])
        self.fields = fields


class GateExpressionError(InputError):
    """A gate expression that does not parse; `column` is 1-based."""

    def __init__(self, expression: str, column: int, reason: str) -> None:
        super().__init__(f"column {column}: {reason} in gate expression {expression!r}")
        self.expression = expression
        self.column = column
        self.reason = reason


class ResolutionError(InputError):
    """A participant or service name that resolves to nothing or to more than one service."""


class UnknownTrainError(InputError):
    """A train name that is not defined."""


class RefusedError(ReleaseTrainError):
    """Checked and said no, e.g. a partial rollback that would break a dependency."""

    exit_code = EXIT_NO


class NotNowError(ReleaseTrainError):
    """The action is refused at this moment (lock held, status does not allow it)."""

    exit_code = EXIT_NOT_NOW


class StateUnavailableError(NotNowError):
    """The state store's server cannot be reached (refused, timed out, dropped the connection):
    nothing was done; a retry once it answers may succeed."""


class TransitionError(NotNowError):
    """The train's current status does not allow the requested action."""


class LockHeldError(NotNowError):
    """Another run holds the lock on this train or on one of its services."""


class StateBusyError(NotNowError):
    """The state database stayed locked by another process past the busy timeout."""


class StateError(ReleaseTrainError):
    """The state store cannot be read or written (permissions, corruption)."""


class LostLockError(NotNowError):
    """This process's lease on a train was taken over or removed: it must write nothing more."""


class SchemaVersionError(NotNowError):
    """The state store's schema is not the one this release writes (newer, or not migrated)."""


class UnknownTokenError(InputError):
    """An API token name that does not exist."""


class AuthenticationError(InputError):
    """An API request without a valid token (none, unknown or revoked): HTTP 401."""


class PermissionDeniedError(InputError):
    """An API token whose role is too low for the request: HTTP 403."""


class NotAvailableError(NotNowError):
    """This server cannot do the request (no worker runs here to carry out runs): HTTP 503."""


class UnknownGateError(InputError):
    """A gate name that is not one of the train's approval gates (exit 2, HTTP 404)."""


class ApprovalDeniedError(NotNowError):
    """This actor may not decide this approval gate: not one of its approvers, or the actor
    who started the run approving it (exit 3, HTTP 403)."""
