"""Automatic-rollback triggers: a bad condition read from a signal, `for` times in a row.

A trigger fires when its consecutive bad readings *reach* `for` (for: 3 fires on the third
bad reading in a row; a good reading resets the count). An unreadable signal neither counts
nor resets: a metrics outage must not roll a release back, nor hide a real problem. Each
trigger fires at most once per run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from .models import Trigger
from .signals import Reading


@dataclass
class TriggerWatch:
    triggers: Sequence[Trigger]
    read: Callable[[str], Reading | None]
    log: Callable[[str], None]
    counts: dict[str, int] = field(default_factory=dict)
    fired: str | None = None

    @property
    def readings_needed(self) -> int:
        return max((t.for_count for t in self.triggers), default=0)

    def observe(self) -> str | None:
        """Read every trigger once; the reason of the first one that fires, else None."""
        if self.fired:
            return None
        for t in self.triggers:
            reading = self.read(t.expression.subject)
            count = self.counts.get(t.name, 0)
            if reading is None or reading.value is None:
                why = "not configured" if reading is None else reading.error
                self.log(
                    f"trigger {t.name}: {t.expression.subject} unknown ({why}); count stays {count}"
                )
                continue
            bad = _is_bad(t, reading.value)
            if bad is None:
                self.log(
                    f"trigger {t.name}: {reading.value!r} cannot be compared with {t.expression}"
                )
                continue
            self.counts[t.name] = count + 1 if bad else 0
            verdict = "bad" if bad else "ok"
            self.log(
                f"trigger {t.name}: {t.expression.subject} = {_show(reading.value)} "
                f"({verdict}, {self.counts[t.name]}/{t.for_count})"
            )
            if self.counts[t.name] >= t.for_count:
                self.fired = (
                    f"trigger {t.name} fired: {t.expression} held for {self.counts[t.name]} "
                    f"consecutive readings (last: {reading.value}, from {reading.source})"
                )
                return self.fired
        return None


def _show(value: float | bool) -> str:
    return str(value).lower() if isinstance(value, bool) else f"{value:g}"


def _is_bad(trigger: Trigger, value: float | bool) -> bool | None:
    cmp = trigger.expression.comparison
    if cmp is None:
        return value if isinstance(value, bool) else None
    if isinstance(value, bool) != isinstance(cmp.value, bool):
        return None
    return cmp.holds(value)
