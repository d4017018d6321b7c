"""Shared fixtures. Fake credentials and Powertools settings are set before any client exists."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

# Before anything imports boto3: no test may ever reach a real AWS account.
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_SERVICE_NAME": "bedrock-cost-guard-tests",
        "POWERTOOLS_METRICS_NAMESPACE": "GenAIRateLimiting",
        "POWERTOOLS_DEV": "false",
    }
)
os.environ.pop("AWS_PROFILE", None)

# Imported after the environment is set, so that no client ever sees real credentials.
import moto

# The apply/destroy cycle of the environments runs once, in order, from `make e2e` (see
# tests/e2e/conftest.py for why), not in every pytest run.
collect_ignore = [] if os.environ.get("BEDROCK_GUARD_E2E") == "1" else ["e2e"]


@dataclass
class FakeLambdaContext:
    """The attributes Powertools reads from a Lambda context."""

    function_name: str = "bedrock-cost-guard-test"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = (
        "arn:aws:lambda:us-east-1:123456789012:function:bedrock-cost-guard-test"
    )
    aws_request_id: str = "c6af9ac6-7b61-11e6-9a41-93e812345678"
    log_group_name: str = "/aws/lambda/bedrock-cost-guard-test"
    log_stream_name: str = "2026/11/23/[$LATEST]abcdef"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 30_000


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext()


@pytest.fixture
def aws() -> Iterator[None]:
    """An in-process moto account for the duration of one test."""
    with moto.mock_aws():
        yield
