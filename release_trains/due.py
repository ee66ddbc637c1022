"""Due trains: `execute --due` (for cron) and the workers start every train whose start time
has passed and that never ran, one after another.

"Never ran" is checked three times, the last two where it counts: before the train's lease is
taken, again under the lease, and by the transaction that creates the run (state.runs
create_run with `expect_latest=None`). So two `--due` at once (two cron runs that overlap, or
a cron run beside a worker) start each train once: the second finds the lease held (skipped:
running elsewhere) or the run made (skipped: started already). While a freeze is in force
nothing is started, and the answer names the freeze (exit 3 on the command line).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from .errors import EXIT_NO, EXIT_NOT_NOW, EXIT_OK, LockHeldError, ReleaseTrainError
from .executor import execute
from .freezes import Freeze, FrozenError, freeze_in_force
from .models import Catalog, Train
from .notify.sender import delivering
from .runtime import Settings
from .schedule import AlreadyStartedError, iso
from .state import Store

FAILED = frozenset({"failed", "rolled_back"})


def due_trains(catalog: Catalog, store: Store | None, now: datetime) -> list[Train]:
    """Trains whose start time is at or before `now` and that never ran (nor are completed by
    their YAML), earliest start first, ties by name. No start time: never due."""
    due = [
        t
        for t in catalog.trains.values()
        if t.starts_at is not None and t.starts_at <= now and t.status != "completed"
    ]
    if store is not None and due:
        ran = store.trains_that_ran([t.name for t in due])
        due = [t for t in due if t.name not in ran]
    return sorted(due, key=lambda t: (t.starts_at or now, t.name))


@dataclass(frozen=True)
class DueStart:
    """What became of one due train."""

    train: str
    outcome: str  # started | skipped | error
    status: str | None = None  # the run's status when it returned (started)
    run_id: int | None = None
    reason: str | None = None

    @property
    def failed(self) -> bool:
        return self.outcome == "error" or (self.outcome == "started" and self.status in FAILED)

    def to_json(self) -> dict[str, Any]:
        return {
            "train": self.train,
            "outcome": self.outcome,
            "status": self.status,
            "run_id": self.run_id,
            "reason": self.reason,
        }


@dataclass
class DueReport:
    now: datetime
    frozen: Freeze | None = None
    trains: list[DueStart] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """0 when nothing due failed; 3 when a freeze held everything back."""
        if any(t.failed for t in self.trains):
            return EXIT_NO
        return EXIT_NOT_NOW if self.frozen is not None else EXIT_OK

    def to_json(self) -> dict[str, Any]:
        return {
            "now": iso(self.now),
            "frozen": self.frozen.to_json() if self.frozen else None,
            "trains": [t.to_json() for t in self.trains],
        }


def start_due(
    catalog: Catalog, store: Store, *, settings: Settings, quiet_freeze: bool = False
) -> DueReport:
    """Start every due train, one after another, each run to its end (or pause) before the
    next; what became of each. A freeze in force starts nothing (`frozen` says which).
    `quiet_freeze` (the workers, which look every few seconds): the freezes are only looked
    at when some train is due, so `frozen` is None when nothing was due anyway."""
    now = settings.clock()
    due = due_trains(catalog, store, now)
    report = DueReport(now=now)
    if due or not quiet_freeze:
        report.frozen = freeze_in_force(catalog.config, store, now)
    if report.frozen is not None:
        return report
    # One sender for all the runs: each run's exit wait for its notifications would otherwise
    # hold up the next train; they are flushed once, after the last.
    with delivering(catalog, store, given=settings.delivery) as delivery:
        each = replace(settings, delivery=delivery)
        for train in due:
            if settings.stop.is_set():
                break  # SIGTERM / a stopping worker: the rest wait for the next look
            try:
                outcome = execute(
                    catalog, store, train.name, settings=each, resume_only=False, new_only=True
                )
            except AlreadyStartedError as e:
                report.trains.append(DueStart(train.name, "skipped", reason=str(e)))
            except LockHeldError as e:
                report.trains.append(
                    DueStart(train.name, "skipped", reason=f"running elsewhere: {e}")
                )
            except FrozenError:
                # a freeze began since the look above: nothing more starts
                report.frozen = freeze_in_force(catalog.config, store, settings.clock())
                break
            except ReleaseTrainError as e:
                report.trains.append(DueStart(train.name, "error", reason=str(e)))
            else:
                report.trains.append(
                    DueStart(train.name, "started", outcome.status, outcome.run_id, outcome.reason)
                )
    return report
