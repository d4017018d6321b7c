"""The spend report in a real browser: Debian's headless Chromium renders the page written by
``bedrock-guard report --html`` at 1280 px; nothing overflows horizontally, and the screenshot is
kept as an artifact of the run (build/artifacts/report.png).

``make report-check`` installs Chromium when it is missing and runs this file with
``REQUIRE_BROWSER=1`` (a missing browser then fails instead of skipping).
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import BASE, LIMITS, MONTH, World

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "build" / "artifacts"
VIEWPORT = 1280
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)
# Injected into a copy of the page only (the report itself has no script): after layout, write
# the document's widths and every element sticking out of the viewport into the DOM.
MEASURE = """<script>
window.addEventListener("load", () => {
  const root = document.documentElement;
  const wide = [...document.querySelectorAll("body *")]
    .filter((el) => el.getBoundingClientRect().right > window.innerWidth + 0.5)
    .slice(0, 10)
    .map((el) => el.tagName + "." + el.className + " right=" + el.getBoundingClientRect().right);
  const result = {scrollWidth: root.scrollWidth, bodyScrollWidth: document.body.scrollWidth,
    innerWidth: window.innerWidth, height: root.scrollHeight, wide: wide};
  const out = document.createElement("pre");
  out.id = "measure";
  out.textContent = JSON.stringify(result);
  document.body.appendChild(out);
});
</script>"""

pytestmark = pytest.mark.browser


def chromium(*args: str) -> subprocess.CompletedProcess[str]:
    if CHROMIUM is None:
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail("chromium is not installed: run make report-check")
        pytest.skip("chromium is not installed (make report-check installs it)")
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        return subprocess.run(
            [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )


def measure(page: Path) -> dict[str, Any]:
    probe = page.with_name(page.stem + ".measure.html")
    probe.write_text(
        page.read_text(encoding="utf-8").replace("</body>", MEASURE + "</body>"), encoding="utf-8"
    )
    result = chromium(f"--window-size={VIEWPORT},900", "--dump-dom", probe.as_uri())
    found = re.search(r'<pre id="measure">(.*?)</pre>', result.stdout, re.S)
    assert found, result.stderr[-2000:]
    return dict(json.loads(html.unescape(found[1])))


@pytest.fixture(scope="module")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


def test_report_renders_without_overflow_at_1280(world: World, cli: Any, artifacts: Path) -> None:
    page = artifacts / "report.html"
    run = cli(*BASE, "report", "--html", str(page), "--month", MONTH, *LIMITS)
    assert run.code == 0, run.err

    sizes = measure(page)

    assert sizes["innerWidth"] == VIEWPORT
    assert sizes["scrollWidth"] <= VIEWPORT, sizes
    assert sizes["bodyScrollWidth"] <= VIEWPORT, sizes
    assert sizes["wide"] == [], sizes

    screenshot = artifacts / "report.png"
    screenshot.unlink(missing_ok=True)
    height = min(max(int(sizes["height"]), 600), 8000)
    shot = chromium(
        f"--window-size={VIEWPORT},{height}", f"--screenshot={screenshot}", page.as_uri()
    )
    assert screenshot.exists() and screenshot.stat().st_size > 10_000, shot.stderr[-2000:]
