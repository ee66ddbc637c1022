"""The in-process workers of `serve --workers N` (release_trains/worker.py): threads that carry
out the runs, resumes and rollbacks queued through the API, on the server's store.

On SIGTERM `pause()` sets the one Event every worker shares: each run in hand stops before its
next service and is left `paused` (as `execute` does on SIGTERM; `resume` carries it on), and no
worker takes another job. `stop()` then waits for the threads to end."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

from ..worker import JobWorker
from .context import ServerContext


class Pool:
    def __init__(
        self,
        ctx: ServerContext,
        count: int,
        *,
        name: str,
        host: str,
        echo: Callable[[str], None] | None = None,
    ) -> None:
        self.stopping = threading.Event()
        self.workers = [
            JobWorker(
                root=ctx.root,
                state_url=ctx.state_url,
                clock=ctx.clock,
                name=name,
                host=host,
                pid=os.getpid(),
                stopping=self.stopping,
                busy_timeout_s=ctx.busy_timeout_s,
                wake=ctx.queued,
                echo=_prefixed(echo, f"worker {n}: "),
            )
            for n in range(1, count + 1)
        ]
        self.threads = [
            threading.Thread(target=self._run, args=(w,), name=f"worker-{n}", daemon=True)
            for n, w in enumerate(self.workers, start=1)
        ]
        self._echo = echo
        self._wake = ctx.queued

    def start(self) -> Pool:
        for t in self.threads:
            t.start()
        return self

    def _run(self, worker: JobWorker) -> None:
        try:
            worker.run()
        except Exception as e:  # a worker that cannot even start (a broken catalog) says so
            if self._echo:
                self._echo(f"{threading.current_thread().name} stopped: {e}")

    def pause(self) -> None:
        """Runs in hand stop before their next service (left paused); no new job is taken.
        Only sets Events: safe inside a signal handler."""
        self.stopping.set()
        self._wake.set()  # idle workers wait on it: they see `stopping` at once

    def stop(self) -> None:
        self.pause()
        for t in self.threads:
            t.join()


def _prefixed(echo: Callable[[str], None] | None, prefix: str) -> Callable[[str], None] | None:
    if echo is None:
        return None
    return lambda line: echo(prefix + line)


def start(
    ctx: ServerContext,
    count: int,
    *,
    name: str,
    host: str,
    echo: Callable[[str], None] | None = None,
) -> Pool:
    """Start `count` workers (0: none; the API still queues jobs, for standalone workers)."""
    return Pool(ctx, count, name=name, host=host, echo=echo).start()
