"""Where in-process workers plug into `serve` (they carry out the runs, resumes and rollbacks
started through the API). This release has none: AVAILABLE is False, `serve --workers N`
with N > 0 is refused, and the routes that would queue work answer 501."""

from __future__ import annotations

from collections.abc import Callable

from .context import ServerContext

AVAILABLE = False


def start(ctx: ServerContext, count: int) -> Callable[[], None]:
    """Start `count` workers; returns what stops them (on SIGTERM: pause their runs the way
    `pause` does, then return). With none available only 0 is accepted."""
    if count:
        raise RuntimeError("no workers in this release")  # serve refuses before calling
    return lambda: None
