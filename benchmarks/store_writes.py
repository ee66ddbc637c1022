"""Write transactions and time per service of `execute`, on SQLite and on PostgreSQL.

    python benchmarks/store_writes.py [--services 200] [--repeats 3]

Generates N independent services on the local deployer (generate.py, degree 0), then runs
`release-trains execute` in this process against a fresh SQLite file and a fresh database of
a private PostgreSQL server (tests/pg_server.py: its throwaway settings, fsync off: this counts
transactions, and B3 times the durable commits of both stores). Counts the store transactions each
execute opens (write and read) by wrapping the backends' `tx`, and times it against `plan
--dry-run` of the same catalog, as B3 does: per service = (execute - plan) / N. Prints one JSON
document.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

import generate  # noqa: E402


def _cli(root: Path, state: str, *args: str) -> float:
    from release_trains.cli.main import main

    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        code = main(["--root", str(root), "--state", state, *args])
    took = time.perf_counter() - start
    if code != 0:
        raise RuntimeError(f"{args}: exit {code}")
    return took


def measure(
    root: Path, fresh: Callable[[], contextlib.AbstractContextManager[str]], *, n: int, repeats: int
) -> dict[str, Any]:
    counts: Counter[str] = Counter()
    executes, plans, writes, reads = [], [], [], []
    for _ in range(repeats):
        shutil.rmtree(root / "analysis", ignore_errors=True)
        with fresh() as state:
            plans.append(_cli(root, state, "plan", generate.TRAIN, "--dry-run"))
            counts.clear()
            _count_on(counts)
            executes.append(_cli(root, state, "execute", generate.TRAIN, "--json"))
            _count_off()
            writes.append(counts["write"])
            reads.append(counts["read"])
    per_ms = (statistics.median(executes) - statistics.median(plans)) / n * 1000
    return {
        "per_service_ms": round(per_ms, 3),
        "write_tx_per_service": round(statistics.median(writes) / n, 2),
        "read_tx_per_service": round(statistics.median(reads) / n, 2),
        "execute_s": [round(x, 3) for x in executes],
        "plan_s": [round(x, 3) for x in plans],
    }


_active: list[Counter[str]] = []


def _count_on(counts: Counter[str]) -> None:
    _active.append(counts)


def _count_off() -> None:
    _active.clear()


def _install_counter() -> None:
    from release_trains.state.db import SQLiteDatabase
    from release_trains.state.postgres import PostgresDatabase

    for cls in (SQLiteDatabase, PostgresDatabase):
        original = cls.tx

        def tx(self: Any, *, write: bool = True, _original: Any = original) -> Any:
            for counts in _active:
                counts["write" if write else "read"] += 1
            return _original(self, write=write)

        cls.tx = tx  # type: ignore[method-assign]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--services", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument(
        "--durable",
        action="store_true",
        help="the PostgreSQL server with B3's durable settings (fsync, synchronous_commit on)",
    )
    ap.add_argument("--only", choices=("sqlite", "postgresql"), help="measure one backend")
    args = ap.parse_args()
    import os

    from pg_server import PrivateServer

    _install_counter()
    work = Path(tempfile.mkdtemp(prefix="rt-store-writes-"))
    import pg

    server = (
        PrivateServer(settings=pg.DURABLE_SETTINGS) if args.durable else PrivateServer()
    ).start()
    os.environ.update(server.env())
    try:
        root = work / "root"
        generate.generate(root, services=args.services, participants=args.services, degree=0)

        @contextlib.contextmanager
        def sqlite() -> Iterator[str]:
            path = work / "state.db"
            for leftover in work.glob("state.db*"):
                leftover.unlink()
            yield str(path)

        result: dict[str, Any] = {"services": args.services, "durable": args.durable}
        if args.only in (None, "sqlite"):
            result["sqlite"] = measure(root, sqlite, n=args.services, repeats=args.repeats)
        if args.only in (None, "postgresql"):
            result["postgresql"] = measure(
                root, server.fresh_database, n=args.services, repeats=args.repeats
            )
        if args.only is None:
            result["ratio"] = round(
                result["postgresql"]["per_service_ms"] / result["sqlite"]["per_service_ms"], 2
            )
        print(json.dumps(result, indent=2))
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
