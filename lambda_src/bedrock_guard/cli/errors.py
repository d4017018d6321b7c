"""Exit codes scripts can rely on, and the translation of AWS errors into one-line messages.

Expected failures (no credentials, no table, access denied, bad input) end the command with a
message and a code from :class:`ExitCode`, never with a traceback.
"""

from __future__ import annotations

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


def _detail(error: ClientError) -> str:
    message = str(error.response.get("Error", {}).get("Message", "")).strip()
    return message[:_MAX_DETAIL]


def translate(error: BotoCoreError | ClientError, *, table_name: str | None) -> CliError:
    """The message and exit code for an error raised by botocore."""
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
    if isinstance(error, _NETWORK_ERRORS):
        return CliError(f"could not reach AWS: {error}", ExitCode.FAILED)
    if isinstance(error, BotoCoreError):
        return CliError(f"AWS call failed: {error}", ExitCode.FAILED)
    return _translate_client_error(error, table_name=table_name)


def _translate_client_error(error: ClientError, *, table_name: str | None) -> CliError:
    code = error_code(error)
    operation = error.operation_name
    action = IAM_ACTIONS.get(operation, operation)
    detail = _detail(error)
    if code in ACCESS_DENIED_CODES:
        return CliError(
            f"access denied: your credentials may not call {action} ({code}: {detail})",
            ExitCode.ACCESS,
        )
    if code in BAD_CREDENTIALS_CODES:
        return CliError(
            f"AWS rejected the credentials calling {operation} ({code}: {detail})",
            ExitCode.ACCESS,
        )
    if code == RESOURCE_NOT_FOUND and operation in DYNAMODB_OPERATIONS:
        return CliError(
            f"DynamoDB table {table_name!r} not found in this account and region "
            "(check --table-name, --region and --profile)",
            ExitCode.MISSING_RESOURCE,
        )
    return CliError(f"{operation} failed: {code}: {detail}", ExitCode.FAILED)
