"""In-process timings of library functions, printed as one JSON document.

run.py starts this as a child process so that what the runner itself has imported or cached
never leaks into a measurement. Every figure is a median of wall-clock seconds.

    python benchmarks/inproc.py plan ROOT TRAIN [--repeats N]
        load_catalog (validate=True), plan_train, and Plan.to_json + json.dumps
    python benchmarks/inproc.py validate ROOT [--repeats N]
        check_catalog with validate=True and with validate=False (the difference is the
        time spent in schema validation), the schema check also timed directly inside the
        validating runs, and check_catalog with the jsonschema path forced (the fast path of
        validation.py switched off) for comparison
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any


def timed(fn: Callable[[], Any], repeats: int) -> tuple[list[float], Any]:
    out, value = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        value = fn()
        out.append(time.perf_counter() - start)
    return out, value


def med(xs: list[float]) -> float:
    return round(statistics.median(xs), 6)


def plan(root: Path, train: str, repeats: int) -> dict[str, Any]:
    start = time.perf_counter()
    from release_trains.catalog import load_catalog
    from release_trains.planning import plan_train

    imports = time.perf_counter() - start
    first, catalog = timed(lambda: load_catalog(root), 1)  # includes lazy imports and compiles
    loads, catalog = (
        timed(lambda: load_catalog(root), repeats - 1) if repeats > 1 else (first, catalog)
    )
    now = datetime.now(timezone.utc)
    plans, result = timed(lambda: plan_train(catalog, train, now=now), repeats)
    dumps, _ = timed(lambda: json.dumps(result.to_json(), indent=2, ensure_ascii=False), repeats)
    return {
        "imports_s": round(imports, 6),
        "load_catalog_first_s": med(first),
        "load_catalog_s": med(loads),
        "plan_train_s": med(plans),
        "to_json_dumps_s": med(dumps),
        "ready": result.ready,
        "participants": len(result.participants),
        "repeats": repeats,
    }


def validate(root: Path, repeats: int) -> dict[str, Any]:
    from release_trains import catalog as cat
    from release_trains import validation

    cat.check_catalog(root)  # warm-up: lazy imports, compiled schema checks
    # The schema check timed directly too: check_catalog calls catalog.schema_errors once per
    # file, and (with - without) is a small difference of two noisy totals on a large catalog.
    inner: list[float] = []
    original_errors = cat.schema_errors  # type: ignore[attr-defined]

    def timed_errors(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return original_errors(*args, **kwargs)
        finally:
            inner[-1] += time.perf_counter() - start

    on: list[float] = []
    off: list[float] = []
    problems = 0
    cat.schema_errors = timed_errors  # type: ignore[attr-defined]
    try:
        for _ in range(repeats):  # interleaved, so a load spike hits both alike
            inner.append(0.0)
            t, (_, found) = timed(lambda: cat.check_catalog(root, validate=True), 1)
            on += t
            problems = len(found.errors)
            off += timed(lambda: cat.check_catalog(root, validate=False), 1)[0]
    finally:
        cat.schema_errors = original_errors  # type: ignore[attr-defined]
    out: dict[str, Any] = {
        "with_validation_s": med(on),
        "without_validation_s": med(off),
        "schema_s": round(max(0.0, med(on) - med(off)), 6),
        "schema_share": round(max(0.0, med(on) - med(off)) / med(on), 4),
        "schema_timed_s": med(inner),
        "schema_timed_share": round(med(inner) / med(on), 4),
        "problems": problems,
        "repeats": repeats,
    }
    if hasattr(validation, "_quick_valid"):  # the jsonschema path alone, for comparison
        original = validation._quick_valid
        validation._quick_valid = lambda kind, data: False
        try:
            cat.check_catalog(root)  # builds the jsonschema validators once
            forced = timed(lambda: cat.check_catalog(root, validate=True), max(1, repeats - 1))[0]
        finally:
            validation._quick_valid = original
        out["jsonschema_path_s"] = med(forced)
        out["jsonschema_path_share"] = round(max(0.0, med(forced) - med(off)) / med(forced), 4)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="what", required=True)
    p = sub.add_parser("plan")
    p.add_argument("root", type=Path)
    p.add_argument("train")
    p.add_argument("--repeats", type=int, default=3)
    v = sub.add_parser("validate")
    v.add_argument("root", type=Path)
    v.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    if args.what == "plan":
        doc = plan(args.root, args.train, args.repeats)
    else:
        doc = validate(args.root, args.repeats)
    print(json.dumps(doc))


if __name__ == "__main__":
    main()
