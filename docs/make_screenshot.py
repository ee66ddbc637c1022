"""Take docs/dashboard.png from a real run: a project of eight services in four waves, the
test suite's recording deploy script (1.5 s per service; one held
in flight), `release-trains serve` with its worker, and the train page in headless Chromium
while the run is under way.

    python docs/make_screenshot.py [OUTPUT.png]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent / "tests"), str(HERE.parent / "tests" / "e2e")]

from browser_fixtures import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from e2e_support import make_project  # noqa: E402
from helpers import wait_until  # noqa: E402
from playwright.sync_api import expect, sync_playwright  # noqa: E402
from test_api_server import make_tokens  # noqa: E402
from test_dashboard import Dashboard  # noqa: E402

NAME = "Q4-curve-upgrade"
SERVICES = {
    "curve-service": [],
    "pricing-api": ["curve-service"],
    "risk-engine": ["curve-service"],
    "scenario-service": ["curve-service"],
    "backtesting-service": ["pricing-api", "risk-engine"],
    "reporting-service": ["risk-engine"],
    "portal": ["backtesting-service", "reporting-service"],
    "notifier": ["scenario-service"],
}


def main() -> int:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "dashboard.png"
    with tempfile.TemporaryDirectory(prefix="rt-shot-") as tmp:
        trains = [
            {
                "name": NAME,
                "description": "Curves 2.0 and everything that prices with them",
                "target_version": "2.0.0",
                "participants": list(SERVICES),
            }
        ]
        project = make_project(
            Path(tmp),
            services=SERVICES,
            trains=trains,
            sleep_s=1.5,
            release_trains={"executor": {"max_parallel": 3}},
        )
        project.hold("backtesting-service")
        d = Dashboard(project, make_tokens(project))
        d.start()
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(
                    executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
                )
                page = browser.new_page(viewport={"width": 1280, "height": 1100})
                page.goto(f"{d.base}/trains/{NAME}?token={d.tokens['operator']}")
                page.locator("#btn-execute").click()
                row = page.locator('tr[data-service="backtesting-service"] td.c-status')
                expect(row).to_contain_text("deploying", timeout=60_000)
                done = page.locator('tr[data-service="notifier"] td.c-status')
                expect(done).to_contain_text("released", timeout=60_000)
                page.screenshot(path=str(out))
                browser.close()
        except Exception:
            print(project.run("status", NAME).out, file=sys.stderr)
            raise
        finally:
            (project.flags / "hold-backtesting-service").unlink(missing_ok=True)
            wait_until(lambda: d.status(NAME) not in ("executing", "verifying"), timeout_s=60)
            d.stop()
    print(f"wrote {out} ({out.stat().st_size // 1024} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
