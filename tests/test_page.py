"""The page in a real browser: runs frontend/e2e (playwright-core driving Debian's Chromium) against a
real `aijobs serve` with the simulator. `make test` builds the page and installs Chromium first.

The screenshots land in test-artifacts/screenshots; with UPDATE_SCREENSHOTS=1 a passing run also copies
them to docs/screenshots (the ones the README shows)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.api import Api
from tests.support.simulator import Simulator

ROOT = Path(__file__).resolve().parents[1]
FRONTEND = ROOT / "frontend"
ARTIFACTS = ROOT / "test-artifacts" / "screenshots"
DOCS = ROOT / "docs" / "screenshots"
SCREENSHOTS = (
    "01-signed-in",
    "02-report-streaming",
    "03-report-done",
    "04-second-user-waiting-phone",
    "05-polling-after-socket-cut",
    "06-canvas-diagram",
    "07-admin",  # with the GPU held by alice, before the admin force-releases it
    "08-training-deployed",
    "09-progress-percent",
    "10-queued-live-eta",
)


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.fail("Chromium is not installed: `make test` installs it (apt-get install chromium).")
    return found


@pytest.mark.timeout(300)
def test_the_page_end_to_end_in_chromium(start_api: Callable[..., Api], sim: Simulator) -> None:
    if not (FRONTEND / "dist" / "index.html").is_file() or not (FRONTEND / "node_modules").is_dir():
        pytest.fail("The page is not built: run `make test` (it runs npm install and npm run build first).")
    sim.configure(token_delay=0.06, tokens=40)  # a report section takes a few seconds: progress is visible
    api = start_api(WEB_DIR=str(FRONTEND / "dist"))
    env = {
        **os.environ,
        "AIJOBS_URL": api.base_url,
        "ALICE_TOKEN": api.tokens["alice"],
        "BOB_TOKEN": api.tokens["bob"],
        "ADMIN_TOKEN": api.tokens["admin"],
        "CHROMIUM": chromium(),
        "SCREENSHOT_DIR": str(ARTIFACTS),
    }
    run = subprocess.run(
        ["npx", "vitest", "run", "--project", "e2e"],
        cwd=FRONTEND,
        env=env,
        capture_output=True,
        text=True,
        timeout=280,
    )
    if run.returncode != 0:  # the whole server log, for the failure's story; the message keeps its tail
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS.parent / "page-server.log").write_text(api.server.output())
    assert run.returncode == 0, (
        f"{run.stdout}\n{run.stderr}\n--- server log (whole: test-artifacts/page-server.log) ---\n"
        f"{api.server.output()[-6000:]}"
    )
    for name in SCREENSHOTS:
        assert (ARTIFACTS / f"{name}.png").stat().st_size > 5000
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        for name in SCREENSHOTS:
            shutil.copyfile(ARTIFACTS / f"{name}.png", DOCS / f"{name}.png")
