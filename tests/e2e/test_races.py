"""Races on one train, on both state stores: the status is re-checked under the lock, and a
lease removed by `unlock --force` fences its old holder.

- 8 `execute` of a completed train started at once: none deploys anything; each exits 3
  (the train is completed, or, while another racer holds the lock to look, locked).
- `unlock` of a live lease is refused (exit 3); with `--force` the lease is removed, and its
  holder, still deploying, then stops (exit 3, "lost the lock") deploying nothing more; the
  next `execute` carries the train on, every service released once.
"""

from __future__ import annotations

from pathlib import Path

from e2e_support import TARGET, TRAIN, Background, chain, make_project, wait_for_calls
from helpers import process_gone, wait_until

RACERS = 8


def test_eight_executes_of_a_completed_train_deploy_nothing(
    tmp_path: Path, start, state: str | None
) -> None:
    p = make_project(tmp_path, services=chain(["a", "b"]), state=state)
    first = p.run("execute", TRAIN)
    assert first.code == 0, first
    assert p.called() == [("a", TARGET), ("b", TARGET)]
    p.record.unlink()

    racers: list[Background] = [start(p, "execute", TRAIN, name=f"racer{i}") for i in range(RACERS)]
    results = [r.wait() for r in racers]

    assert [r.code for r in results] == [3] * RACERS, "\n".join(map(str, results))
    for r in results:
        assert "Traceback" not in r.err, r
        assert "completed" in r.err or "locked" in r.err, r
    assert not p.record.exists(), p.calls()  # nobody deployed anything
    assert p.run_status() == ("completed", None)
    assert len(p.query("SELECT id FROM runs")) == 1  # and nobody started a new run
    assert not p.query("SELECT * FROM locks")


def test_unlock_refuses_a_live_lease_and_force_stops_its_holder(
    tmp_path: Path, start, state: str | None
) -> None:
    p = make_project(tmp_path, services=chain(["a", "b", "c"]), state=state)
    hold = p.hold("b")
    holder: Background = start(p, "execute", TRAIN, name="holder")
    wait_for_calls(p, 2, proc=holder)  # a released, b deploying (held)
    [(lock_id,)] = p.query("SELECT DISTINCT lock_id FROM locks")
    locks_before = p.query("SELECT resource, lock_id FROM locks ORDER BY resource")

    refused = p.run("unlock", TRAIN, lock_id)
    assert refused.code == 3, refused
    assert "--force" in refused.err, refused  # says how to insist
    assert p.query("SELECT resource, lock_id FROM locks ORDER BY resource") == locks_before

    forced = p.run("unlock", TRAIN, lock_id, "--force")
    assert forced.code == 0, forced
    assert not p.query("SELECT * FROM locks")
    hold.unlink()  # b's deploy ends; its holder must notice it lost the lease

    stopped = holder.wait()
    assert stopped.code == 3, stopped
    assert f"lost the lock on {TRAIN}" in stopped.err, stopped
    assert "Traceback" not in stopped.err
    wait_until(
        lambda: all(process_gone(pid) for _, _, pid in p.calls()), timeout_s=10, what="deploys"
    )
    assert p.called() == [("a", TARGET), ("b", TARGET)], p.calls()  # c never deployed by it

    again = p.run("execute", TRAIN, "--json")
    assert again.code == 0, again
    assert again.json()["status"] == "completed"
    assert p.called() == [("a", TARGET), ("b", TARGET), ("c", TARGET)], p.calls()
    assert p.run("audit", "--verify").code == 0
