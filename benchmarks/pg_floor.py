"""The floor under B3 on PostgreSQL: what one round trip and one durable commit cost here.

    python benchmarks/pg_floor.py [--count 2000]

Against the benchmarks' own server (pg.py: durable settings, 127.0.0.1), on one psycopg
connection in autocommit mode, each statement sent and its answer awaited, as the store does:
`SELECT 1` (a round trip), `BEGIN; SELECT 1; COMMIT` (a read transaction in one query, as
state/postgres.py sends one) and `BEGIN; INSERT ...; COMMIT` (a durable write: the COMMIT
waits for the WAL flush). Prints microseconds per statement (median of 5 rounds). An execute
needs at least its write transactions' commits per service; B3's ratio cannot fall below
what those cost on top of SQLite's figure (benchmarks/README.md, "B3 on PostgreSQL: the floor").
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pg  # benchmarks/pg.py, found through the path above

CASES = {
    "round trip (SELECT 1)": "SELECT 1",
    "read transaction in one query": "BEGIN; SELECT 1; COMMIT",
    "durable write transaction in one query": "BEGIN; INSERT INTO floor VALUES (1); COMMIT",
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=2000, help="statements per round")
    args = ap.parse_args()
    import psycopg

    try:
        with tempfile.TemporaryDirectory() as tmp, pg.fresh_database(Path(tmp)) as url:
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("CREATE TABLE floor (a int)")
                out: dict[str, float] = {}
                for name, sql in CASES.items():
                    rounds = []
                    for _ in range(5):
                        t0 = time.perf_counter()
                        for _ in range(args.count):
                            conn.execute(sql)
                        rounds.append((time.perf_counter() - t0) / args.count * 1e6)
                    out[name] = round(statistics.median(rounds), 1)
            settings = pg.describe()
    finally:
        pg.stop()
    print(json.dumps({"microseconds_per_statement": out, "server": settings}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
