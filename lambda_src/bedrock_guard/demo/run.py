"""One demo run end to end: the scenario, then the HTML report and the claim that it exists."""

from __future__ import annotations

from pathlib import Path
from typing import Final

from bedrock_guard.demo.config import find_repo_root
from bedrock_guard.demo.report_html import write_report
from bedrock_guard.demo.result import Claim, DemoResult
from bedrock_guard.demo.scenario import Options, run_scenario
from bedrock_guard.demo.world import Reporter

REPORT_NAME: Final = "demo-report.html"


def default_report_path() -> Path:
    """``demo-report.html`` in the repository's root."""
    return find_repo_root() / REPORT_NAME


def run_demo(
    options: Options, reporter: Reporter | None = None, report_path: Path | None = None
) -> DemoResult:
    """Play the scenario and write the report (``report_path``, or the default)."""
    result = run_scenario(options, reporter)
    path = write_report(result, report_path or default_report_path())
    result.report_path = path
    text = path.read_text(encoding="utf-8")
    charted = [c.name for c in result.callers if f'data-caller="{c.name}"' in text]
    result.claims.append(
        Claim(
            f"HTML report written with a spend-vs-budget chart for each of the "
            f"{len(result.callers)} callers: {path}",
            bool(result.callers) and len(charted) == len(result.callers),
        )
    )
    return result
