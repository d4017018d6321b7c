"""Lambda entry point of the token gate (API Gateway REST proxy integration, format 1.0).

The handler only translates: the event becomes a :class:`GateCall` (identity from
``requestContext`` only), :func:`gate_service.serve` decides, and the metrics the request
produced are written as EMF. Configuration and clients live in a per-container runtime; a
configuration error is raised, never answered as the caller's fault.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Final

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config

from bedrock_guard.core.principals import caller_identity
from bedrock_guard.gate.bedrock_client import (
    BedrockClients,
    retry_budget_seconds,
    worst_call_seconds,
)
from bedrock_guard.gate.config import (
    DEFAULT_METRICS_NAMESPACE,
    LAMBDA_RUNTIME_VARIABLE,
    GateConfigError,
    load_config,
)
from bedrock_guard.gate.metrics import RequestFacts, publish_caller_budget, record_request
from bedrock_guard.gate.service import GateCall, GateRuntime, serve
from bedrock_guard.gate.usage_store import WRITE_RETRY_SECONDS, UsageStore

logger = Logger()
metrics = Metrics(
    namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or DEFAULT_METRICS_NAMESPACE
)
tracer = Tracer()

# DynamoDB answers in milliseconds; short timeouts keep time to settle after a slow Bedrock call.
DYNAMODB_CONNECT_TIMEOUT_SECONDS: Final = 1
DYNAMODB_READ_TIMEOUT_SECONDS: Final = 3
DYNAMODB_MAX_ATTEMPTS: Final = 3
DYNAMODB_CONFIG: Final = Config(
    retries={"mode": "standard", "total_max_attempts": DYNAMODB_MAX_ATTEMPTS},
    connect_timeout=DYNAMODB_CONNECT_TIMEOUT_SECONDS,
    read_timeout=DYNAMODB_READ_TIMEOUT_SECONDS,
    parameter_validation=False,  # the store builds every request itself
)
# Longest the settle (or release) write can take: the store starts no attempt after its retry
# window, and the last one may use botocore's whole budget of timeouts and retries.
SETTLE_RESERVE_SECONDS: Final = WRITE_RETRY_SECONDS + retry_budget_seconds(
    DYNAMODB_MAX_ATTEMPTS, DYNAMODB_CONNECT_TIMEOUT_SECONDS, DYNAMODB_READ_TIMEOUT_SECONDS
)

_runtime: GateRuntime | None = None
_time_budget_checked = False


def build_runtime(environ: Mapping[str, str]) -> GateRuntime:
    """Configuration and clients of one container (raises :class:`GateConfigError`)."""
    config = load_config(environ)
    if config.unpriced_aliases:
        logger.warning(
            "model aliases without a price will be refused",
            extra={"aliases": list(config.unpriced_aliases)},
        )
    dynamodb = boto3.client("dynamodb", config=DYNAMODB_CONFIG)
    return GateRuntime(
        config=config,
        store=UsageStore(dynamodb, config.table_name),
        bedrock=BedrockClients(config),
    )


def get_runtime() -> GateRuntime:
    """The container's runtime, built on first use."""
    global _runtime  # noqa: PLW0603 (one runtime per container is the point)
    if _runtime is None:
        _runtime = build_runtime(os.environ)
    return _runtime


def set_runtime(runtime: GateRuntime | None) -> None:
    """Replace (or, with ``None``, drop) the container's runtime; used by tests and tools."""
    global _runtime, _time_budget_checked  # noqa: PLW0603
    _runtime = runtime
    _time_budget_checked = False


def _warm_in_lambda() -> None:
    # Lambda's init phase runs before the first request with a full CPU: build the runtime
    # there. A configuration error is logged at init and raised again by every invocation.
    # Outside Lambda (tests, tools) importing this module stays free of side effects.
    if LAMBDA_RUNTIME_VARIABLE not in os.environ:
        return
    try:
        get_runtime()
    except GateConfigError:
        logger.exception("invalid token gate configuration: every request will fail")


def _check_time_budget(runtime: GateRuntime, context: LambdaContext) -> None:
    """Warn once per container when the function timeout cannot cover a slow Bedrock call
    plus the settle write (a timed-out invocation leaves its worst case charged)."""
    global _time_budget_checked  # noqa: PLW0603
    if _time_budget_checked:
        return
    _time_budget_checked = True
    needed = worst_call_seconds(runtime.config) + SETTLE_RESERVE_SECONDS
    available = context.get_remaining_time_in_millis() / 1000
    if available < needed:
        logger.error(
            "function timeout is shorter than a worst-case Bedrock call plus settlement; "
            "lower BEDROCK_READ_TIMEOUT_SECONDS or BEDROCK_MAX_ATTEMPTS, or raise the timeout",
            extra={"needed_seconds": needed, "available_seconds": available},
        )


def call_of(event: APIGatewayProxyEvent, context: LambdaContext) -> GateCall:
    """The request as the gate sees it. Identity is read from ``requestContext`` only."""
    raw_context = event.get("requestContext")
    user_arn = api_key_id = None
    request_id = context.aws_request_id
    if isinstance(raw_context, dict):
        identity = (
            event.request_context.identity
            if isinstance(raw_context.get("identity"), dict)
            else None
        )
        if identity is not None:
            user_arn = identity.user_arn if isinstance(identity.user_arn, str) else None
            api_key_id = identity.api_key_id if isinstance(identity.api_key_id, str) else None
        if isinstance(raw_context.get("requestId"), str):
            request_id = event.request_context.request_id
    body = event.body
    return GateCall(
        principal=caller_identity(user_arn, api_key_id),
        body=body if isinstance(body, str) else None,
        is_base64=event.is_base64_encoded is True,
        request_id=request_id,
        time_left_seconds=context.get_remaining_time_in_millis() / 1000,
    )


@logger.inject_lambda_context(
    correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True
)
@tracer.capture_lambda_handler(capture_response=False)  # model output stays out of X-Ray
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Serve one gated Bedrock request."""
    runtime = get_runtime()  # a GateConfigError propagates: the operator's error
    _check_time_budget(runtime, context)
    call = call_of(APIGatewayProxyEvent(event), context)
    if call.principal is not None:
        logger.append_keys(caller=call.principal)
    facts = RequestFacts()
    response = serve(runtime, call, facts)
    record_request(metrics, facts, combined=runtime.config.combined_dimensions)
    if (
        runtime.config.caller_metrics
        and facts.principal is not None
        and facts.budget_used_percent is not None
    ):
        publish_caller_budget(
            runtime.config.metrics_namespace, facts.principal, facts.budget_used_percent
        )
    logger.info(
        "request answered",
        extra={"status": response["statusCode"], "approved": facts.approved},
    )
    return response


_warm_in_lambda()
