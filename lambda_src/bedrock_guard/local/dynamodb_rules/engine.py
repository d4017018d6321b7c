"""The rules' state, free of HTTP and of moto: held items, idempotency tokens, item locks,
partition throughput and the capacity ledger.

Every class is thread-safe and reads time only from an injected clock, so the proxy runs them
on ``time.monotonic`` while a benchmark can drive thousands of simulated requests through the
same rules in virtual time (advance the clock instead of sleeping).
"""

from __future__ import annotations

import math
import threading
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Final

Clock = Callable[[], float]

# An item as the rules see it: (table name, canonical text of its primary key).
ItemKey = tuple[str, str]

TOKEN_WINDOW_SECONDS: Final = 600.0  # "A client request token is valid for 10 minutes"


class HoldTable:
    """Items held by transactions that are committing, and until when.

    DynamoDB rejects a write to an item that an ongoing TransactWriteItems includes, rather
    than queueing it. A hold lasts until it is released or its deadline passes, whichever
    comes first; the deadline lets a virtual-time simulation expire holds without releasing.
    """

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._holds: dict[ItemKey, tuple[Hashable, float]] = {}

    def conflicts(self, keys: Sequence[ItemKey], owner: Hashable | None = None) -> list[int]:
        """Indexes of ``keys`` held now by another owner than ``owner``."""
        with self._lock:
            return self._conflicts(keys, owner)

    def is_held(self, key: ItemKey) -> bool:
        """Whether a transaction holds ``key`` now."""
        return bool(self.conflicts([key]))

    def try_hold(
        self, keys: Sequence[ItemKey], until: float = math.inf, owner: Hashable = None
    ) -> list[int]:
        """Hold every key until ``until`` for ``owner``, or none of them.

        Returns the indexes of the keys another owner holds (empty when the hold was taken),
        which is where a cancelled transaction reports ``TransactionConflict``.
        """
        with self._lock:
            conflicting = self._conflicts(keys, owner)
            if not conflicting:
                for key in keys:
                    self._holds[key] = (owner, until)
            return conflicting

    def release(self, keys: Sequence[ItemKey], owner: Hashable = None) -> None:
        """Drop the holds ``owner`` has on ``keys`` (another owner's holds stay)."""
        with self._lock:
            for key in keys:
                held = self._holds.get(key)
                if held is not None and held[0] == owner:
                    del self._holds[key]

    def held_count(self) -> int:
        """How many items are held now."""
        with self._lock:
            now = self._clock()
            return sum(1 for _, until in self._holds.values() if until > now)

    def _conflicts(self, keys: Sequence[ItemKey], owner: Hashable | None) -> list[int]:
        now = self._clock()
        conflicting = []
        for index, key in enumerate(keys):
            held = self._holds.get(key)
            if held is None:
                continue
            if held[1] <= now:  # expired: a virtual clock moved past it
                del self._holds[key]
            elif held[0] != owner:
                conflicting.append(index)
        return conflicting


class TokenOutcome(Enum):
    """What a TransactWriteItems carrying a ClientRequestToken must do."""

    NEW = "new"  # apply it
    REPLAY = "replay"  # already applied in the window: answer success, change nothing
    IN_PROGRESS = "in_progress"  # the first call is still committing
    MISMATCH = "mismatch"  # same token, different request


@dataclass
class _TokenState:
    fingerprint: str
    completed_at: float | None = None  # None while the first call is committing


class TokenRegistry:
    """ClientRequestToken idempotency of TransactWriteItems.

    A token is remembered from the first call until ``window_seconds`` after it completed;
    a call that failed forgets its token, so that retrying it applies it (nothing was done).
    """

    def __init__(self, clock: Clock, window_seconds: float = TOKEN_WINDOW_SECONDS) -> None:
        self._clock = clock
        self._window = window_seconds
        self._lock = threading.Lock()
        self._tokens: dict[str, _TokenState] = {}

    def begin(self, token: str, fingerprint: str) -> TokenOutcome:
        """Classify a call; a ``NEW`` one is recorded as committing until it ends."""
        with self._lock:
            now = self._clock()
            state = self._tokens.get(token)
            completed = None if state is None else state.completed_at
            if completed is not None and now - completed >= self._window:
                state = None  # expired: "treated as a new request"
            if state is None:
                self._tokens[token] = _TokenState(fingerprint)
                return TokenOutcome.NEW
            if state.fingerprint != fingerprint:
                return TokenOutcome.MISMATCH
            if state.completed_at is None:
                return TokenOutcome.IN_PROGRESS
            return TokenOutcome.REPLAY

    def complete(self, token: str) -> None:
        """The call that began ``token`` succeeded: its window starts now."""
        with self._lock:
            state = self._tokens.get(token)
            if state is not None:
                state.completed_at = self._clock()

    def abandon(self, token: str) -> None:
        """The call that began ``token`` failed: forget it."""
        with self._lock:
            state = self._tokens.get(token)
            if state is not None and state.completed_at is None:
                del self._tokens[token]

    def clear(self) -> None:
        """Forget every token."""
        with self._lock:
            self._tokens.clear()


class ItemLocks:
    """One lock an item, so that reading an item, writing it and checking the result (and
    restoring it if DynamoDB would have refused the write) is atomic for that item only."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[ItemKey, threading.Lock] = {}
        self._users: dict[ItemKey, int] = defaultdict(int)

    @contextmanager
    def hold(self, keys: Sequence[ItemKey]) -> Iterator[None]:
        """Lock every key, in sorted order so that two multi-item holders never deadlock."""
        ordered = sorted(set(keys))
        with self._guard:
            locks = []
            for key in ordered:
                self._users[key] += 1
                locks.append(self._locks.setdefault(key, threading.Lock()))
        acquired: list[threading.Lock] = []
        try:
            for lock in locks:
                lock.acquire()
                acquired.append(lock)
            yield
        finally:
            for lock in reversed(acquired):
                lock.release()
            with self._guard:
                for key in ordered:
                    self._users[key] -= 1
                    if not self._users[key]:  # keep the map as small as the in-flight set
                        del self._users[key]
                        del self._locks[key]


class PartitionThroughput:
    """Optional write throughput limit per partition key value (WCU per second).

    A token bucket a partition holding one second of capacity: a write is admitted while
    the balance is positive, then debited what it consumed (so a large write can overdraw,
    as DynamoDB's burst capacity lets it). Off when ``units_per_second`` is None.
    """

    def __init__(self, clock: Clock, units_per_second: float | None = None) -> None:
        self._clock = clock
        self.units_per_second = units_per_second
        self._lock = threading.Lock()
        self._buckets: dict[tuple[str, str], tuple[float, float]] = {}

    def admit(self, partition: tuple[str, str]) -> bool:
        """Whether a write to ``partition`` (table, partition key) may proceed now."""
        if self.units_per_second is None:
            return True
        with self._lock:
            return self._refill(partition) > 0

    def consume(self, partition: tuple[str, str], units: float) -> None:
        """Debit ``units`` written to ``partition``."""
        if self.units_per_second is None:
            return
        with self._lock:
            self._buckets[partition] = (self._refill(partition) - units, self._clock())

    def reset(self) -> None:
        """Refill every partition."""
        with self._lock:
            self._buckets.clear()

    def _refill(self, partition: tuple[str, str]) -> float:
        rate = self.units_per_second or 0.0
        now = self._clock()
        balance, stamp = self._buckets.get(partition, (rate, now))
        balance = min(rate, balance + (now - stamp) * rate)
        self._buckets[partition] = (balance, now)
        return balance


@dataclass
class Units:
    """Consumed capacity: read and write units."""

    read: float = 0.0
    write: float = 0.0

    def add(self, read: float = 0.0, write: float = 0.0) -> None:
        """Accumulate."""
        self.read += read
        self.write += write

    def to_json(self) -> dict[str, float]:
        """``{"read": ..., "write": ...}``."""
        return {"read": self.read, "write": self.write}


@dataclass
class CapacityLedger:
    """Units consumed per operation, per table and per item, since the last reset."""

    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    total: Units = field(default_factory=Units)
    operations: dict[str, Units] = field(default_factory=lambda: defaultdict(Units))
    tables: dict[str, Units] = field(default_factory=lambda: defaultdict(Units))
    items: dict[ItemKey, Units] = field(default_factory=lambda: defaultdict(Units))

    def record(
        self,
        operation: str,
        table: str,
        key: str | None = None,
        *,
        read: float = 0.0,
        write: float = 0.0,
    ) -> None:
        """Add what one request consumed on one table (and one item, when known)."""
        with self._lock:
            self.total.add(read, write)
            self.operations[operation].add(read, write)
            self.tables[table].add(read, write)
            if key is not None:
                self.items[(table, key)].add(read, write)

    def snapshot(self) -> dict[str, Any]:
        """A JSON-ready copy: ``total``, ``operations``, ``tables``, ``items`` (``table|key``)."""
        with self._lock:
            return {
                "total": self.total.to_json(),
                "operations": {name: units.to_json() for name, units in self.operations.items()},
                "tables": {name: units.to_json() for name, units in self.tables.items()},
                "items": {f"{t}|{k}": units.to_json() for (t, k), units in self.items.items()},
            }

    def reset(self) -> None:
        """Start counting from zero."""
        with self._lock:
            self.total = Units()
            self.operations.clear()
            self.tables.clear()
            self.items.clear()
