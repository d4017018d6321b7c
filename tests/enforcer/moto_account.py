"""What the enforcer and CLI suites both read back from their moto account: whether IAM shows
the deny policy on a principal, and the principal's lock items in the shared table."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from bedrock_guard.core import keys

# Trust policy of the roles the suites create (any will do: nothing assumes them).
LAMBDA_TRUST_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)


@dataclass
class MotoAccount:
    """Clients on the moto account, with the table and deny policy the locks are made with."""

    iam: Any
    ddb: Any
    cloudwatch: Any
    table: str
    policy_arn: str

    def attached(self, arn: str) -> bool:
        """Whether IAM shows the deny policy attached to the user or role ``arn`` names."""
        kind, _, name = arn.split(":", 5)[5].partition("/")
        name = name.rsplit("/", 1)[-1]
        if kind == "user":
            policies = self.iam.list_attached_user_policies(UserName=name)["AttachedPolicies"]
        else:
            policies = self.iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]
        return any(policy["PolicyArn"] == self.policy_arn for policy in policies)

    def holders(self, principal: str) -> set[str]:
        item = self.ddb.get_item(
            TableName=self.table,
            Key=keys.attribute_values(keys.lock_state_key(principal)),
            ConsistentRead=True,
        ).get("Item", {})
        return set(item.get(keys.LOCKED_BY, {}).get("SS", []))

    def event_items(self, principal: str) -> list[dict[str, Any]]:
        """The principal's lock history, oldest first, as the low-level client returns it."""
        items: list[dict[str, Any]] = self.ddb.query(
            TableName=self.table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :event)",
            ExpressionAttributeValues={
                ":pk": {"S": keys.lock_partition(principal)},
                ":event": {"S": "EVENT#"},
            },
            ConsistentRead=True,
        )["Items"]
        return items
