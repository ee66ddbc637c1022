"""B9: the dashboard's page of a 1,000-service train, in headless Chromium.

    python benchmarks/dashboard_bench.py              # 1,000 services, 5 loads after 1 warm-up
    python benchmarks/dashboard_bench.py --quick      # 100 services, 2 loads (a smoke run)
    python benchmarks/dashboard_bench.py --services 1000 --repeats 5 --output /tmp/b9.json

The generator's catalog (benchmarks/generate.py: N services, a train of all N, average
out-degree 3, so the rows fall into many waves) is executed once by `release-trains execute`
on the local deployer, so the store holds a finished run of N steps. Then `release-trains
serve` (its one worker idle) answers the page. Each load is a fresh browser context (no cache,
no session): `/trains/bench-train?token=...` is opened and the time is read from the page's
own `performance.mark("services-shown")` (set in the animation frame after the first status
document has filled every row: the rows are on screen), counted from the navigation's start.
Also recorded: the time until all N rows exist with their status (Playwright's check, which
adds its own polling), the status document's size, and the page weight: the bytes of the
HTML, JS and CSS the page loaded (the API's JSON is data, not page weight).

Chromium: Debian's /usr/bin/chromium (RELEASE_TRAINS_CHROMIUM overrides), started with the
flags of tests/browser_fixtures.py. Results go to benchmarks/results/dashboard.json unless
--output says. Targets: under 1.5 s, under 300 KB.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import generate  # noqa: E402
from api_bench import loadavg, machine, rt_argv, serving  # noqa: E402

DEFAULT_OUTPUT = BENCH / "results" / "dashboard.json"
CHROMIUM = os.environ.get("RELEASE_TRAINS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
TARGET_S = 1.5
TARGET_BYTES = 300 * 1024
PAGE_KINDS = ("document", "script", "stylesheet")
LOAD_TIMEOUT_MS = 60_000


def _execute(root: Path) -> None:
    done = subprocess.run(
        [*rt_argv(), "--root", str(root), "execute", generate.TRAIN, "--json"],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"execute: exit {done.returncode}: {done.stderr[-1500:]}")


def _load(browser: Any, url: str, services: int) -> dict[str, Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    weight: dict[str, int] = {}
    status_bytes: list[int] = []

    def on_response(response: Any) -> None:
        kind = response.request.resource_type
        if kind in PAGE_KINDS:
            weight[response.url] = len(response.body())
        elif response.url.endswith("/status"):
            status_bytes.append(len(response.body()))

    page.on("response", on_response)
    try:
        page.goto(url)
        # every row present with its status filled in (the last one too)
        page.wait_for_function(
            f"""() => {{
                const rows = document.querySelectorAll('tr.svc');
                return rows.length === {services}
                    && rows[rows.length - 1].cells[2].textContent.includes('released');
            }}""",
            timeout=LOAD_TIMEOUT_MS,
        )
        checked_ms = page.evaluate("performance.now()")
        page.wait_for_function(
            "() => performance.getEntriesByName('services-shown').length > 0",
            timeout=LOAD_TIMEOUT_MS,
        )
        shown_ms = page.evaluate("performance.getEntriesByName('services-shown')[0].startTime")
        # when the first status document had arrived (request start, response end): the
        # server's share of the time, against the page's own (parse, rows, paint)
        status_ms = page.evaluate(
            """() => {
                const e = performance.getEntriesByType('resource')
                    .filter((r) => r.name.endsWith('/status'))[0];
                return e ? [e.requestStart || e.startTime, e.responseEnd] : [null, null];
            }"""
        )
        dcl_ms = page.evaluate(
            "performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd"
        )
    finally:
        context.close()
    return {
        "shown_s": round(shown_ms / 1000, 3),
        "all_rows_checked_s": round(checked_ms / 1000, 3),
        "dom_content_loaded_s": round(dcl_ms / 1000, 3),
        "status_requested_s": None if status_ms[0] is None else round(status_ms[0] / 1000, 3),
        "status_received_s": None if status_ms[1] is None else round(status_ms[1] / 1000, 3),
        "page_bytes": sum(weight.values()),
        # by path only: the first address carries the token, which must not land in a file
        "page_files": {urlsplit(u).path: n for u, n in sorted(weight.items())},
        "status_document_bytes": status_bytes[0] if status_bytes else None,
    }


def b9(work: Path, *, services: int, repeats: int, warmup: int = 1) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    root = work / f"b9-n{services}"
    generate.generate(root, services=services, participants=services)
    _execute(root)
    with serving(root) as server, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            url = f"{server.url}/trains/{generate.TRAIN}?token={server.token}"
            loads = [_load(browser, url, services) for _ in range(warmup + repeats)][warmup:]
        finally:
            browser.close()
    shown = statistics.median(x["shown_s"] for x in loads)
    weight = loads[-1]["page_bytes"]
    return {
        "services": services,
        "loads": loads,
        "shown_median_s": shown,
        "all_rows_checked_median_s": statistics.median(x["all_rows_checked_s"] for x in loads),
        "status_received_median_s": statistics.median(x["status_received_s"] or 0.0 for x in loads),
        "page_bytes": weight,
        "status_document_bytes": loads[-1]["status_document_bytes"],
        "targets": {"shown_s": TARGET_S, "page_bytes": TARGET_BYTES},
        "met": {"shown": shown < TARGET_S, "page_weight": weight < TARGET_BYTES},
    }


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="100 services, 2 loads")
    ap.add_argument("--services", type=int, default=None)
    ap.add_argument("--repeats", type=int, default=None)
    ap.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = ap.parse_args(argv)
    services = args.services or (100 if args.quick else 1000)
    repeats = args.repeats or (2 if args.quick else 5)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="rt-b9-") as tmp:
        load_start = loadavg()
        result = b9(Path(tmp), services=services, repeats=repeats)
    doc = {
        "schema": 1,
        "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": "python benchmarks/dashboard_bench.py" + (" --quick" if args.quick else ""),
        "machine": machine(),
        "load_average": {"start": load_start, "end": loadavg()},
        "B9": result,
        "elapsed_s": round(time.perf_counter() - started, 1),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    print(
        f"B9: {services} services shown in {result['shown_median_s']:.3f} s (median of "
        f"{repeats}; target < {TARGET_S} s: {'met' if result['met']['shown'] else 'MISSED'}); "
        f"page weight {result['page_bytes'] / 1024:.1f} KB (target < 300 KB: "
        f"{'met' if result['met']['page_weight'] else 'MISSED'}); status document "
        f"{(result['status_document_bytes'] or 0) / 1024:.0f} KB; wrote {args.output}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
