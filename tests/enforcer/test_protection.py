"""Pure matching of the never-lock list (no AWS)."""

from __future__ import annotations

import pytest

from bedrock_guard.core.principals import Principal, parse_principal
from bedrock_guard.enforcer.protection import ProtectedPrincipals

ACCT = "123456789012"


def role(name: str, path: str | None = "/") -> Principal:
    return Principal("aws", ACCT, "role", name, path)


@pytest.mark.parametrize(
    ("entry", "principal", "forms"),
    [
        (f"arn:aws:iam::{ACCT}:role/Admin", role("Admin", "/team/"), ()),
        (f"arn:aws:iam::{ACCT}:role/team/Admin", role("Admin", None), ()),
        (f"arn:aws:sts::{ACCT}:assumed-role/Admin/alice", role("Admin", "/x/"), ()),
        (f"arn:aws:iam::{ACCT}:role/team/*", role("Admin", "/team/"), ()),
        (f"arn:aws:iam::{ACCT}:role/team/*", role("Admin", "/team/sub/"), ()),
        (f"arn:aws:iam::{ACCT}:role/Adm?n", role("Admin"), ()),
        ("arn:aws:iam::*:role/Admin", role("Admin"), ()),
        (f"arn:aws:sts::{ACCT}:assumed-role/Admin/*", role("Admin", "/team/"), ()),
        (f"arn:aws:sts::{ACCT}:assumed-role/Adm*/*", role("Admin"), ()),
        (f"arn:aws:iam::{ACCT}:role/admin", role("ADMIN"), ()),
        (
            f"arn:aws:sts::{ACCT}:assumed-role/Admin/oncall-*",
            role("Admin", None),
            (f"arn:aws:sts::{ACCT}:assumed-role/Admin/oncall-7",),
        ),
    ],
)
def test_matches(entry: str, principal: Principal, forms: tuple[str, ...]) -> None:
    protected = ProtectedPrincipals.from_entries([entry])
    assert protected.match(principal, *forms) is not None


@pytest.mark.parametrize(
    ("entry", "principal"),
    [
        (f"arn:aws:iam::{ACCT}:role/Admin", role("Administrator")),
        (f"arn:aws:iam::{ACCT}:role/Admin", Principal("aws", ACCT, "user", "Admin")),
        (f"arn:aws:iam::{ACCT}:role/team/*", role("Admin", "/other/")),
        (f"arn:aws:iam::{ACCT}:role/Admin", Principal("aws", "210987654321", "role", "Admin")),
        (f"arn:aws:iam::{ACCT}:role/Ad.in", role("Admin")),  # regex characters are literal
        (f"arn:aws:iam::{ACCT}:root", role("Admin")),
    ],
)
def test_does_not_match(entry: str, principal: Principal) -> None:
    assert ProtectedPrincipals.from_entries([entry]).match(principal) is None


def test_a_session_pattern_protects_every_role_it_could_be_a_session_of() -> None:
    # Locks apply to roles, not sessions: protecting a session protects its role.
    protected = ProtectedPrincipals.from_entries([f"arn:aws:sts::{ACCT}:assumed-role/*/breakglass"])
    session = f"arn:aws:sts::{ACCT}:assumed-role/App/breakglass"
    assert protected.match(parse_principal(session), session) is not None
    assert protected.match(role("Other", "/x/")) is not None
    assert protected.match(Principal("aws", ACCT, "user", "App")) is None


@pytest.mark.parametrize(
    "entry",
    ["", "   ", "alice", f"arn:aws:iam::{ACCT}:group/admins", f"arn:aws:iam::{ACCT}:policy/x"],
)
def test_refuses_entries_that_could_never_match_as_written(entry: str) -> None:
    with pytest.raises(ValueError, match=r"."):
        ProtectedPrincipals.from_entries([entry])


def test_root_and_service_linked_entries_are_accepted_as_harmless() -> None:
    protected = ProtectedPrincipals.from_entries(
        [
            f"arn:aws:iam::{ACCT}:root",
            f"arn:aws:iam::{ACCT}:role/aws-service-role/x/AWSServiceRoleForX",
        ]
    )
    assert len(protected) == 2
    assert protected.match(role("Admin")) is None
