"""Record the AWS API calls the package's own code makes, as the IAM actions they need.

Only calls with a frame of ``lambda_src/bedrock_guard`` on the stack are recorded, so a test's
own setup (creating tables, users, alarms) does not count as something the Lambda needs.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

from botocore.client import BaseClient

PACKAGE_DIR = Path(__file__).resolve().parents[2] / "lambda_src" / "bedrock_guard"
LOCAL_DIR = PACKAGE_DIR / "local"

# botocore signing names that differ from the IAM service prefix.
IAM_PREFIX = {"monitoring": "cloudwatch"}
# Operations authorised by an IAM action of another name.
ACTION_OF = {
    ("bedrock", "Converse"): "bedrock:InvokeModel",
    ("bedrock", "ConverseStream"): "bedrock:InvokeModelWithResponseStream",
}
TRANSACT_ITEM_ACTION = {
    "ConditionCheck": "dynamodb:ConditionCheckItem",
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
}


def iam_actions(prefix: str, operation: str, params: dict[str, Any]) -> set[str]:
    """The IAM actions one API call needs (DynamoDB transactions need one per item kind)."""
    if (prefix, operation) in ACTION_OF:
        return {ACTION_OF[(prefix, operation)]}
    if prefix == "dynamodb" and operation == "TransactWriteItems":
        return {
            TRANSACT_ITEM_ACTION[kind]
            for item in params.get("TransactItems", [])
            for kind in item
            if kind in TRANSACT_ITEM_ACTION
        }
    if prefix == "dynamodb" and operation == "TransactGetItems":
        return {"dynamodb:GetItem"}
    return {f"{prefix}:{operation}"}


def _called_from_package() -> bool:
    frame = sys._getframe(2)
    while frame is not None:
        filename = frame.f_code.co_filename
        if filename.startswith(str(PACKAGE_DIR)) and not filename.startswith(str(LOCAL_DIR)):
            return True
        frame = frame.f_back  # type: ignore[assignment]
    return False


@contextmanager
def recording() -> Iterator[set[str]]:
    """Yield a set that fills with the IAM actions of every call the package makes."""
    actions: set[str] = set()
    original = BaseClient._make_api_call

    def record(self: BaseClient, operation_name: str, api_params: dict[str, Any]) -> Any:
        if _called_from_package():
            signing = self.meta.service_model.signing_name
            prefix = IAM_PREFIX.get(signing, signing)
            actions.update(iam_actions(prefix, operation_name, api_params))
        return original(self, operation_name, api_params)

    with mock.patch.object(BaseClient, "_make_api_call", record):
        yield actions
