"""Lambda entry point: CloudWatch alarm changes delivered by SNS -> lock or release principals;
a daily scheduled event -> the lock audit (``LockDrift``).

The handler only translates. Every record of the batch is handled and reported. A message is
only a trigger: the service confirms it with CloudWatch before acting. Bad input is
logged and dropped (retrying it cannot help); a record that met a transient AWS error is
reported, and once all the others are done the invocation fails naming it, so Lambda retries
(replays are harmless) and the dead-letter queue keeps what never succeeds.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Final

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import SNSEvent
from aws_lambda_powertools.utilities.data_classes.sns_event import SNSEventRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from bedrock_guard.enforcer import drift
from bedrock_guard.enforcer import metrics as m
from bedrock_guard.enforcer.alarm_messages import DropReason, MessageError, parse_alarm_message
from bedrock_guard.enforcer.config import load_config
from bedrock_guard.enforcer.lock_service import Home, LockService, MessageOutcome, build_service

logger = Logger()
metrics = m.metrics

SNS_SOURCE: Final = "aws:sns"

# Init phase: a bad environment fails here, loudly, before any message is touched.
CONFIG = load_config(os.environ)
SERVICE = build_service(CONFIG)


class RetryableRecordsError(RuntimeError):
    """Some records met a transient error; raised after every record has been handled."""


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Handle an SNS event; return a per-record summary, or raise if any record must retry.

    The daily scheduled event runs the lock audit instead."""
    if drift.is_scheduled(event):
        return run_audit(SERVICE)
    home = Home.from_function_arn(context.invoked_function_arn)
    records = process_event(event, SERVICE, home)
    summary = {"dry_run": CONFIG.dry_run, "records": records}
    logger.info("enforcer summary", summary=summary)
    failed = [record["message_id"] for record in records if record["outcome"] == "failed"]
    if failed:
        raise RetryableRecordsError(
            f"{len(failed)} of {len(records)} records failed transiently: {', '.join(failed)}"
        )
    return summary


def run_audit(service: LockService) -> dict[str, Any]:
    """Compare IAM with the ledger and publish ``LockDrift`` (0 included, so the alarm sees
    data every day). Reports only: fixing is an operator's ``locks --audit --fix``."""
    found = drift.audit(service)
    m.count(m.LOCK_DRIFT, len(found))
    for item in found:
        logger.error(
            f"lock drift: {item.kind} for {item.principal}; fix: {drift.FIXES[item.kind]} "
            "(bedrock-guard locks --audit --fix)",
            **item.as_dict(),
        )
    logger.info("lock audit", drift_count=len(found), by_kind=drift.summary(found))
    return {"audit": [item.as_dict() for item in found]}


def process_event(
    event: Mapping[str, Any], service: LockService, home: Home
) -> list[dict[str, Any]]:
    """Every record of the event, each with its outcome."""
    records = event.get("Records") if isinstance(event, Mapping) else None
    m.count(m.MESSAGES, len(records) if isinstance(records, list) else 0)
    if not isinstance(records, list):
        _dropped("-", DropReason.NOT_SNS, "event has no Records list")
        return []
    sns_event = SNSEvent(dict(event))
    return [
        process_record(record, index, service, home)
        for index, record in enumerate(sns_event.records)
    ]


def process_record(
    record: SNSEventRecord, index: int, service: LockService, home: Home
) -> dict[str, Any]:
    """One SNS record: parse, apply, and report; never raises."""
    message_id = f"record-{index}"
    try:
        if not isinstance(record.raw_event, dict) or record.event_source != SNS_SOURCE:
            raise MessageError(DropReason.NOT_SNS, "record is not from SNS")
        message_id = str(record.sns.message_id)
        text = record.sns.message
        topic_arn = record.raw_event["Sns"].get("TopicArn")
    except MessageError as error:
        return _dropped(message_id, error.reason, str(error))
    except (KeyError, TypeError, AttributeError):
        return _dropped(message_id, DropReason.NOT_SNS, "record has no SNS message")

    try:
        message = parse_alarm_message(text)
        result = service.apply(
            message, home, topic_arn=topic_arn if isinstance(topic_arn, str) else None
        )
    except MessageError as error:
        return _dropped(message_id, error.reason, str(error))
    except Exception as error:  # transient (throttling, 5xx, DynamoDB): retried by Lambda
        logger.exception("record failed; it will be retried", message_id=message_id)
        m.count(m.FAILED)
        return {
            "message_id": message_id,
            "outcome": str(MessageOutcome.FAILED),
            "reason": type(error).__name__,
        }
    return {
        "message_id": message_id,
        "alarm_arn": message.alarm_arn,
        "state": str(message.new_state),
        "outcome": str(result.outcome),
        "principals": [principal.as_dict() for principal in result.principals],
    }


def _dropped(message_id: str, reason: DropReason, detail: str) -> dict[str, Any]:
    m.count_by(m.DROPPED, "Reason", reason)
    logger.warning("dropped message", message_id=message_id, drop_reason=str(reason), detail=detail)
    return {
        "message_id": message_id,
        "outcome": str(MessageOutcome.DROPPED),
        "reason": str(reason),
        "detail": detail,
    }
