"""ARN parsing and the canonical form every table item and metric is keyed by."""

from __future__ import annotations

import pytest

from bedrock_guard.core.principals import (
    PrincipalError,
    Refusal,
    caller_identity,
    canonical_arn,
    is_free_to_mint,
    parse_principal,
)

ACCOUNT = "123456789012"


@pytest.mark.parametrize(
    ("arn", "canonical", "with_path"),
    [
        (f"arn:aws:iam::{ACCOUNT}:user/alice", f"arn:aws:iam::{ACCOUNT}:user/alice", None),
        (
            f"arn:aws:iam::{ACCOUNT}:user/eng/alice",
            f"arn:aws:iam::{ACCOUNT}:user/alice",
            f"arn:aws:iam::{ACCOUNT}:user/eng/alice",
        ),
        (f"arn:aws:iam::{ACCOUNT}:role/Dev", f"arn:aws:iam::{ACCOUNT}:role/Dev", None),
        (
            f"arn:aws:iam::{ACCOUNT}:role/team/a/Dev",
            f"arn:aws:iam::{ACCOUNT}:role/Dev",
            f"arn:aws:iam::{ACCOUNT}:role/team/a/Dev",
        ),
        (
            f"arn:aws:sts::{ACCOUNT}:assumed-role/Dev/alice@example.com",
            f"arn:aws:iam::{ACCOUNT}:role/Dev",
            f"arn:aws:iam::{ACCOUNT}:role/Dev",
        ),
        (
            f"arn:aws-us-gov:iam::{ACCOUNT}:role/Dev",
            f"arn:aws-us-gov:iam::{ACCOUNT}:role/Dev",
            None,
        ),
        (f"arn:aws-cn:iam::{ACCOUNT}:user/bob", f"arn:aws-cn:iam::{ACCOUNT}:user/bob", None),
        (
            f"  arn:aws:iam::{ACCOUNT}:role/service-role/Runner  ",
            f"arn:aws:iam::{ACCOUNT}:role/Runner",
            f"arn:aws:iam::{ACCOUNT}:role/service-role/Runner",
        ),
    ],
)
def test_canonical_form(arn: str, canonical: str, with_path: str | None) -> None:
    principal = parse_principal(arn)
    assert principal.canonical == canonical
    assert canonical_arn(arn) == canonical
    assert principal.arn == (with_path or canonical)


@pytest.mark.parametrize(
    ("arn", "reason"),
    [
        (f"arn:aws:iam::{ACCOUNT}:root", Refusal.ROOT),
        (f"arn:aws:iam::{ACCOUNT}:group/admins", Refusal.GROUP),
        (f"arn:aws:sts::{ACCOUNT}:federated-user/carol", Refusal.FEDERATED_USER),
        (
            f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/bedrock.amazonaws.com/"
            "AWSServiceRoleForAmazonBedrock",
            Refusal.SERVICE_LINKED_ROLE,
        ),
        (
            f"arn:aws:sts::{ACCOUNT}:assumed-role/AWSServiceRoleForSupport/session",
            Refusal.SERVICE_LINKED_ROLE,
        ),
        (
            f"arn:aws:iam::{ACCOUNT}:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_1",
            Refusal.RESERVED_ROLE,
        ),
        (
            f"arn:aws:sts::{ACCOUNT}:assumed-role/AWSReservedSSO_Admin_0123abcd/alice",
            Refusal.RESERVED_ROLE,
        ),
        ("apikey:a1b2c3d4e5", Refusal.API_KEY),
        ("arn:aws:iam::12345:user/short-account", Refusal.MALFORMED),
        (f"arn:aws:s3:::{ACCOUNT}-bucket", Refusal.MALFORMED),
        (f"arn:aws:iam::{ACCOUNT}:user/", Refusal.MALFORMED),
        (f"arn:aws:iam::{ACCOUNT}:user/has space", Refusal.MALFORMED),
        (f"arn:aws:sts::{ACCOUNT}:assumed-role/Dev", Refusal.MALFORMED),
        ("", Refusal.MALFORMED),
        (None, Refusal.MALFORMED),
        (42, Refusal.MALFORMED),
        ("*", Refusal.MALFORMED),
    ],
)
def test_refusals_say_why(arn: object, reason: Refusal) -> None:
    with pytest.raises(PrincipalError) as raised:
        parse_principal(arn)
    assert raised.value.reason is reason


def test_caller_identity_comes_from_the_request_context_only() -> None:
    session = f"arn:aws:sts::{ACCOUNT}:assumed-role/Dev/alice"
    assert caller_identity(session, "key123") == f"arn:aws:iam::{ACCOUNT}:role/Dev"
    assert caller_identity(None, "key123") == "apikey:key123"
    assert caller_identity("", "key123") == "apikey:key123"
    assert caller_identity(None, None) is None
    assert caller_identity(None, "not a key id!") is None
    assert caller_identity("not-an-arn", "key123") is None
    root = f"arn:aws:iam::{ACCOUNT}:root"
    assert caller_identity(root, None) == root


def test_aws_managed_roles_have_a_canonical_form_but_cannot_be_locked() -> None:
    sso = f"arn:aws:iam::{ACCOUNT}:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Dev_1a2b"
    session = f"arn:aws:sts::{ACCOUNT}:assumed-role/AWSReservedSSO_Dev_1a2b/alice@example.com"
    expected = f"arn:aws:iam::{ACCOUNT}:role/AWSReservedSSO_Dev_1a2b"
    assert canonical_arn(sso) == canonical_arn(session) == expected
    assert caller_identity(session, None) == expected
    for arn in (sso, session):
        with pytest.raises(PrincipalError) as raised:
            parse_principal(arn)
        assert raised.value.reason is Refusal.RESERVED_ROLE


@pytest.mark.parametrize(
    ("arn", "free"),
    [
        ("arn:aws:sts::123456789012:federated-user/anything-at-all", True),
        ("arn:aws-us-gov:sts::123456789012:federated-user/bob@example.com", True),
        ("arn:aws:iam::123456789012:user/alice", False),
        ("arn:aws:iam::123456789012:role/teams/app", False),
        # Web identity and SAML sessions are assumed-role sessions: keyed by their role.
        ("arn:aws:sts::123456789012:assumed-role/web-app/cognito-session-7", False),
        ("arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Dev_0123/alice", False),
        ("arn:aws:iam::123456789012:root", False),
        ("apikey:a1b2c3d4e5", False),
        ("apikey:", True),
        ("", True),
        ("not-an-arn", True),
    ],
)
def test_is_free_to_mint(arn: str, free: bool) -> None:
    assert is_free_to_mint(arn) is free
