"""A real executor killed with SIGKILL mid-deploy: `status` says its executor is gone (exit 1,
also under --json), a `monitor --watch` that was following the run ends with exit 1 instead
of waiting for ever, and `execute` resumes the run, after which all is well again (exit 0)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from e2e_support import TRAIN, Background, chain, make_project, wait_for_calls
from helpers import process_gone, wait_until

DEADLINE_S = 60.0


def test_sigkill_of_the_executor_is_shown_as_gone_and_ends_the_watch(
    tmp_path: Path, start: Callable[..., Background]
) -> None:
    p = make_project(tmp_path, services=chain(["a", "b"]))
    hold = p.hold("a")  # the deploy of a waits: the executor is killed while it is in flight
    first = start(p, "execute", TRAIN, name="first")
    wait_for_calls(p, 1, proc=first)
    watch = start(p, "monitor", TRAIN, "--watch", "--interval", "0.1", name="watch")
    alive = p.run("status", TRAIN, "--json")
    assert alive.code == 0, alive
    assert alive.json()["executor"]["state"] == "running"
    assert alive.json()["executor"]["pid"] == first.pid

    first.kill()
    assert p.run_status() == ("executing", None)  # what the killed executor left behind

    status = p.run("status", TRAIN, "--json")
    assert status.code == 1, status
    doc = status.json()
    assert doc["status"] == "executing"
    assert doc["executor"]["state"] == "gone" and doc["executor"]["pid"] == first.pid
    since = doc["executor"]["since"]
    assert since is not None
    plain = p.run("status", TRAIN)
    assert plain.code == 1
    assert f"executor gone since {since}: run `execute` to resume" in plain.out
    assert p.run("status").code == 1  # the list of trains needs attention too

    watched = watch.wait(timeout_s=DEADLINE_S)  # it ends by itself
    assert watched.code == 1, watched
    assert "executor gone since" in watched.out and "Traceback" not in watched.err

    # let the orphaned deploy finish, then resume: the run completes and all is well
    hold.unlink()
    wait_until(
        lambda: all(process_gone(pid) for _, _, pid in p.calls()),
        timeout_s=DEADLINE_S,
        what="the orphaned deploy finished",
    )
    resumed = p.run("execute", TRAIN, "--json")
    assert resumed.code == 0, resumed
    after = p.run("status", TRAIN, "--json")
    assert after.code == 0 and after.json()["executor"] is None
    assert after.json()["status"] == "completed"
