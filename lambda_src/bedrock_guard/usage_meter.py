"""Lambda entry point of the usage meter: Bedrock's model invocation log records (a CloudWatch
Logs subscription) -> every call counted against its caller's budget; a daily scheduled event
-> window locks whose day or month has ended are released.

The handler only translates. Records that cannot be read are counted by reason and dropped
(retrying them cannot help); a DynamoDB failure after retries fails the invocation, so Lambda
retries the whole event, which is safe: every record counts once (by request id).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Final

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config

from bedrock_guard.enforcer import drift
from bedrock_guard.enforcer.lock_service import Home, build_service
from bedrock_guard.enforcer.window_locks import release_ended_windows
from bedrock_guard.gate.config import DEFAULT_METRICS_NAMESPACE, LAMBDA_RUNTIME_VARIABLE
from bedrock_guard.meter import metrics as meter_metrics
from bedrock_guard.meter.config import MeterConfig, load_config
from bedrock_guard.meter.records import parse_subscription_event
from bedrock_guard.meter.service import Meter
from bedrock_guard.meter.store import MeterStore

logger = Logger()
metrics = Metrics(
    namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or DEFAULT_METRICS_NAMESPACE
)

DYNAMODB_CONFIG: Final = Config(
    retries={"mode": "standard", "total_max_attempts": 3}, connect_timeout=2, read_timeout=5
)
_meter: Meter | None = None


def build_meter(environ: Mapping[str, str], *, home: Home) -> Meter:
    """The meter of one container: configuration, store and the enforcer's lock service."""
    config: MeterConfig = load_config(environ)
    service = build_service(config.locking)
    dynamodb = boto3.client("dynamodb", config=DYNAMODB_CONFIG)
    return Meter(
        config=config,
        store=MeterStore(dynamodb, config.accounting.table_name),
        locks=service,
        home=home,
    )


def get_meter(context: LambdaContext) -> Meter:
    global _meter  # noqa: PLW0603 (one meter per container is the point)
    if _meter is None:
        _meter = build_meter(os.environ, home=Home.from_function_arn(context.invoked_function_arn))
    return _meter


def set_meter(meter: Meter | None) -> None:
    """Replace (or drop) the container's meter; for tests and tools."""
    global _meter  # noqa: PLW0603
    _meter = meter


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Meter one subscription delivery, or release ended window locks on the schedule."""
    meter = get_meter(context)
    if drift.is_scheduled(event):
        released = release_ended_windows(meter.locks)
        meter_metrics.record_release(metrics, len(released))
        logger.info("window locks released", extra={"released": [r.as_dict() for r in released]})
        return {"released": [r.as_dict() for r in released]}
    home = meter.home
    batch = parse_subscription_event(event, account_id=home.account, region=_region())
    if batch.rejected:
        logger.warning("records dropped, by reason", extra={"rejected": dict(batch.rejected)})
    report = meter.meter(batch.records)
    meter_metrics.record_delivery(metrics, rejected=sum(batch.rejected.values()), report=report)
    summary = {
        "records": len(batch.records),
        "rejected": dict(batch.rejected),
        "verdicts": dict(report.verdicts),
        "skipped": dict(report.skipped),
        "locked": report.locked,
        "unpriced": report.unpriced,
    }
    logger.info("meter summary", extra={"summary": summary})
    return summary


def _region() -> str | None:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")


def _warm_in_lambda() -> None:
    # Configuration errors surface at init, in the log, and again on every invocation.
    if LAMBDA_RUNTIME_VARIABLE in os.environ:
        try:
            load_config(os.environ)
        except Exception:
            logger.exception("invalid usage meter configuration: every delivery will fail")


_warm_in_lambda()
