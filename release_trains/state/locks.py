"""Leases: who holds a train and its services, renewed by a heartbeat, and the fence that stops
a holder whose lease is gone from writing anything more.

A lease is one row of `leases` (lock id, train, holder, host, pid, heartbeat); each locked
resource ("train:NAME", "service:NAME") is one row of `locks` naming its lease. A heartbeat
therefore writes one row whatever the number of services, and taking a stale lease over (or
`unlock --force`) deletes the lease, which frees every resource it held at once and makes
every later fenced write of its old holder fail.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeVar

from ..errors import InputError, LockHeldError, LostLockError
from ..identity import host
from .db import StoreBase, Tx
from .records import Lock

_LOCK_SELECT = (
    "SELECT k.resource, k.lock_id, l.train, l.holder, l.host, l.pid, l.started_at,"
    " l.heartbeat_at FROM locks k JOIN leases l ON l.lock_id = k.lock_id"
)
# a version-1 store: one row per resource, each with its holder (read-only there)
_LEGACY_SELECT = (
    "SELECT resource, lock_id, train, holder, host, pid, started_at, heartbeat_at FROM locks"
)

S = TypeVar("S", bound="LocksMixin")


def this_host() -> str:
    """The host name locks are recorded with: RELEASE_TRAINS_HOST, else the machine's name
    (identity.host, the one source of it)."""
    return host()


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_stale(lock: Lock, *, now_ts: float, stale_after_s: float) -> bool:
    """A lease whose holder is gone: its process on this host, or its heartbeat elsewhere."""
    if lock.host == this_host():
        return not pid_alive(lock.pid)
    return _age(lock, now_ts) > stale_after_s


def _age(lock: Lock, now_ts: float) -> float:
    return now_ts - datetime.fromisoformat(lock.heartbeat_at).timestamp()


def _lock_of(row: Any) -> Lock:
    resource, lock_id, train, holder, host, pid, started_at, heartbeat_at = tuple(row)
    return Lock(resource, lock_id, train, holder, host, int(pid), started_at, heartbeat_at)


def locks_in(tx: Tx, *, version: int, train: str | None = None) -> list[Lock]:
    """The locked resources (of `train`, or all), with their leases, by resource."""
    if version < 2:
        rows = tx.execute(f"{_LEGACY_SELECT} ORDER BY resource").fetchall()
        found = [_lock_of(r) for r in rows]
        return [lk for lk in found if train is None or lk.train == train]
    if train is None:
        rows = tx.execute(f"{_LOCK_SELECT} ORDER BY k.resource").fetchall()
    else:
        rows = tx.execute(
            f"{_LOCK_SELECT} WHERE l.train = ? ORDER BY k.resource", (train,)
        ).fetchall()
    return [_lock_of(r) for r in rows]


def check_holds(tx: Tx, lock_id: str, *, train: str) -> None:
    """LostLockError unless lease `lock_id` exists and holds `train:<train>`."""
    row = tx.execute(
        "SELECT k.lock_id, l.holder, l.pid FROM locks k"
        " LEFT JOIN leases l ON l.lock_id = k.lock_id WHERE k.resource = ?",
        (f"train:{train}",),
    ).fetchone()
    if row is not None and row[1] is not None:
        if row[0] == lock_id:
            return
        raise LostLockError(
            f"lost the lock on {train} to {row[1]} (pid {row[2]}, lock {row[0]}), which took "
            f"over lock {lock_id}: this process writes and deploys nothing more"
        )
    raise LostLockError(
        f"lost the lock on {train} to nobody: lock {lock_id} was removed by unlock --force (or "
        "taken over by a run that has since ended): this process writes and deploys nothing more"
    )


class LocksMixin(StoreBase):
    def acquire(
        self, resources: Sequence[str], lock: Lock, *, stale_after_s: float, now_ts: float
    ) -> list[Lock]:
        """Take every resource or none, under one lease (`lock`'s id, holder, heartbeat).
        Returns the stale locks that were taken over (their leases are deleted).

        A lease whose process is gone on this host, or (another host) whose heartbeat is older
        than `stale_after_s`, is stale and taken over; any other holder refuses with exit 3.
        """
        taken_over: list[Lock] = []
        marks = ",".join("?" * len(resources))
        with self._write(fenced=False) as tx:
            rows = tx.execute(f"{_LOCK_SELECT} WHERE k.resource IN ({marks})", tuple(resources))
            for held in [_lock_of(r) for r in rows.fetchall()]:
                if held.lock_id == lock.lock_id:
                    continue
                if is_stale(held, now_ts=now_ts, stale_after_s=stale_after_s):
                    taken_over.append(held)
                    continue
                what = held.resource.replace(":", " ", 1)
                raise LockHeldError(
                    f"{what} is locked by train {held.train!r} run by {held.describe()}; "
                    "wait for it, or if that run is dead: "
                    f"release-trains unlock {held.train} {held.lock_id}"
                )
            for lock_id in sorted({t.lock_id for t in taken_over}):
                _delete_lease(tx, lock_id)
            tx.execute(
                "INSERT INTO leases (lock_id, train, holder, host, pid, started_at, heartbeat_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (lock_id) DO UPDATE SET"
                " heartbeat_at = excluded.heartbeat_at",
                (
                    lock.lock_id,
                    lock.train,
                    lock.holder,
                    lock.host,
                    lock.pid,
                    lock.started_at,
                    lock.heartbeat_at,
                ),
            )
            # a resource whose row names no lease any more is free: it is simply repointed
            tx.executemany(
                "INSERT INTO locks (resource, lock_id) VALUES (?, ?)"
                " ON CONFLICT (resource) DO UPDATE SET lock_id = excluded.lock_id",
                [(r, lock.lock_id) for r in resources],
            )
        return taken_over

    def heartbeat(self, lock_id: str, now: str) -> bool:
        """Renew lease `lock_id` (one row); False when it no longer exists (taken over or
        removed by unlock --force): its holder must stop."""
        with self._write(fenced=False) as tx:
            changed = tx.execute(
                "UPDATE leases SET heartbeat_at = ? WHERE lock_id = ?", (now, lock_id)
            ).rowcount
        return changed == 1

    def release(self, lock_id: str) -> None:
        with self._write(fenced=False) as tx:
            _delete_lease(tx, lock_id)

    def locks(self, train: str | None = None) -> list[Lock]:
        with self._read() as tx:
            return locks_in(tx, version=self.version, train=train)

    def unlock(
        self, train: str, lock_id: str, *, force: bool, now_ts: float, stale_after_s: float
    ) -> list[Lock]:
        """Remove lease `lock_id` of `train`; returns the locks it held. A lease that is not
        stale is refused (LockHeldError, exit 3) unless `force`: its holder may be deploying,
        and removing its lease makes its next write fail (LostLockError) instead."""
        with self._write(fenced=False) as tx:
            held = [
                lk
                for lk in locks_in(tx, version=self.version, train=train)
                if lk.lock_id == lock_id
            ]
            if not held:
                ids = ", ".join(
                    sorted({lk.lock_id for lk in locks_in(tx, version=self.version, train=train)})
                )
                raise InputError(
                    f"train {train!r} holds no lock {lock_id!r} (locks held: {ids or 'none'})"
                )
            lease = held[0]
            if not force and not is_stale(lease, now_ts=now_ts, stale_after_s=stale_after_s):
                where = (
                    f"its process {lease.pid} runs on this host"
                    if lease.host == this_host()
                    else f"its last heartbeat is {max(0.0, _age(lease, now_ts)):.0f} s old "
                    f"(stale after {stale_after_s:g} s)"
                )
                raise LockHeldError(
                    f"lock {lock_id} on {train} is live: {lease.describe()}; {where}. Wait for "
                    f"it, ask it to stop (release-trains pause {train}), or, if you know it is "
                    f"dead, release-trains unlock {train} {lock_id} --force"
                )
            _delete_lease(tx, lock_id)
        return held

    def fenced(self: S, lock_id: str) -> S:
        """This store, sharing its connection, whose every write transaction first checks that
        lease `lock_id` still holds its train (else LostLockError, and nothing is written).
        Close the store it came from, not this one."""
        with self._read() as tx:
            row = tx.execute("SELECT train FROM leases WHERE lock_id = ?", (lock_id,)).fetchone()
        if row is None:
            raise LostLockError(
                f"lock {lock_id} is not held (taken over, or removed by unlock --force): "
                "this process writes and deploys nothing more"
            )
        fenced = copy.copy(self)
        fenced._fence = (lock_id, str(row[0]))
        return fenced

    def _check_fence(self, tx: Tx, lock_id: str, *, train: str) -> None:
        if self.db.kind == "postgresql":
            # Checked by the server, not read back: a lease that no longer holds the train
            # makes this statement fail (division by zero), which aborts the transaction, so
            # none of its writes commit, and postgres.py raises FenceBroken. The transaction's
            # statements then need no round trip of their own before the COMMIT. The statement
            # runs after the write lock is granted, so it sees every takeover committed before.
            tx.execute(_FENCE_OR_ABORT, (f"train:{train}", lock_id))
        else:
            check_holds(tx, lock_id, train=train)

    def _lost(self, lock_id: str, *, train: str) -> None:
        with self._read() as tx:
            check_holds(tx, lock_id, train=train)  # raises, naming the holder now
        raise LostLockError(f"lost the lock on {train}: lock {lock_id} no longer holds it")


# 1 / the number of leases `lock_id` holding the train: fails with division_by_zero when none.
_FENCE_OR_ABORT = (
    "SELECT 1 / (SELECT COUNT(*) FROM locks k JOIN leases l ON l.lock_id = k.lock_id"
    " WHERE k.resource = ? AND k.lock_id = ?)"
)


def _delete_lease(tx: Tx, lock_id: str) -> None:
    tx.execute("DELETE FROM locks WHERE lock_id = ?", (lock_id,))
    tx.execute("DELETE FROM leases WHERE lock_id = ?", (lock_id,))
