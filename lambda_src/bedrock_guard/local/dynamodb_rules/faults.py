"""Faults to inject into DynamoDB calls: throttles, lost answers, server errors.

A rule matches an operation (and optionally a table and a key prefix) and fires for the next
``times`` matching calls, or with a ``probability`` drawn from a seeded generator so that a
failing run can be replayed. The first rule that fires wins; a rule that has fired ``times``
times is dropped.

Kinds:

- ``throttle``: answer ``ProvisionedThroughputExceededException`` (or ``ThrottlingException``
  with ``code``), HTTP 400, nothing applied. botocore retries both.
- ``fail_before``: answer HTTP 500 ``InternalServerError`` without applying.
- ``lost_answer``: apply the write, then answer 500 (``mode="error"``) or close the connection
  without a word (``mode="close"``): the caller cannot tell whether it committed.
- ``transaction_in_progress``: answer ``TransactionInProgressException`` without applying.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Final, Literal

FaultKind = Literal["throttle", "lost_answer", "fail_before", "transaction_in_progress"]
LostAnswerMode = Literal["error", "close"]
FAULT_KINDS: Final = ("throttle", "lost_answer", "fail_before", "transaction_in_progress")
THROTTLE_CODES: Final = ("ProvisionedThroughputExceededException", "ThrottlingException")


@dataclass(frozen=True)
class FaultRule:
    """One fault to inject; see the module docstring for the kinds.

    ``operation`` is the DynamoDB action name (``"UpdateItem"``) or None for any;
    ``key_prefix`` matches the start of any string key attribute of any item the call
    touches (``"USAGE#"``). Without ``times`` nor ``probability`` the rule fires every time.
    """

    kind: FaultKind
    operation: str | None = None
    table: str | None = None
    key_prefix: str | None = None
    times: int | None = None
    probability: float | None = None
    code: str = "ProvisionedThroughputExceededException"
    mode: LostAnswerMode = "error"

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"kind must be one of {FAULT_KINDS}, got {self.kind!r}")
        if self.kind == "throttle" and self.code not in THROTTLE_CODES:
            raise ValueError(f"a throttle code is one of {THROTTLE_CODES}, got {self.code!r}")
        if self.mode not in ("error", "close"):
            raise ValueError(f"mode must be 'error' or 'close', got {self.mode!r}")
        if self.times is not None and self.times < 1:
            raise ValueError("times must be at least 1")
        if self.probability is not None and not 0.0 <= self.probability <= 1.0:
            raise ValueError("probability must be between 0 and 1")

    def matches(self, operation: str, tables: Iterable[str], keys: Iterable[str]) -> bool:
        """Whether a call of ``operation`` on ``tables`` touching key values ``keys`` matches."""
        if self.operation is not None and self.operation != operation:
            return False
        if self.table is not None and self.table not in set(tables):
            return False
        prefix = self.key_prefix
        return prefix is None or any(value.startswith(prefix) for value in keys)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict, as ``POST /__rules/faults`` takes it."""
        return {name: value for name, value in asdict(self).items() if value is not None}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FaultRule:
        """The inverse of :meth:`to_json`; unknown fields are an error, not ignored."""
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown fault fields: {sorted(unknown)}")
        return cls(**data)


@dataclass
class _Armed:
    rule: FaultRule
    remaining: int | None  # None: no limit


class FaultInjector:
    """The active fault rules, and which fires for a call (thread-safe)."""

    def __init__(self, seed: int = 0) -> None:
        self._lock = threading.Lock()
        self._seed = seed
        self._random = random.Random(seed)  # noqa: S311  (reproducible faults, not crypto)
        self._rules: list[_Armed] = []
        self.fired: dict[str, int] = {}

    def add(self, rule: FaultRule) -> None:
        """Activate ``rule`` after those already active."""
        with self._lock:
            self._rules.append(_Armed(rule, rule.times))

    def clear(self, *, seed: int | None = None) -> None:
        """Drop every rule and the counts; reseed (with ``seed``, or the original one)."""
        with self._lock:
            self._rules.clear()
            self.fired = {}
            self._random = random.Random(self._seed if seed is None else seed)  # noqa: S311

    def rules(self) -> list[FaultRule]:
        """The active rules, in order."""
        with self._lock:
            return [armed.rule for armed in self._rules]

    def take(
        self, operation: str, tables: Iterable[str] = (), keys: Iterable[str] = ()
    ) -> FaultRule | None:
        """The rule that fires for this call, if any, counting it down."""
        tables, keys = list(tables), list(keys)
        with self._lock:
            for armed in self._rules:
                rule = armed.rule
                if not rule.matches(operation, tables, keys):
                    continue
                if rule.probability is not None and self._random.random() >= rule.probability:
                    continue
                if armed.remaining is not None:
                    armed.remaining -= 1
                    if armed.remaining <= 0:
                        self._rules.remove(armed)
                self.fired[rule.kind] = self.fired.get(rule.kind, 0) + 1
                return rule
        return None
