"""Lambda's part: log capture, environments that leave nothing behind, SNS records."""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path

import boto3
import pytest

from bedrock_guard.demo.lambda_part import LogSink, captured, environment, sns_record

EVENTS = Path(__file__).resolve().parents[1] / "events"


def test_captured_output_and_log_handlers_go_to_the_sink_and_come_back() -> None:
    sink = LogSink()
    logger = logging.getLogger("bedrock-guard-demo-test")
    handler = logging.StreamHandler(sys.stdout)
    logger.addHandler(handler)
    try:
        before = sys.stdout
        with captured(sink):
            print("printed")
            logger.warning("logged")
            sys.stderr.write("partial")
        assert sys.stdout is before
        assert handler.stream is before
    finally:
        logger.removeHandler(handler)
    assert sink.lines() == ["printed", "logged", "partial"]


def test_environment_is_restored_with_the_default_session(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_PROFILE", "someone-elses")
    session = boto3.DEFAULT_SESSION
    before = dict(os.environ)
    with environment({"USAGE_TABLE_NAME": "t", "AWS_REGION": "eu-west-1"}):
        assert os.environ["USAGE_TABLE_NAME"] == "t"
        assert "AWS_PROFILE" not in os.environ  # the machine's profile never reaches a container
        assert boto3.DEFAULT_SESSION is None
    assert dict(os.environ) == before
    assert boto3.DEFAULT_SESSION is session


def test_an_sqs_delivered_envelope_becomes_lambdas_sns_record() -> None:
    recorded = json.loads((EVENTS / "sns_alarm_classic.json").read_text())["Records"][0]
    sns = recorded["Sns"]
    envelope = {
        key: sns[key]
        for key in ("Type", "MessageId", "TopicArn", "Subject", "Message", "Timestamp")
    } | {
        "SignatureVersion": "1",
        "Signature": "EXAMPLE",
        "SigningCertURL": sns["SigningCertUrl"],
        "UnsubscribeURL": sns["UnsubscribeUrl"],
    }
    record = sns_record(envelope, recorded["EventSubscriptionArn"])
    assert record == recorded
    assert record["EventSource"] == "aws:sns"
