"""``make bench``: the token gate's figures in one run, printed and written to .bench/results.json.

(a) overshoot of the gate's accounting against check-then-add, 32 and 64 concurrent callers
    racing one budget on moto in server mode; (b) AWS API calls per allowed request;
(c) cold import time of the handler module; (d) size of the Lambda zip.

Figures, not verdicts: nothing here passes or fails on speed.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

REPO: Final = Path(__file__).resolve().parents[1]
RESULTS: Final = REPO / ".bench" / "results.json"
CALLER_COUNTS: Final = (32, 64)

# Before anything imports boto3 or Powertools: fake credentials, quiet logs, no tracing.
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "POWERTOOLS_SERVICE_NAME": "bedrock-cost-guard-bench",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
)
for _name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_LAMBDA_FUNCTION_NAME"):
    os.environ.pop(_name, None)

from bench_calls import api_calls_per_request  # noqa: E402  (after the environment)
from bench_import import cold_import_ms  # noqa: E402
from bench_race import (  # noqa: E402
    BEDROCK_LATENCY_MS,
    LIMIT_TOKENS,
    MAX_TOKENS,
    OUTPUT_TOKENS,
    REQUESTS_PER_CALLER,
    RaceResult,
    baseline_race,
    gate_race,
)
from bench_zip import lambda_zip_size  # noqa: E402

from bedrock_guard.local.bedrock_stub import BedrockStub  # noqa: E402
from bedrock_guard.local.moto_server import MotoServer  # noqa: E402


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table, aligned for the terminal and ready for the README (numbers right)."""
    cells = [[str(h) for h in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    numeric = [all(_is_number(row[i]) for row in cells[1:]) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        padded = (
            cell.rjust(width) if right else cell.ljust(width)
            for cell, width, right in zip(row, widths, numeric, strict=True)
        )
        return "| " + " | ".join(padded) + " |"

    rule = (
        "|"
        + "|".join(
            ("-" * (w + 1) + ":") if r else "-" * (w + 2)
            for w, r in zip(widths, numeric, strict=True)
        )
        + "|"
    )
    return "\n".join([line(cells[0]), rule, *(line(row) for row in cells[1:])])


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def progress(message: str) -> None:
    print(f"... {message}", file=sys.stderr, flush=True)


def run_races() -> tuple[list[RaceResult], dict[str, dict[str, float]]]:
    with MotoServer() as moto, BedrockStub() as stub:
        os.environ.update(moto.environ())
        races = []
        for callers in CALLER_COUNTS:
            progress(f"{callers} callers through the token gate")
            races.append(gate_race(moto, stub, callers))
            progress(f"{callers} callers through check-then-add")
            races.append(baseline_race(moto, stub, callers))
        progress("counting API calls per request of the handler")
        calls = api_calls_per_request(moto, stub)
    return races, calls


def report(
    races: list[RaceResult],
    calls: dict[str, dict[str, float]],
    imports: dict[str, Any],
    archive: dict[str, Any],
) -> str:
    demand = f"{REQUESTS_PER_CALLER} requests per caller, max_tokens {MAX_TOKENS}"
    reply = f"every reply {OUTPUT_TOKENS} output tokens after {BEDROCK_LATENCY_MS} ms"
    sections = [
        f"(a) Overshoot: callers racing one budget of {LIMIT_TOKENS} tokens ({demand}; {reply})",
        table(
            [
                "accounting",
                "callers",
                "limit",
                "charged",
                "overshoot %",
                "granted",
                "refused",
                "errors",
                "Bedrock calls",
            ],
            [
                (
                    r.accounting,
                    r.callers,
                    r.limit,
                    r.charged,
                    f"{r.overshoot_pct:.1f}",
                    r.granted,
                    r.refused,
                    r.errors,
                    r.bedrock_calls,
                )
                for r in races
            ],
        ),
        "(b) AWS API calls per allowed request (botocore before-call hook, the handler's clients)",
        table(
            ["request", "DynamoDB", "CloudWatch", "Bedrock", "other AWS", "EMF records"],
            [
                (
                    kind,
                    *(
                        f"{figures[k]:.2f}"
                        for k in (
                            "dynamodb",
                            "cloudwatch",
                            "bedrock-runtime",
                            "other AWS",
                            "EMF records",
                        )
                    ),
                )
                for kind, figures in calls.items()
            ],
        ),
        f"(c) Cold import of bedrock_guard.token_gate ({imports['runs']} fresh interpreters, "
        "bytecode cached)",
        table(
            ["median ms", "min ms", "max ms", "heaviest direct imports (cumulative ms)"],
            [
                (
                    imports["median_ms"],
                    imports["min_ms"],
                    imports["max_ms"],
                    ", ".join(f"{h['module']} {h['cumulative_ms']}" for h in imports["heaviest"]),
                )
            ],
        ),
        "(d) Lambda zip (lambda_src/ with the excludes of modules/token-gate/lambda.tf)",
        table(
            ["zip bytes", "content bytes", "files"],
            [(archive["zip_bytes"], archive["content_bytes"], archive["files"])],
        ),
    ]
    return "\n\n".join(sections)


def main() -> int:
    started = time.perf_counter()
    try:
        races, calls = run_races()
    except KeyboardInterrupt:
        print("interrupted: the local servers were stopped", file=sys.stderr)
        return 130
    progress("timing cold imports")
    imports = cold_import_ms()
    progress("building the Lambda zip")
    archive = lambda_zip_size()
    print(report(races, calls, imports, archive))
    results = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
        "overshoot": {
            "settings": {
                "limit_tokens": LIMIT_TOKENS,
                "requests_per_caller": REQUESTS_PER_CALLER,
                "max_tokens": MAX_TOKENS,
                "output_tokens": OUTPUT_TOKENS,
                "bedrock_latency_ms": BEDROCK_LATENCY_MS,
            },
            "races": [race.to_json() for race in races],
        },
        "api_calls_per_allowed_request": calls,
        "cold_import": imports,
        "lambda_zip": archive,
        "bench_seconds": round(time.perf_counter() - started, 1),
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"\nwritten to {RESULTS.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
