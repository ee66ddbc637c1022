"""The kill test: SIGKILL `execute` at seeded points of a 5-service chain, run it again, and
check that the train still ends exactly right.

Design (executor.py): every state change is committed before the work it announces starts;
a step left `deploying`/`verifying` by a killed process is reconciled by asking the deployer's
`current_version`, and deployed again only when that does not already report the target.

The deploy script records each call first, then sleeps 0.2 s, then writes the deployed
version; `current_version` prints that file. A kill "mid-deploy" lands right after the k-th
record line appears (the deploy is sleeping and its step is `deploying`); a kill "after
release" lands once the state store shows the k-th service `released`. The deploy script runs
in its own session, so it outlives the killed executor and finishes on its own, as a real
deploy would: the second `execute` waits for it to end (its process group is recorded with
the step), then finds it done (nothing to deploy again) or, where the kill landed before the
deploy started, deploys again; the test accepts exactly those two, checked against the
executor's own reconcile record. The orphan itself is tested in test_release_truth.py.

Every seeded point runs on SQLite; PG_POINTS (one of each kind, at different depths) run on
PostgreSQL too, where the audit chain is verified through `audit --verify` (the chain and its
anchor live in the store).
"""

from __future__ import annotations

import random
import re
from collections import Counter
from pathlib import Path

import pytest
from e2e_support import FROM, TARGET, TRAIN, Background, chain, make_project, wait_for_calls
from helpers import process_gone, wait_until

SERVICES = ["s1", "s2", "s3", "s4", "s5"]
_rng = random.Random(1234)
KILL_POINTS = [
    (_rng.randint(1, 5), _rng.choice(["mid-deploy", "after-release"])) for _ in range(10)
]
# the PostgreSQL cases: indices into KILL_POINTS covering both kinds (checked below)
PG_POINTS = (0, 6, 9)
CASES = [(i, k, m, "sqlite") for i, (k, m) in enumerate(KILL_POINTS)] + [
    (i, *KILL_POINTS[i], "postgresql") for i in PG_POINTS
]
RECONCILE = re.compile(
    r"step was left (\w+); deployer reports (\S+): (deploying again|already deployed, verifying)"
)


def test_the_seeded_kill_points_cover_both_kinds_and_every_depth() -> None:
    assert len(KILL_POINTS) >= 10
    assert {mode for _, mode in KILL_POINTS} == {"mid-deploy", "after-release"}
    assert {k for k, _ in KILL_POINTS} == set(range(1, 6))
    assert {KILL_POINTS[i][1] for i in PG_POINTS} == {"mid-deploy", "after-release"}


@pytest.mark.slow
@pytest.mark.parametrize(
    ("k", "mode", "state"),
    [(k, m, st) for _, k, m, st in CASES],
    ids=[f"{i}-k{k}-{m}-{st}" for i, k, m, st in CASES],
    indirect=["state"],
)
def test_sigkill_at_a_seeded_point_then_execute_again(
    tmp_path: Path, start, k: int, mode: str, state: str | None
) -> None:
    p = make_project(tmp_path, services=chain(SERVICES), sleep_s=0.2, state=state)
    killed_service = SERVICES[k - 1]

    first: Background = start(p, "execute", TRAIN, name="first")
    wait_for_calls(p, k, proc=first)
    if mode == "after-release":
        wait_until(
            lambda: p.step_status(killed_service) == "released" or first.proc.poll() is not None,
            timeout_s=10,
            what=f"{killed_service} released",
        )
    first.kill()
    first_code = first.proc.returncode
    assert first_code in (0, -9), first.wait()
    status_after_kill = p.run_status()
    assert status_after_kill is not None

    second = p.run("execute", TRAIN, "--json")
    if status_after_kill[0] == "completed":  # it completed before the kill landed (last service)
        assert (k, mode) == (5, "after-release"), first.wait()
        assert second.code == 3, second
        assert "completed" in second.err
    else:
        assert second.code == 0, f"after a kill at {k}/{mode} (left {status_after_kill}):\n{second}"
        assert second.json()["status"] == "completed"

    # Wait for any deploy the killed executor left running (it would rewrite a version file).
    wait_until(
        lambda: all(process_gone(pid) for _, _, pid in p.calls()),
        timeout_s=10,
        what="deploys finished",
    )

    assert p.run_status() == ("completed", None)
    steps = p.steps()
    assert list(steps) == SERVICES
    assert {s: st["status"] for s, st in steps.items()} == dict.fromkeys(SERVICES, "released")
    # the rollback points recorded at staging survive the resume
    assert {s: st["from_version"] for s, st in steps.items()} == dict.fromkeys(SERVICES, FROM)
    assert {s: p.deployed(s) for s in SERVICES} == dict.fromkeys(SERVICES, TARGET)
    assert all(version == TARGET for _, version in p.called())

    # Each service deployed exactly once, except a deploy the kill interrupted before its
    # result was committed: deployed again only where current_version did not report the target.
    counts = Counter(s for s, _ in p.called())
    reconciled = {}
    for _, service, message in p.events("reconcile"):
        m = RECONCILE.search(message)
        assert m, message
        reconciled[service] = (m.group(1), m.group(2), m.group(3))
    for service in SERVICES:
        if service not in reconciled:
            assert counts[service] == 1, (service, p.called(), reconciled)
            continue
        left, reported, decision = reconciled[service]
        assert left in ("deploying", "verifying"), reconciled
        if decision == "already deployed, verifying":
            assert reported == TARGET, reconciled
            assert counts[service] == 1, (service, p.called(), reconciled)
        else:
            assert reported != TARGET, reconciled
            assert counts[service] <= 2, (service, p.called(), reconciled)
    assert set(reconciled) <= {killed_service, SERVICES[min(k, len(SERVICES) - 1)]}, reconciled
    # Calls follow the chain: nobody is deployed before its dependency's first deploy.
    first_call = [s for s, _ in p.called() if counts.pop(s, None) is not None]
    assert first_call == SERVICES

    assert p.integrity() == "ok"
    verified = p.run("audit", "--verify", "--json")
    assert verified.code == 0 and verified.json()["anchored"], verified
    if second.code == 0:
        assert not p.query("SELECT * FROM locks")
