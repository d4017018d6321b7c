"""The IAM actions each command may call: the operator's least-privilege policy, documented and
checked by tests against the calls the commands really make."""

from __future__ import annotations

from typing import Final

# sts:GetCallerIdentity needs no permission (AWS allows it even under an explicit deny); it is
# listed because unlock calls it.
COMMAND_ACTIONS: Final[dict[str, tuple[str, ...]]] = {
    "usage": ("dynamodb:Scan", "dynamodb:GetItem"),
    "locks": ("dynamodb:Scan", "dynamodb:GetItem", "dynamodb:Query"),
    "unlock": (
        "sts:GetCallerIdentity",
        "iam:GetPolicy",
        "dynamodb:GetItem",
        "dynamodb:UpdateItem",
        "dynamodb:PutItem",
        # Only when the ledger shows no lock: is the policy attached all the same?
        "iam:GetUser",
        "iam:GetRole",
        "iam:ListAttachedUserPolicies",
        "iam:ListAttachedRolePolicies",
        # Condition iam:PolicyARN = the deny policy. Attach only restores a lock an alarm
        # recorded while the unlock ran.
        "iam:DetachUserPolicy",
        "iam:DetachRolePolicy",
        "iam:AttachUserPolicy",
        "iam:AttachRolePolicy",
    ),
    "holds": ("dynamodb:Scan",),
    "bypass": ("dynamodb:Scan",),
    # locks --audit reads; --fix also attaches or detaches (condition iam:PolicyARN = the deny
    # policy), corrects the gate's lock marks, and records who asked (STS).
    "locks --audit": (
        "dynamodb:Scan",
        "iam:GetPolicy",
        "iam:ListEntitiesForPolicy",
        "sts:GetCallerIdentity",
        "dynamodb:GetItem",
        "dynamodb:UpdateItem",
        "dynamodb:PutItem",
        "dynamodb:ConditionCheckItem",
        "iam:GetUser",
        "iam:GetRole",
        "iam:DetachUserPolicy",
        "iam:DetachRolePolicy",
        "iam:AttachUserPolicy",
        "iam:AttachRolePolicy",
    ),
    "report": (
        "dynamodb:Scan",
        "ce:GetCostAndUsage",
        "ce:GetDimensionValues",  # not needed with --service or a bedrock_service_names output
    ),
}
