"""IAM principal ARNs: parse, classify and put in the canonical form the table is keyed by.

Canonical form is the path-less user or role ARN (``arn:aws:iam::123456789012:role/Name``).
An assumed-role session ARN carries the role name but not its path, and IAM names are unique
within an account whatever the path, so dropping the path is what lets every session of a role
share the role's budget and lock.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import NoReturn

_PARTITION = r"aws(?:-[a-z]+(?:-[a-z]+)*)?"
_ACCOUNT = r"\d{12}"
_NAME = r"[\w+=,.@-]{1,128}"
_PATH = r"/(?:[\x21-\x7e]*/)?"  # IAM paths: '/' or '/a/b/' of printable ASCII

_IAM_RE = re.compile(
    rf"^arn:(?P<partition>{_PARTITION}):iam::(?P<account>{_ACCOUNT}):"
    rf"(?P<kind>user|role|group)(?P<path>{_PATH})(?P<name>{_NAME})$"
)
_SESSION_RE = re.compile(
    rf"^arn:(?P<partition>{_PARTITION}):sts::(?P<account>{_ACCOUNT}):"
    rf"assumed-role/(?P<name>{_NAME})/(?P<session>[\w+=,.@-]{{2,64}})$"
)
_ROOT_RE = re.compile(rf"^arn:{_PARTITION}:iam::{_ACCOUNT}:root$")
_FEDERATED_RE = re.compile(rf"^arn:{_PARTITION}:sts::{_ACCOUNT}:federated-user/{_NAME}$")
_API_KEY_ID_RE = re.compile(r"^[A-Za-z0-9]{1,128}$")

API_KEY_PREFIX = "apikey:"
SERVICE_LINKED_PATH = "/aws-service-role/"
RESERVED_PATH = "/aws-reserved/"
SERVICE_LINKED_NAME_PREFIX = "AWSServiceRoleFor"
RESERVED_NAME_PREFIX = "AWSReservedSSO_"  # IAM Identity Center permission-set roles


class Refusal(StrEnum):
    """Why a principal can never be locked. The values are metric dimension values."""

    MALFORMED = "malformed"
    ROOT = "root"
    GROUP = "group"
    SERVICE_LINKED_ROLE = "service_linked_role"
    RESERVED_ROLE = "reserved_role"
    FEDERATED_USER = "federated_user"
    API_KEY = "api_key"
    OTHER_ACCOUNT = "other_account"
    PROTECTED = "protected"
    NOT_FOUND = "not_found"
    PATH_NOT_ALLOWED = "path_not_allowed"


class PrincipalError(ValueError):
    """An ARN that is not a lockable IAM user or role, with the reason."""

    def __init__(self, reason: Refusal, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Principal:
    """An IAM user or role. ``path`` is ``None`` when it came from a session ARN."""

    partition: str
    account: str
    kind: str  # "user" | "role"
    name: str
    path: str | None = "/"

    @property
    def canonical(self) -> str:
        """The path-less ARN: the key of every table item about this principal."""
        return f"arn:{self.partition}:iam::{self.account}:{self.kind}/{self.name}"

    @property
    def arn(self) -> str:
        """The ARN with its path, as IAM reports it (path ``/`` when unknown)."""
        return f"arn:{self.partition}:iam::{self.account}:{self.kind}{self.path or '/'}{self.name}"


def parse_principal(value: object, *, lockable: bool = True) -> Principal:
    """Parse a user, role or assumed-role session ARN; refuse anything else, saying why.

    With ``lockable`` (the default) roles that AWS manages, which IAM will not let anyone
    attach a policy to (service-linked and ``/aws-reserved/`` roles), are refused too; without
    it they parse, since their sessions are still callers with a budget.
    """
    if not isinstance(value, str):
        raise PrincipalError(Refusal.MALFORMED, f"principal must be a string, got {value!r}")
    text = value.strip()
    if match := _IAM_RE.match(text):
        kind, path, name = match["kind"], match["path"], match["name"]
        if kind == "group":
            raise PrincipalError(Refusal.GROUP, f"{text} is a group, not a user or role")
        principal = Principal(match["partition"], match["account"], kind, name, path)
    elif match := _SESSION_RE.match(text):
        principal = Principal(match["partition"], match["account"], "role", match["name"], None)
    else:
        _refuse_other(text)
    if lockable:
        _refuse_aws_managed(principal, text)
    return principal


def _refuse_other(text: str) -> NoReturn:
    if _ROOT_RE.match(text):
        raise PrincipalError(Refusal.ROOT, f"{text} is the account root")
    if _FEDERATED_RE.match(text):
        raise PrincipalError(Refusal.FEDERATED_USER, f"{text} is a federated user session")
    if text.startswith(API_KEY_PREFIX):
        raise PrincipalError(
            Refusal.API_KEY,
            f"{text[:200]} is an API-key caller, which IAM cannot lock: disable its key instead",
        )
    raise PrincipalError(Refusal.MALFORMED, f"{text[:200]!r} is not a user, role or session ARN")


def _refuse_aws_managed(principal: Principal, text: str) -> None:
    if principal.kind != "role":
        return
    path = principal.path or ""
    if path.startswith(SERVICE_LINKED_PATH) or principal.name.startswith(
        SERVICE_LINKED_NAME_PREFIX
    ):
        raise PrincipalError(Refusal.SERVICE_LINKED_ROLE, f"{text} is a service-linked role")
    if path.startswith(RESERVED_PATH) or principal.name.startswith(RESERVED_NAME_PREFIX):
        raise PrincipalError(Refusal.RESERVED_ROLE, f"{text} is managed by AWS (aws-reserved)")


def caller_identity(user_arn: str | None, api_key_id: str | None) -> str | None:
    """The budget identity of an API Gateway request, from its requestContext only.

    IAM callers are keyed by their canonical ARN (sessions share their role's budget); callers
    IAM cannot lock (the root, federated users) keep their own ARN; without IAM authorisation
    the API key id is the identity. ``None`` means the request carries no identity at all.
    """
    if user_arn:
        try:
            return canonical_arn(user_arn)
        except PrincipalError as error:
            if error.reason is Refusal.MALFORMED:
                return None
            return user_arn.strip()
    if api_key_id and _API_KEY_ID_RE.match(api_key_id):
        return f"{API_KEY_PREFIX}{api_key_id}"
    return None


def canonical_arn(value: str) -> str:
    """Canonical form of a user, role or session ARN (raises :class:`PrincipalError`).

    AWS-managed roles have a canonical form too (their sessions call Bedrock like any other);
    whether a principal can be locked is :func:`parse_principal`'s question.
    """
    return parse_principal(value, lockable=False).canonical


def is_free_to_mint(principal_arn: str) -> bool:
    """Whether anyone holding credentials can create new identities of this kind at will.

    A federated-user name is chosen by the caller of ``sts:GetFederationToken``, so every name
    is a new identity at no cost: such an identity must never receive a default budget (the
    gate refuses it unless registered explicitly). Sessions (assumed-role, including web
    identity and SAML sessions) are keyed by their role, which only IAM creates, so minting
    new sessions mints no new budget. Users, roles, the root and API keys (created by an
    operator) are not free either. A text that is none of these counts as free: it must be
    registered to get a budget.
    """
    text = principal_arn.strip() if isinstance(principal_arn, str) else ""
    if _FEDERATED_RE.match(text):
        return True
    if _ROOT_RE.match(text):
        return False
    if text.startswith(API_KEY_PREFIX):
        return not _API_KEY_ID_RE.match(text[len(API_KEY_PREFIX) :])
    try:
        canonical_arn(text)
    except PrincipalError:
        return True
    return False
