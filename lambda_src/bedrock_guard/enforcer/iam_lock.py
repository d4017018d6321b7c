"""The only IAM calls the enforcer makes: look a principal up, attach or detach one policy.

Attach and detach are idempotent (IAM accepts attaching an attached policy; detaching one that
is not attached answers ``NoSuchEntity``, which is the state we wanted), so a retried or replayed
message converges on the same state. Any other error propagates: the caller decides whether it
is worth a retry.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from bedrock_guard.core.aws_errors import error_code
from bedrock_guard.core.principals import Principal, parse_principal

NO_SUCH_ENTITY = "NoSuchEntity"
LIMIT_EXCEEDED = "LimitExceeded"


class PolicyLimitError(Exception):
    """IAM refused the attachment: the principal already has its quota of managed policies."""


class PolicyMissingError(Exception):
    """IAM refused the attachment with NoSuchEntity for a principal just found: the deny policy
    does not exist (deleted, or a wrong ARN)."""


class IamLock:
    """Attach and detach one managed policy (the deny policy) on IAM users and roles."""

    def __init__(self, client: Any, policy_arn: str) -> None:
        self._iam = client
        self.policy_arn = policy_arn

    def find(self, principal: Principal) -> Principal | None:
        """The principal as IAM knows it (real path included), or ``None`` if it does not exist.

        A session ARN does not carry its role's path; GetRole does, and the path decides both
        protection patterns and whether the enforcer may act at all. Raises
        :class:`PrincipalError` when the real path shows a role that AWS manages.
        """
        try:
            if principal.kind == "user":
                arn = self._iam.get_user(UserName=principal.name)["User"]["Arn"]
            else:
                arn = self._iam.get_role(RoleName=principal.name)["Role"]["Arn"]
        except ClientError as error:
            if error_code(error) == NO_SUCH_ENTITY:
                return None
            raise
        found = parse_principal(str(arn))
        # Same name in another account or partition is another principal.
        if (found.partition, found.account, found.kind) != (
            principal.partition,
            principal.account,
            principal.kind,
        ):
            return None
        return found

    def attach(self, principal: Principal) -> None:
        """Attach the policy; already attached is success. Raises :class:`PolicyLimitError`, or
        :class:`PolicyMissingError` when IAM answers NoSuchEntity (the policy, or the principal,
        is gone)."""
        try:
            if principal.kind == "user":
                self._iam.attach_user_policy(UserName=principal.name, PolicyArn=self.policy_arn)
            else:
                self._iam.attach_role_policy(RoleName=principal.name, PolicyArn=self.policy_arn)
        except ClientError as error:
            if error_code(error) == LIMIT_EXCEEDED:
                raise PolicyLimitError(str(error)) from error
            if error_code(error) == NO_SUCH_ENTITY:
                raise PolicyMissingError(str(error)) from error
            raise

    def attached_principals(self) -> list[Principal] | None:
        """Every user and role the policy is attached to (path-less); ``None`` when the policy
        does not exist. Groups are left out: the enforcer never attaches to groups."""
        partition, account = self.policy_arn.split(":")[1], self.policy_arn.split(":")[4]
        found = []
        try:
            # Asked first: a missing policy is told apart from one attached to nobody.
            self._iam.get_policy(PolicyArn=self.policy_arn)
            pages = self._iam.get_paginator("list_entities_for_policy").paginate(
                PolicyArn=self.policy_arn
            )
            for page in pages:
                for user in page.get("PolicyUsers", []):
                    found.append(Principal(partition, account, "user", user["UserName"]))
                for role in page.get("PolicyRoles", []):
                    found.append(Principal(partition, account, "role", role["RoleName"]))
        except ClientError as error:
            if error_code(error) == NO_SUCH_ENTITY:
                return None
            raise
        return found

    def detach(self, principal: Principal) -> bool:
        """Detach the policy; ``False`` when it was not attached (or the principal is gone)."""
        try:
            if principal.kind == "user":
                self._iam.detach_user_policy(UserName=principal.name, PolicyArn=self.policy_arn)
            else:
                self._iam.detach_role_policy(RoleName=principal.name, PolicyArn=self.policy_arn)
        except ClientError as error:
            if error_code(error) == NO_SUCH_ENTITY:
                return False
            raise
        return True
