"""Before/after figures for a fix: the same command on two source trees, interleaved.

    python benchmarks/compare.py --before /tmp/base --after . --cwd ROOT [--repeats 7] -- ARGS...

runs `python -m release_trains ARGS` with PYTHONPATH set to each tree in turn (warm-up, then
`--repeats` rounds, before and after alternating so load hits both alike) and prints the
median wall time, CPU time and peak RSS of each, and after/before. The README's before/after
figures come from this script, with --before a copy of the tree with the fix undone.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import Sample, interleaved, med, run_process, use_bytecode_cache


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--before", type=Path, required=True, help="source tree without the fix")
    ap.add_argument("--after", type=Path, required=True, help="source tree with the fix")
    ap.add_argument("--cwd", type=Path, default=Path.cwd(), help="project root to run in")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--rc", type=int, nargs="*", default=[0], help="accepted exit codes")
    ap.add_argument(
        "--no-bytecode-cache",
        action="store_true",
        help="compile on every start, as with PYTHONDONTWRITEBYTECODE=1",
    )
    ap.add_argument("args", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    if not a.no_bytecode_cache:  # as run.py does: children cache bytecode under a temporary prefix
        use_bytecode_cache(Path(tempfile.mkdtemp(prefix="rt-compare-pycache-")))
    args = a.args[1:] if a.args[:1] == ["--"] else a.args
    argv = [sys.executable, "-m", "release_trains", *args]

    def case(tree: Path) -> Callable[[], Sample]:
        env: dict[str, str | None] = {"PYTHONPATH": str(tree.resolve())}
        return lambda: run_process(argv, cwd=a.cwd, env_extra=env)

    runs = interleaved(
        {"before": case(a.before), "after": case(a.after)}, repeats=a.repeats, warmup=1
    )
    for name, samples in runs.items():
        bad = [s for s in samples if s.rc not in a.rc]
        if bad:
            sys.exit(f"{name}: exit {bad[0].rc}: {bad[0].stderr[-1500:]}")
        print(
            f"{name:6s} wall {med(samples):.3f} s  cpu {med(samples, 'cpu_s'):.3f} s  "
            f"peak RSS {max(s.rss_mb for s in samples):.0f} MB  ({len(samples)} runs)"
        )
    for attr in ("wall_s", "cpu_s"):
        print(f"after/before {attr}: {med(runs['after'], attr) / med(runs['before'], attr):.3f}")


if __name__ == "__main__":
    main()
