"""Two machines, one store: executors that say they run on different hosts
(`RELEASE_TRAINS_HOST`) share one PostgreSQL database, as a team's machines would.

A lock of another host cannot be judged by its process (it runs elsewhere), only by its lease:
it is stale once its heartbeat is older than `executor.lock_stale_after` (STALE_S here, small
so the tests do not wait long). The holder renews it from a thread for the lock's whole life,
so a long phase keeps it (tests/e2e/test_lease_life.py), and a holder that stops (SIGKILL,
SIGSTOP) loses it; one that comes back after a takeover finds its writes fenced and exits 3
deploying nothing more.

The deploy script takes ~0.5 s per service and records each call (deploy.record). The kills
and stops land while the holder verifies a service (a health command that blocks, once, while
a flag file exists): no deploy command is then in flight on the stopped host, which the other
host could not check from where it runs; the last test shows that case (inflight.py refuses
it, naming the host where it can be checked, until the operator declares it ended with
`--deploy-ended`).
"""

from __future__ import annotations

import shlex
import signal
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import pytest
from e2e_support import TARGET, TRAIN, Background, Project, chain, make_project, wait_for_calls
from helpers import process_gone, wait_until, write_script

SERVICES = ["s1", "s2", "s3", "s4"]
HELD = "s2"  # the service whose (first) health check blocks while the flag exists
STALE_S = 3.0
HOST_A = {"RELEASE_TRAINS_HOST": "host-a"}
HOST_B = {"RELEASE_TRAINS_HOST": "host-b"}


def _project(tmp_path: Path, url: str, *, held: str = HELD) -> Project:
    """A chain s1..s4 on the PostgreSQL store `url`, whose health check of `held` blocks (the
    first time only) while flags/hold-health exists, touching `health-holding` meanwhile."""
    work = tmp_path / "project"
    health = work / "health"
    q = lambda x: shlex.quote(str(x))  # noqa: E731
    first = work / "health-held.d"
    write_script(
        health,
        f'if [ "$1" = {q(held)} ] && mkdir {q(first)} 2>/dev/null; then\n'
        f"  touch {q(work / 'health-holding')}\n"
        "  n=0\n"
        f"  while [ -e {q(work / 'flags' / 'hold-health')} ] && [ $n -lt 3000 ]; do\n"
        "    sleep 0.02; n=$((n+1))\n"
        "  done\n"
        "fi\n"
        "exit 0\n",
    )
    return make_project(
        tmp_path,
        services=chain(SERVICES),
        sleep_s=0.5,
        health={"type": "command", "command": [str(health), "{service}"], "timeout": 90},
        release_trains={"executor": {"lock_stale_after": STALE_S}},
        state=url,
    )


def _hold_health(p: Project) -> Path:
    p.flags.mkdir(parents=True, exist_ok=True)
    flag = p.flags / "hold-health"
    flag.write_text("", encoding="utf-8")
    return flag


def _wait_holding(p: Project, holder: Background) -> None:
    wait_until(
        lambda: (p.work / "health-holding").exists() or holder.proc.poll() is not None,
        timeout_s=30,
        what=f"the health check of {HELD} under way",
    )
    assert holder.proc.poll() is None, holder.wait()


def _lease(p: Project) -> tuple[str, str, str, str]:
    """(lock id, host, started_at, heartbeat_at) of the train's lease."""
    rows = [r for r in p.leases() if r["resource"] == f"train:{TRAIN}"]
    assert rows, "the train holds no lease"
    r = rows[0]
    return str(r["lock_id"]), str(r["host"]), str(r["started_at"]), str(r["heartbeat_at"])


def _age_s(ts: str) -> float:
    return (datetime.now(timezone.utc) - datetime.fromisoformat(ts)).total_seconds()


def _wait_stale(p: Project) -> None:
    """Until the lease's last heartbeat is older than STALE_S (with a margin): only then may
    the other host take it over."""
    wait_until(
        lambda: _age_s(_lease(p)[3]) > STALE_S + 0.5,
        timeout_s=STALE_S * 10,
        what="the stopped holder's lease stale",
    )


def _once_each_in_order(p: Project) -> None:
    assert Counter(s for s, _ in p.called()) == Counter(SERVICES), p.calls()
    assert p.called() == [(s, TARGET) for s in SERVICES], p.calls()


def _deploys_done(p: Project) -> None:
    wait_until(
        lambda: all(process_gone(pid) for _, _, pid in p.calls()), timeout_s=15, what="deploys done"
    )


def test_two_hosts_at_once_exactly_one_proceeds(tmp_path: Path, start, postgres_db_url) -> None:
    p = _project(tmp_path, postgres_db_url)
    one: Background = start(p, "execute", TRAIN, name="one", env=HOST_A)
    two: Background = start(p, "execute", TRAIN, name="two", env=HOST_B)
    results = {"host-a": one.wait(), "host-b": two.wait()}

    assert sorted(r.code for r in results.values()) == [0, 3], "\n".join(map(str, results.values()))
    winner = next(h for h, r in results.items() if r.code == 0)
    loser = next(r for r in results.values() if r.code == 3)
    assert "Traceback" not in loser.err, loser
    # refused by the winner's lease (naming its host), or, had the winner already finished
    # before the loser looked, by the completed status
    assert winner in loser.err or "completed" in loser.err, loser
    _once_each_in_order(p)
    assert p.run_status() == ("completed", None)
    assert len(p.query("SELECT id FROM runs")) == 1
    assert not p.query("SELECT * FROM locks")


def test_sigkill_of_one_host_the_other_takes_over_once_stale(
    tmp_path: Path, start, postgres_db_url
) -> None:
    p = _project(tmp_path, postgres_db_url)
    flag = _hold_health(p)
    a: Background = start(p, "execute", TRAIN, name="a", env=HOST_A)
    _wait_holding(p, a)
    lock_id, host, _, _ = _lease(p)
    assert host == "host-a"
    a.kill()  # SIGKILL: no cleanup, the lease stays until it is stale
    flag.unlink()  # the orphaned health check ends
    _deploys_done(p)
    assert p.called() == [("s1", TARGET), (HELD, TARGET)], p.calls()

    _wait_stale(p)
    b = p.run("execute", TRAIN, env=HOST_B)
    assert b.code == 0, b
    assert "took over" in b.err and lock_id in b.err, b  # says whose lease it took
    _once_each_in_order(p)  # s2 was deployed: reconciled on host-b, not deployed again
    assert p.run_status() == ("completed", None)
    assert not p.query("SELECT * FROM locks")
    verified = p.run("audit", "--verify")
    assert verified.code == 0, verified


def test_sigstop_holder_loses_its_lease_and_after_sigcont_deploys_nothing_more(
    tmp_path: Path, start, postgres_db_url
) -> None:
    p = _project(tmp_path, postgres_db_url)
    flag = _hold_health(p)
    a: Background = start(p, "execute", TRAIN, name="a", env=HOST_A)
    _wait_holding(p, a)
    old_lock, _, _, _ = _lease(p)
    a.proc.send_signal(signal.SIGSTOP)  # its heartbeat thread stops with it
    try:
        _wait_stale(p)
        b: Background = start(p, "execute", TRAIN, name="b", env=HOST_B)
        wait_until(
            lambda: b.proc.poll() is not None or _lease_host(p) == "host-b",
            timeout_s=30,
            what="host-b holding the lease",
        )
    finally:
        a.proc.send_signal(signal.SIGCONT)
    flag.unlink()  # a's health check returns now: a carries on, beside b, and must stop

    stopped = a.wait()
    assert stopped.code == 3, stopped
    assert f"lost the lock on {TRAIN}" in stopped.err, stopped
    assert "Traceback" not in stopped.err, stopped
    finished = b.wait()
    assert finished.code == 0, finished
    assert old_lock in finished.err, finished  # it says whose lease it took over
    _deploys_done(p)
    _once_each_in_order(p)  # a deployed s1 and s2 before it stopped, nothing after
    assert p.run_status() == ("completed", None)
    assert not p.query("SELECT * FROM locks")


def _lease_host(p: Project) -> str | None:
    rows = [r for r in p.leases() if r["resource"] == f"train:{TRAIN}"]
    return str(rows[0]["host"]) if rows else None


@pytest.mark.parametrize("carried_by", ["host-a", "host-b-declaring-it-ended"])
def test_a_deploy_left_running_on_a_dead_host_is_not_guessed_at_from_another(
    tmp_path: Path, start, postgres_db_url, carried_by: str
) -> None:
    """Killed mid-deploy: host-b cannot tell whether host-a's deploy command still runs, so it
    refuses (exit 3) naming the deploy, its host and the flag that declares it ended,
    deploying nothing. Then either execute on host-a, where the command's process group can be
    checked, carries the train on; or, host-a gone for good, the operator on host-b declares
    the deploy ended (`--deploy-ended s2`, audited with the actor) and host-b carries it on.
    Either way s2 is reconciled (the deployer reports the target), not deployed again."""
    p = _project(tmp_path, postgres_db_url)
    hold = p.hold(HELD)
    a: Background = start(p, "execute", TRAIN, name="a", env=HOST_A)
    wait_for_calls(p, 2, proc=a)  # s2's deploy under way (held) ...
    wait_until(  # ... and recorded in flight (written just after the command starts)
        lambda: p.query("SELECT service FROM steps WHERE deploy_pgid IS NOT NULL") == [(HELD,)],
        timeout_s=15,
        what=f"the deploy of {HELD} recorded in flight",
    )
    a.kill()
    hold.unlink()  # the orphaned deploy finishes on its own
    _deploys_done(p)

    _wait_stale(p)
    refused = p.run("execute", TRAIN, env=HOST_B)
    assert refused.code == 3, refused
    assert HELD in refused.err and "host-a" in refused.err, refused
    assert "Traceback" not in refused.err
    err = " ".join(refused.err.split())
    assert f"release-trains execute {TRAIN} --deploy-ended {HELD}" in err, refused
    assert p.called() == [("s1", TARGET), (HELD, TARGET)], p.calls()

    if carried_by == "host-a":
        carried = p.run("execute", TRAIN, env=HOST_A)
    else:
        carried = p.run("execute", TRAIN, "--deploy-ended", HELD, env=HOST_B)
    assert carried.code == 0, carried
    _once_each_in_order(p)  # s2 reconciled (the deployer reports the target), not redeployed
    assert p.run_status() == ("completed", None)
    assert not p.query("SELECT * FROM steps WHERE deploy_pgid IS NOT NULL")
    audited = p.run("audit", "--json", "--train", TRAIN)
    assert audited.code == 0, audited
    declared = [r for r in audited.json() if r["action"] == "deploy-declared-ended"]
    if carried_by == "host-a":
        assert declared == []  # checked on its own host: nothing to declare
    else:
        [record] = declared
        assert record["actor"].endswith("@host-b") and record["service"] == HELD, record
        detail = record["detail"]
        assert (detail["host"], detail["service"], detail["run_id"]) == ("host-a", HELD, 1)
        assert isinstance(detail["process_group"], int) and detail["started_at"], record
        assert [e for e in p.events("deploy-declared-ended") if e[1] == HELD], p.events()
    assert p.run("audit", "--verify").code == 0
