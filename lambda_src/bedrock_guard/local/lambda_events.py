"""What Lambda and API Gateway hand the handlers, built locally: a context and proxy events.

The event is an API Gateway REST proxy integration event (format 1.0) with the fields API
Gateway sets for an IAM-authorised or API-key request; only the identity and the body vary.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Final

DEFAULT_ACCOUNT: Final = "123456789012"
API_ID: Final = "a1b2c3d4e5"
RESOURCE: Final = "/v1/converse"
STAGE: Final = "local"


@dataclass
class LocalLambdaContext:
    """The attributes and method of a Lambda context that Powertools and the handlers read."""

    function_name: str = "bedrock-cost-guard-local"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = (
        f"arn:aws:lambda:us-east-1:{DEFAULT_ACCOUNT}:function:bedrock-cost-guard-local"
    )
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "/aws/lambda/bedrock-cost-guard-local"
    log_stream_name: str = "local/[$LATEST]0"
    remaining_millis: int = 30_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_millis


def api_gateway_event(
    body: str | dict[str, Any],
    *,
    user_arn: str | None = None,
    api_key_id: str | None = None,
    account_id: str = DEFAULT_ACCOUNT,
    request_id: str | None = None,
) -> dict[str, Any]:
    """A REST proxy event for ``POST /v1/converse`` from an IAM caller or an API key."""
    now = time.time()
    host = f"{API_ID}.execute-api.us-east-1.amazonaws.com"
    headers = {"Content-Type": "application/json", "Host": host}
    session = user_arn.rsplit("/", 1)[-1] if user_arn else None
    identity: dict[str, Any] = {
        "cognitoIdentityPoolId": None,
        "accountId": account_id if user_arn else None,
        "cognitoIdentityId": None,
        "caller": f"AROAEXAMPLEROLEID1234:{session}" if user_arn else None,
        "sourceIp": "198.51.100.24",
        "principalOrgId": None,
        "accessKey": "ASIAEXAMPLEKEY123456" if user_arn else None,
        "cognitoAuthenticationType": None,
        "cognitoAuthenticationProvider": None,
        "userArn": user_arn,
        "userAgent": "bedrock-cost-guard-local",
        "user": f"AROAEXAMPLEROLEID1234:{session}" if user_arn else None,
        "apiKey": f"local-key-{api_key_id}" if api_key_id else None,
        "apiKeyId": api_key_id,
        "clientCert": None,
    }
    return {
        "resource": RESOURCE,
        "path": RESOURCE,
        "httpMethod": "POST",
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "resourceId": "x1y2z3",
            "resourcePath": RESOURCE,
            "httpMethod": "POST",
            "extendedRequestId": uuid.uuid4().hex[:16],
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "path": f"/{STAGE}{RESOURCE}",
            "accountId": account_id,
            "protocol": "HTTP/1.1",
            "stage": STAGE,
            "domainPrefix": API_ID,
            "requestTimeEpoch": int(now * 1000),
            "requestId": request_id or str(uuid.uuid4()),
            "identity": identity,
            "domainName": host,
            "deploymentId": "d3e4f5",
            "apiId": API_ID,
        },
        "body": body if isinstance(body, str) else json.dumps(body),
        "isBase64Encoded": False,
    }
