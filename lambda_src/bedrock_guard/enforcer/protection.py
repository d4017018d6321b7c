"""Principals the enforcer must never lock: exact ARNs and ``*`` patterns (pure, no AWS).

Both sides are canonicalised with :mod:`bedrock_guard.core.principals`: an entry written with a role
path or as an assumed-role session protects the role itself, and a principal is checked in
every form it can take (canonical, with its real IAM path, as it arrived), so neither a path nor
a session name can slip past an entry. IAM names are unique regardless of case, so matching
ignores case: that can only protect more, never less.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from bedrock_guard.core.principals import Principal, PrincipalError, Refusal, parse_principal

# A session pattern protects the role behind it: "...:sts::<acct>:assumed-role/<role>/<session>"
# becomes "...:iam::<acct>:role/<role>" (the session part is whatever the pattern says).
_SESSION_PATTERN_RE = re.compile(
    r"^(?P<prefix>arn:[^:]*):sts::(?P<account>[^:]*):assumed-role/(?P<role>[^/]+)(?:/.*)?$",
    re.IGNORECASE,
)
_WILDCARDS = ("*", "?")
# Entries that can never name a lockable principal; accepted so a list may mention them.
_HARMLESS = frozenset(
    {Refusal.ROOT, Refusal.FEDERATED_USER, Refusal.SERVICE_LINKED_ROLE, Refusal.RESERVED_ROLE}
)


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """IAM-style wildcards: ``*`` any run of characters (``/`` included), ``?`` one character."""
    body = re.escape(pattern).replace(r"\*", ".*").replace(r"\?", ".")
    return re.compile(f"^{body}$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class ProtectedPrincipals:
    """The never-lock list, compiled once from ``PROTECTED_PRINCIPALS_JSON``."""

    exact: frozenset[str] = frozenset()
    patterns: tuple[tuple[str, re.Pattern[str]], ...] = ()

    @classmethod
    def from_entries(cls, entries: Iterable[str]) -> ProtectedPrincipals:
        """Compile entries; raise ``ValueError`` for one that could never match as written."""
        exact: set[str] = set()
        patterns: list[tuple[str, re.Pattern[str]]] = []
        for raw in entries:
            entry = raw.strip()
            if not entry:
                raise ValueError("an entry is empty")
            if any(wildcard in entry for wildcard in _WILDCARDS):
                patterns.append((entry, _pattern_regex(entry)))
                if session := _SESSION_PATTERN_RE.match(entry):
                    role = f"{session['prefix']}:iam::{session['account']}:role/{session['role']}"
                    patterns.append((entry, _pattern_regex(role)))
                continue
            try:
                exact.add(parse_principal(entry).canonical.lower())
            except PrincipalError as error:
                if error.reason is Refusal.GROUP:
                    raise ValueError(
                        f"{entry} is a group: protection applies to users and roles, "
                        "so list the members or use a pattern"
                    ) from error
                if error.reason not in _HARMLESS:
                    raise ValueError(f"{entry!r} is not a user, role or session ARN") from error
                exact.add(entry.lower())
        return cls(frozenset(exact), tuple(patterns))

    def __len__(self) -> int:
        return len(self.exact) + len(self.patterns)

    def match(self, principal: Principal, *other_forms: str) -> str | None:
        """The entry protecting ``principal`` (checked in every form it can take), or ``None``."""
        forms = {principal.canonical, principal.arn, *(form.strip() for form in other_forms)}
        lowered = {form.lower() for form in forms if form}
        for form in lowered:
            if form in self.exact:
                return form
        for entry, regex in self.patterns:
            if any(regex.match(form) for form in lowered):
                return entry
        return None
