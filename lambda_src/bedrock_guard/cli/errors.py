"""Exit codes scripts can rely on, and the translation of AWS errors into one-line messages.

Expected failures (no credentials, no table, access denied, bad input) end the command with a
message and a code from :class:`ExitCode`, never with a traceback.
"""

from __future__ import annotations

import html
import re
from enum import IntEnum
from typing import Final

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    CredentialRetrievalError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
    ReadTimeoutError,
    SSOTokenLoadError,
    TokenRetrievalError,
    UnauthorizedSSOTokenError,
)

from bedrock_guard.core.aws_errors import error_code


class ExitCode(IntEnum):
    """The process exit status of every command."""

    OK = 0
    FAILED = 1  # the operation failed, or what it names does not exist / is not locked
    USAGE = 2  # bad arguments or settings (argparse uses 2 as well)
    ACCESS = 3  # no usable credentials, or AWS denied access
    MISSING_RESOURCE = 4  # the table (or the deny policy) does not exist
    INTERRUPTED = 130  # Ctrl-C


class CliError(Exception):
    """An expected failure: its message is printed on one line and ``code`` is the exit status."""

    def __init__(self, message: str, code: ExitCode = ExitCode.FAILED) -> None:
        super().__init__(message)
        self.code = code


# The IAM action behind each API operation the CLI makes, to name it when access is denied.
# A transaction is authorised item by item, so its actions are those of its items.
IAM_ACTIONS: Final = {
    "Scan": "dynamodb:Scan",
    "GetItem": "dynamodb:GetItem",
    "Query": "dynamodb:Query",
    "PutItem": "dynamodb:PutItem",
    "UpdateItem": "dynamodb:UpdateItem",
    "TransactWriteItems": "dynamodb:UpdateItem and dynamodb:PutItem",
    "GetCallerIdentity": "sts:GetCallerIdentity",
    "GetPolicy": "iam:GetPolicy",
    "GetUser": "iam:GetUser",
    "GetRole": "iam:GetRole",
    "ListAttachedUserPolicies": "iam:ListAttachedUserPolicies",
    "ListAttachedRolePolicies": "iam:ListAttachedRolePolicies",
    "DetachUserPolicy": "iam:DetachUserPolicy",
    "DetachRolePolicy": "iam:DetachRolePolicy",
    "AttachUserPolicy": "iam:AttachUserPolicy",
    "AttachRolePolicy": "iam:AttachRolePolicy",
    "ListEntitiesForPolicy": "iam:ListEntitiesForPolicy",
    "GetCostAndUsage": "ce:GetCostAndUsage",
    "GetDimensionValues": "ce:GetDimensionValues",
}
DYNAMODB_OPERATIONS: Final = frozenset(
    {"Scan", "GetItem", "Query", "PutItem", "UpdateItem", "TransactWriteItems"}
)
ACCESS_DENIED_CODES: Final = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "UnauthorizedException",
        "AuthFailure",
    }
)
BAD_CREDENTIALS_CODES: Final = frozenset(
    {
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
        "IncompleteSignature",
        "MissingAuthenticationToken",
    }
)
RESOURCE_NOT_FOUND: Final = "ResourceNotFoundException"
_CREDENTIAL_ERRORS: Final = (
    NoCredentialsError,
    PartialCredentialsError,
    CredentialRetrievalError,
    SSOTokenLoadError,
    UnauthorizedSSOTokenError,
    TokenRetrievalError,
)
_NETWORK_ERRORS: Final = (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError)
_MAX_DETAIL: Final = 300
_MARKUP: Final = re.compile(r"^\s*<(?:!doctype|html|\?xml|head|body|title)\b", re.IGNORECASE)
_TITLE: Final = re.compile(r"<(title|h1|h2)\b[^>]*>(.*?)</\1\s*>", re.IGNORECASE | re.DOTALL)
_SKIPPED: Final = re.compile(r"<(script|style|head)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_TAG: Final = re.compile(r"<[^>]+>")


def first_meaningful_line(text: str) -> str:
    """One line out of an error body: a web page (a proxy's or a load balancer's, not an AWS
    error) is summarised by its title or first heading, else its first line of text."""
    if _MARKUP.match(text):
        found = _TITLE.search(text)
        if found and (title := " ".join(_TAG.sub(" ", found[2]).split())):
            return html.unescape(title)[:_MAX_DETAIL]
        text = _TAG.sub("\n", _SKIPPED.sub("", text))
        text = html.unescape(text)
    for line in text.splitlines():
        if line := " ".join(line.split()):
            return line[:_MAX_DETAIL]
    return ""


def _detail(error: ClientError) -> str:
    message = str(error.response.get("Error", {}).get("Message", "") or "")
    return first_meaningful_line(message)


def _status(error: ClientError) -> int | None:
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return status if isinstance(status, int) else None


def translate(
    error: BotoCoreError | ClientError,
    *,
    table_name: str | None,
    call: str | None = None,
    network: str | None = None,
) -> CliError:
    """The message and exit code for an error raised by botocore. ``call`` names the AWS call
    that failed (``ce:GetCostAndUsage``) where the error does not; ``network`` describes the
    timeouts and attempts, for errors of the connection."""
    if isinstance(error, ProfileNotFound):
        return CliError(f"AWS profile not found: {error}", ExitCode.ACCESS)
    if isinstance(error, _CREDENTIAL_ERRORS):
        return CliError(
            f"no usable AWS credentials ({error}): configure a profile, SSO login or "
            "environment credentials, or pass --profile",
            ExitCode.ACCESS,
        )
    if isinstance(error, NoRegionError):
        return CliError("no AWS region: pass --region or set AWS_REGION", ExitCode.USAGE)
    what = call or "AWS"
    if isinstance(error, _NETWORK_ERRORS):
        tried = f" ({network})" if network else ""
        return CliError(
            f"could not reach AWS calling {what}: {error}{tried}; check --endpoint-url, --region "
            "and the network, or allow more time with --timeout and --max-attempts",
            ExitCode.FAILED,
        )
    if isinstance(error, BotoCoreError):
        return CliError(f"AWS call {what} failed: {error}", ExitCode.FAILED)
    return _translate_client_error(error, table_name=table_name, call=call)


def _translate_client_error(
    error: ClientError, *, table_name: str | None, call: str | None = None
) -> CliError:
    code = error_code(error)
    operation = error.operation_name
    named = call if call and call.endswith(f":{operation}") else operation
    action = IAM_ACTIONS.get(operation, operation)
    detail = _detail(error)
    if code in ACCESS_DENIED_CODES:
        return CliError(
            f"access denied: your credentials may not call {action} ({code}: {detail}); allow "
            "it in their IAM policy, or use --profile with credentials that may",
            ExitCode.ACCESS,
        )
    if code in BAD_CREDENTIALS_CODES:
        return CliError(
            f"AWS rejected the credentials calling {named} ({code}: {detail}): renew them "
            "(aws sso login, or fresh keys) or pick another --profile",
            ExitCode.ACCESS,
        )
    if code == RESOURCE_NOT_FOUND and operation in DYNAMODB_OPERATIONS:
        return CliError(
            f"DynamoDB table {table_name!r} not found in this account and region "
            "(check --table-name, --region and --profile)",
            ExitCode.MISSING_RESOURCE,
        )
    if not code or code.isdigit() or detail.lower() == code.lower():
        # Not an AWS error document (a proxy's page, an empty body): say what came back.
        status = _status(error)
        shown = f"HTTP {status}" if status else f"error {code or 'without a code'}"
        return CliError(
            f"{named} failed: {shown}: {detail or 'no message'} (not an AWS error answer: "
            "check --endpoint-url and any proxy between you and AWS)",
            ExitCode.FAILED,
        )
    return CliError(f"{named} failed: {code}: {detail}", ExitCode.FAILED)
