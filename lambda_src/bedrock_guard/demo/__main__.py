"""``python -m bedrock_guard.demo [--quick] [--report PATH]``: the demo, as ``make demo`` runs it.

Exit status: 0 when every claim holds, 1 when one does not, 2 for a configuration the demo
cannot read, 130 after Ctrl-C. Servers and worker processes are stopped in every case.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.text import Text

from bedrock_guard.demo.deploy import ConfigError
from bedrock_guard.demo.render import TerminalReporter, make_console, render_result
from bedrock_guard.demo.run import REPORT_NAME, run_demo
from bedrock_guard.demo.scenario import Options

EXIT_CLAIM_FAILED = 1
EXIT_CONFIG = 2
EXIT_INTERRUPTED = 130


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bedrock_guard.demo",
        description="The bedrock-cost-guard control loop on local stand-ins of AWS and Bedrock.",
    )
    parser.add_argument("--quick", action="store_true", help="send fewer requests (tests)")
    parser.add_argument(
        "--report", type=Path, help=f"where to write the HTML report (default: ./{REPORT_NAME})"
    )
    parser.add_argument(
        "--tfvars",
        type=Path,
        help="tfvars to deploy environments/dev with (default: its terraform.tfvars.example)",
    )
    parser.add_argument(
        "--verbose", action="store_true", help="print every table of the story, not a summary"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    console = make_console()
    options = Options(quick=arguments.quick, tfvars=arguments.tfvars, verbose=arguments.verbose)
    try:
        result = run_demo(
            options, TerminalReporter(console, verbose=arguments.verbose), arguments.report
        )
    except ConfigError as error:
        console.print(
            Text.assemble(("Cannot read the Terraform configuration: ", "bold red"), str(error))
        )
        return EXIT_CONFIG
    except KeyboardInterrupt:
        console.print("\nInterrupted: the local servers and containers are stopped.")
        return EXIT_INTERRUPTED
    render_result(console, result, verbose=arguments.verbose)
    return 0 if result.all_hold else EXIT_CLAIM_FAILED


if __name__ == "__main__":
    raise SystemExit(main())
