"""``make bench``: the token gate's and the usage meter's figures in one run, printed, written
to .bench/results.json and into the README's performance section (between its bench markers).

(a) overshoot of the gate's accounting against check-then-add, 32 and 64 concurrent callers
    racing one budget; (b) AWS API calls per allowed request; (c) one hot caller's highest
    sustained rate, both designs, simulated against DynamoDB's rules; (d) DynamoDB units and
    dollars per allowed request; (e) charged minus used after bursts of one caller; (f) cold
    start against bare boto3 and warm CPU per request; (g) size of the Lambda zip; (h) log
    records the usage meter meters per second per invocation, and DynamoDB units per record.
    DynamoDB is moto behind the rules proxy (real transaction, conflict, size and capacity
    rules).

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
README_START: Final = "<!-- bench:start -->"
README_END: Final = "<!-- bench:end -->"

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
from bench_capacity import burst_exactness, units_per_request  # noqa: E402
from bench_cpu import cold_start_ratio, warm_cpu_ms_per_request  # noqa: E402
from bench_hot_caller import hot_caller  # noqa: E402
from bench_import import cold_import_ms  # noqa: E402
from bench_meter import meter_throughput  # noqa: E402
from bench_meter import mix as meter_mix  # noqa: E402
from bench_meter_latency import lock_latency  # noqa: E402
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
from bedrock_guard.local.converse_replies import Reply  # noqa: E402
from bedrock_guard.local.dynamodb_rules import local_dynamodb  # noqa: E402


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


def run_local() -> dict[str, Any]:
    """Everything that needs the local DynamoDB (with its real rules) and Bedrock."""
    figures: dict[str, Any] = {}
    with local_dynamodb() as moto, BedrockStub() as stub:
        os.environ.update(moto.environ())
        races = []
        for callers in CALLER_COUNTS:
            progress(f"{callers} callers through the token gate")
            races.append(gate_race(moto, stub, callers))
            progress(f"{callers} callers through check-then-add")
            races.append(baseline_race(moto, stub, callers))
        figures["races"] = races
        progress("counting API calls per request of the handler")
        figures["calls"] = api_calls_per_request(moto, stub)
        stub.set_reply(Reply(latency_ms=20, output_tokens=200))
        progress("DynamoDB units per allowed request")
        figures["units"] = units_per_request(moto, stub)
        progress("bursts of one caller")
        figures["bursts"] = burst_exactness(moto, stub)
        progress("usage meter: deliveries of 100 and 1,000 log records")
        figures["meter"] = meter_throughput(moto)
    return figures


def report(figures: dict[str, Any]) -> str:
    races: list[RaceResult] = figures["races"]
    demand = f"{REQUESTS_PER_CALLER} requests per caller, max_tokens {MAX_TOKENS}"
    reply = f"every reply {OUTPUT_TOKENS} output tokens after {BEDROCK_LATENCY_MS} ms"
    calls = figures["calls"]
    imports, cold, warm = figures["cold_import"], figures["cold_start"], figures["warm_cpu"]
    archive = figures["lambda_zip"]
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
                        f"{counts[k]:.2f}"
                        for k in (
                            "dynamodb",
                            "cloudwatch",
                            "bedrock-runtime",
                            "other AWS",
                            "EMF records",
                        )
                    ),
                )
                for kind, counts in calls.items()
            ],
        ),
        "(c) One hot caller, simulated against DynamoDB's rules (Bedrock answers in 100 ms, "
        "month item of day 31, 1,000 WCU/s per partition): highest rate with < 0.1% 503 "
        "(busy-free) and also no phantom charge (exact)",
        table(
            ["design", "commit hold ms", "busy-free req/s", "exact req/s", "first failure"],
            [
                (
                    row["design"],
                    row["commit_hold_ms"],
                    row["busy_free_rps"],
                    row["exact_rps"],
                    _failure(row["first_failure"]),
                )
                for row in figures["hot_caller"]
            ],
        ),
        "(d) DynamoDB per allowed request of a warm caller (rules proxy's capacity accounting; "
        "on-demand us-east-1 prices)",
        table(
            ["days of counters", "write units", "read units", "USD per million requests"],
            [
                (
                    row["days_of_counters"],
                    f"{row['write_units']:.2f}",
                    f"{row['read_units']:.2f}",
                    f"{row['usd_per_million_requests']:.2f}",
                )
                for row in figures["units"]
            ],
        ),
        "(e) Bursts of one caller through the rules proxy (each request its own container)",
        table(
            ["burst", "answers", "charged tokens", "used tokens", "charged - used", "holds left"],
            [
                (
                    row["burst"],
                    " ".join(f"{n} x {status}" for status, n in row["answers"].items()),
                    row["charged_tokens"],
                    row["used_tokens"],
                    row["charged_tokens"] - row["used_tokens"],
                    row["holds_left"],
                )
                for row in figures["bursts"]
            ],
        ),
        f"(f) Cold start in a Lambda-like environment ({cold['runs']} fresh interpreters each, "
        f"alternating) and warm CPU ({warm['requests']} requests, instant stand-ins)",
        table(
            [
                "bare boto3 + 2 clients ms",
                "gate import + clients ms",
                "ratio",
                "gate import ms",
                "warm CPU ms per request",
            ],
            [
                (
                    cold["bare_boto3_ms"],
                    cold["gate_ms"],
                    f"{cold['ratio']:.2f}",
                    imports["median_ms"],
                    f"{warm['cpu_ms_per_request']:.3f}",
                )
            ],
        ),
        "(g) Lambda zip (lambda_src/ with the excludes of modules/token-gate/lambda.tf)",
        table(
            ["zip bytes", "content bytes", "files"],
            [(archive["zip_bytes"], archive["content_bytes"], archive["files"])],
        ),
        "(h) Usage meter: one subscription delivery per invocation, the real handler in process "
        f"through the rules proxy ({meter_mix()}); rate also as a ratio to the same delivery "
        "parsed and written with one PutItem per record",
        table(
            [
                "records per delivery",
                "run",
                "records/s",
                "ms per invocation",
                "write units per record",
                "read units per record",
                "x PutItem baseline",
            ],
            [
                (
                    row["records_per_delivery"],
                    row["run"],
                    f"{row['records_per_second']:.1f}",
                    f"{row['ms_per_invocation']:.1f}",
                    f"{row['write_units_per_record']:.2f}",
                    f"{row['read_units_per_record']:.2f}",
                    f"{row['vs_put_item']:.2f}",
                )
                for row in figures["meter"]
            ],
        ),
        lock_latency_section(figures["lock_latency"]),
    ]
    return "\n\n".join(sections)


def lock_latency_section(latency: dict[str, Any]) -> str:
    """(i): from the record that crossed the limit reaching the log group to the deny policy."""
    title = (
        "(i) Usage meter lock latency in the local pipeline: a direct caller past its daily limit "
        f"({latency['daily_tokens']:,} tokens) calling the Bedrock stand-in (answers in "
        f"{latency['answer_ms']} ms), its records written to the log group, the subscription "
        f"played every {latency['poll_interval_s']} s, the real meter handler; {latency['runs']} "
        "runs, from PutLogEvents of the crossing record to the deny policy attached"
    )
    return "\n".join(
        [
            title,
            "",
            table(
                ["p50 s", "p95 s", "max s", "p50 to delivery s", "p50 in the meter s"],
                [
                    (
                        f"{latency['p50_s']:.3f}",
                        f"{latency['p95_s']:.3f}",
                        f"{latency['max_s']:.3f}",
                        f"{latency['delivery_p50_s']:.3f}",
                        f"{latency['meter_p50_s']:.3f}",
                    )
                ],
            ),
        ]
    )


def _failure(failure: dict[str, Any] | None) -> str:
    if failure is None:
        return "none up to the highest rate tried"
    return (
        f"{failure['rate']} req/s: {failure['busy_pct']}% busy, "
        f"{failure['phantom_charges']} phantom charges"
    )


def update_readme(text: str) -> bool:
    """Replace the README's performance figures between the bench markers; ``False`` when the
    README has no markers."""
    readme = REPO / "README.md"
    content = readme.read_text(encoding="utf-8")
    start, end = content.find(README_START), content.find(README_END)
    if start < 0 or end < start:
        return False
    block = f"{README_START}\n```\n{text}\n```\n"
    readme.write_text(content[:start] + block + content[end:], encoding="utf-8")
    return True


def main() -> int:
    started = time.perf_counter()
    environ = dict(os.environ)
    try:
        figures = run_local()
        os.environ.clear()
        os.environ.update(environ)  # no endpoint of the stopped servers stays behind
        progress("usage meter: lock latency through the local log pipeline")
        figures["lock_latency"] = lock_latency().as_dict()
    except KeyboardInterrupt:
        print("interrupted: the local servers were stopped", file=sys.stderr)
        return 130
    progress("simulating one hot caller")
    figures["hot_caller"] = hot_caller()
    progress("timing cold starts and warm CPU")
    figures["cold_import"] = cold_import_ms()
    figures["cold_start"] = cold_start_ratio()
    figures["warm_cpu"] = warm_cpu_ms_per_request()
    progress("building the Lambda zip")
    figures["lambda_zip"] = lambda_zip_size()
    text = report(figures)
    print(text)
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
            "races": [race.to_json() for race in figures["races"]],
        },
        "api_calls_per_allowed_request": figures["calls"],
        "hot_caller": figures["hot_caller"],
        "dynamodb_units_per_request": figures["units"],
        "bursts": figures["bursts"],
        "cold_import": figures["cold_import"],
        "cold_start": figures["cold_start"],
        "warm_cpu": figures["warm_cpu"],
        "lambda_zip": figures["lambda_zip"],
        "meter_throughput": {"mix": meter_mix(), "runs": figures["meter"]},
        "meter_lock_latency": figures["lock_latency"],
        "bench_seconds": round(time.perf_counter() - started, 1),
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"\nwritten to {RESULTS.relative_to(REPO)}")
    if update_readme(text):
        print("README.md: performance figures replaced between the bench markers")
    return 0


if __name__ == "__main__":
    sys.exit(main())
