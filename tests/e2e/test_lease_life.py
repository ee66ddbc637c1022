"""End to end, SQLite: a lease holds for its lock's whole life, and a holder that lost it
deploys nothing more.

Two machines are played on one by giving each `execute` its own RELEASE_TRAINS_HOST: a lease
of another host is judged by its heartbeat (stale after `executor.lock_stale_after`, set
small here), never by whether its process is alive here. The health check is a script that a
test holds (a flag file) to make a phase last as long as it needs; waiting is polling with a
deadline, and the deploy script's record proves what was deployed by whom.
"""

from __future__ import annotations

import os
import shlex
import signal
import time
from collections import Counter
from pathlib import Path

import pytest
from e2e_support import TARGET, TRAIN, Background, Project, Result, chain, make_project
from helpers import wait_until, write_script

pytestmark = pytest.mark.slow

STALE_AFTER_S = 3  # executor.lock_stale_after: renewals every 1 s (at most once a second)
HOST_A = {"RELEASE_TRAINS_HOST": "host-a"}
HOST_B = {"RELEASE_TRAINS_HOST": "host-b"}


def _project(tmp_path: Path) -> Project:
    """a -> b, a command health check (`health SERVICE`) that a test can hold: while
    flags/hold-health-SERVICE exists, the probe of SERVICE numbered >= the number in that file
    writes flags/in-health-SERVICE and waits (bounded) until the flag is removed."""
    p = make_project(
        tmp_path,
        services=chain(["a", "b"]),
        release_trains={
            "executor": {"lock_stale_after": STALE_AFTER_S},
            "health": {
                "type": "command",
                "command": [str(tmp_path / "project" / "health"), "{service}"],
                "timeout": 90,
                "retries": 0,
            },
        },
    )
    flags, q = p.flags, shlex.quote
    write_script(
        p.work / "health",
        'svc="$1"\n'
        f'count={q(str(p.work))}/"probes-$svc"\n'
        'n=$(cat "$count" 2>/dev/null || echo 0); n=$((n+1)); echo "$n" > "$count"\n'
        f'hold={q(str(flags))}/"hold-health-$svc"\n'
        'if [ -e "$hold" ] && [ "$n" -ge "$(cat "$hold")" ]; then\n'
        f'  : > {q(str(flags))}/"in-health-$svc"\n'
        '  i=0; while [ -e "$hold" ] && [ $i -lt 4000 ]; do sleep 0.02; i=$((i+1)); done\n'
        "fi\n"
        "exit 0\n",
    )
    return p


def _hold_health(p: Project, service: str, *, from_probe: int) -> Path:
    p.flags.mkdir(parents=True, exist_ok=True)
    flag = p.flags / f"hold-health-{service}"
    flag.write_text(f"{from_probe}\n", encoding="utf-8")
    return flag


def _wait_in_health(p: Project, service: str, proc: Background) -> None:
    def there() -> bool:
        if proc.proc.poll() is not None:
            raise AssertionError(f"the executor ended before holding:\n{proc.wait()}")
        return (p.flags / f"in-health-{service}").exists()

    wait_until(there, timeout_s=30, what=f"the health check of {service} held")


def _lock_id(p: Project) -> str:
    rows = p.query("SELECT lock_id FROM locks WHERE resource = ?", (f"train:{TRAIN}",))
    assert rows, "no lock on the train"
    return str(rows[0][0])


def _refused_as_locked(result: Result) -> bool:
    assert result.code == 3, result
    assert "is locked by" in result.err, result
    return True


def _take_over(p: Project, start) -> Background:
    """`execute` on host B, started again each time it is refused (exit 3: the stopped
    holder's lease is still fresh) until one gets past the lock: it starts deploying b."""
    attempts = [start(p, "execute", TRAIN, name="second-0", env=HOST_B)]

    def past_the_lock() -> bool:
        if ("b", TARGET) in p.called():
            return True
        if attempts[-1].proc.poll() is not None:
            assert _refused_as_locked(attempts[-1].wait())
            name = f"second-{len(attempts)}"
            attempts.append(start(p, "execute", TRAIN, name=name, env=HOST_B))
        return False

    wait_until(past_the_lock, timeout_s=60, what="the second host taking the lease over")
    return attempts[-1]


def test_a_phase_longer_than_lock_stale_after_keeps_its_lease(tmp_path: Path, start) -> None:
    p = _project(tmp_path)
    # The second probe of b is the verifying phase's: held for over twice lock_stale_after,
    # where no release loop runs beside it.
    flag = _hold_health(p, "b", from_probe=2)
    holder = start(p, "execute", TRAIN, name="holder", env=HOST_A)
    _wait_in_health(p, "b", holder)
    assert p.run_status() == ("verifying", None)
    held_since = time.monotonic()
    attempts = 0
    while time.monotonic() - held_since < 2.5 * STALE_AFTER_S:
        # another host tries to take the train: always refused, the lease is renewed
        assert _refused_as_locked(p.run("execute", TRAIN, env=HOST_B))
        attempts += 1
    assert attempts >= 2
    assert p.run_status() == ("verifying", None)
    flag.unlink()
    done = holder.wait()
    assert done.code == 0, done
    assert p.called() == [("a", TARGET), ("b", TARGET)]
    assert p.run_status() == ("completed", None)
    assert p.query("SELECT COUNT(*) FROM locks") == [(0,)]


def test_a_stopped_holder_taken_over_deploys_nothing_more_and_exits_3(
    tmp_path: Path, start
) -> None:
    p = _project(tmp_path)
    flag = _hold_health(p, "a", from_probe=1)  # a is deployed; its health check holds
    first = start(p, "execute", TRAIN, name="first", env=HOST_A)
    _wait_in_health(p, "a", first)
    assert p.called() == [("a", TARGET)]
    os.kill(first.pid, signal.SIGSTOP)
    try:
        flag.unlink()  # the probe ends; its executor, stopped, does not see it
        hold_b = p.hold("b")  # the new holder keeps the lease while the old one wakes up
        second = _take_over(p, start)
        assert p.called() == [("a", TARGET), ("b", TARGET)]
    finally:
        os.kill(first.pid, signal.SIGCONT)
    lost = first.wait()
    assert lost.code == 3, lost
    assert f"lost the lock on {TRAIN} to" in lost.err, lost
    assert "host-b" in lost.err, lost  # the holder that took it over
    assert "Traceback" not in lost.err
    hold_b.unlink()
    done = second.wait()
    assert done.code == 0, done
    assert "took over" in done.err, done
    # each service deployed exactly once: a by the first host, b by the second
    assert Counter(p.called()) == {("a", TARGET): 1, ("b", TARGET): 1}
    assert p.run_status() == ("completed", None)
    assert any('"lock-takeover"' in line for line in p.audit_lines())


def test_unlock_force_of_a_live_lease_stops_its_holder(tmp_path: Path, start) -> None:
    p = _project(tmp_path)
    flag = _hold_health(p, "a", from_probe=1)
    holder = start(p, "execute", TRAIN, name="holder")
    _wait_in_health(p, "a", holder)
    lock_id = _lock_id(p)

    refused = p.run("unlock", TRAIN, lock_id)
    assert refused.code == 3, refused  # live: its process runs on this host
    forced = p.run("unlock", TRAIN, lock_id, "--force")
    assert forced.code == 0, forced
    flag.unlink()
    stopped = holder.wait()
    assert stopped.code == 3, stopped
    assert f"lost the lock on {TRAIN}" in stopped.err, stopped
    assert "Traceback" not in stopped.err
    assert p.called() == [("a", TARGET)]  # b was never deployed
    assert p.query("SELECT COUNT(*) FROM locks") == [(0,)]

    # the run is left as the old holder last wrote it; a new execute finishes it, deploying
    # only what was not deployed (a is reconciled: the deployer reports the target)
    again = p.run("execute", TRAIN)
    assert again.code == 0, again
    assert Counter(p.called()) == {("a", TARGET): 1, ("b", TARGET): 1}
    assert p.run_status() == ("completed", None)
