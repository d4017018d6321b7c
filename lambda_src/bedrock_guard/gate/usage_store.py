"""DynamoDB side of the token gate: registry reads (cached), reservation, settlement, release.

An allowed request costs two writes to one item, the caller's month item
(:mod:`bedrock_guard.core.usage_item`): one conditional ``UpdateItem`` adds the worst case to
every window and records a hold, one removes the hold and replaces the worst case by the actual
use. Neither is a transaction, so a caller's concurrent requests are serialised by DynamoDB
instead of cancelling each other, and the only writes that can meet a transaction on that
item are the ledger's rare lock changes (``TransactionConflictException``, retried here).

Every write is idempotent by its hold id: a reservation's condition requires the hold to be
absent (a retry after a lost answer finds it and knows the first attempt committed), and a
settle or release requires it present (a retry cannot subtract twice).

The registry is cached per container for at most ``registry_ttl`` seconds: a change of tier or
registration takes effect within that bound. A cached profile never refuses a caller on its
own: the gate reads the registry again before refusing.
"""

from __future__ import annotations

import contextlib
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

from boto3.dynamodb.types import TypeDeserializer

from bedrock_guard.core import keys
from bedrock_guard.core.accounting import (
    WINDOWS,
    Amount,
    Charge,
    Counters,
    Period,
    Window,
    period_of_day,
)
from bedrock_guard.core.dynamodb_calls import ConditionFailed, DynamoDBFailure, Retrying
from bedrock_guard.core.usage_item import (
    ADD_WINDOWS,
    HOLDS,
    LOGGED_TOKENS,
    MAX_HOLDS_IN_FLIGHT,
    Hold,
    expired_hold_key,
    holds_of,
    is_opened,
    locked_by,
    logged_charge,
    number,
    window_names,
)

AttributeValue = dict[str, Any]
Item = dict[str, AttributeValue]

REGISTRY_CACHE_SIZE: Final = 1024
REGISTRY_TTL_SECONDS: Final = 60.0
# Writes that meet a ledger transaction, throttles and lost answers are retried this often,
# with full-jitter backoff from 25 ms up to 1 s, and never started after WRITE_RETRY_SECONDS.
WRITE_ATTEMPTS: Final = 8
WRITE_RETRY_SECONDS: Final = 5.0
WRITE_BACKOFF_BASE_SECONDS: Final = 0.025
WRITE_BACKOFF_CAP_SECONDS: Final = 1.0
# Expired holds moved out of the month item by one request at most (the rest by the next).
SWEEP_BATCH: Final = 8

_deserializer = TypeDeserializer()


class StoreError(Exception):
    """DynamoDB failed for a reason other than a condition. ``transient`` errors answer 503.

    ``unconfirmed`` is a reservation whose write may have committed although its answer was
    lost; releasing it is safe either way (release is conditional on its hold).
    """

    def __init__(
        self, message: str, *, transient: bool, unconfirmed: Reservation | None = None
    ) -> None:
        super().__init__(message)
        self.transient = transient
        self.unconfirmed = unconfirmed


@dataclass(frozen=True, slots=True)
class Profile:
    """A caller's registry entry as last read; ``attributes`` holds the raw stored values."""

    principal: str
    registered: bool
    attributes: Mapping[str, AttributeValue]

    def text(self, name: str) -> str | None:
        """A registry attribute if it is a non-empty string, else ``None``."""
        value = self.attributes.get(name, {}).get("S")
        return value if isinstance(value, str) and value else None

    @property
    def tier(self) -> str | None:
        return self.text("tier")


def profile_from_item(principal: str, item: Item | None) -> Profile:
    """A profile from a registry item (``None`` or empty: an unregistered caller)."""
    if not item:
        return Profile(principal, registered=False, attributes={})
    attributes: dict[str, AttributeValue] = {
        name: item[name] for name in keys.PROFILE_ATTRIBUTES if name in item
    }
    return Profile(principal, registered=True, attributes=attributes)


class RegistryCache:
    """Least-recently-used profiles of this container, each trusted for ``ttl`` seconds and
    bounded in number so that many callers (or API keys) cannot grow it without limit."""

    def __init__(
        self,
        size: int = REGISTRY_CACHE_SIZE,
        ttl: float = REGISTRY_TTL_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._size = size
        self._ttl = ttl
        self._monotonic = monotonic
        self._entries: OrderedDict[str, tuple[Profile, float]] = OrderedDict()

    def get(self, principal: str) -> Profile | None:
        entry = self._entries.get(principal)
        if entry is None:
            return None
        profile, read_at = entry
        if self._monotonic() - read_at >= self._ttl:
            del self._entries[principal]
            return None
        self._entries.move_to_end(principal)
        return profile

    def put(self, profile: Profile) -> None:
        self._entries[profile.principal] = (profile, self._monotonic())
        self._entries.move_to_end(profile.principal)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)

    def drop(self, principal: str) -> None:
        self._entries.pop(principal, None)

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


@dataclass(frozen=True, slots=True)
class Reservation:
    """A worst case held in a caller's month item until settled or released."""

    principal: str
    period: Period
    hold: Hold

    @property
    def charge(self) -> Charge:
        return self.hold.charge


@dataclass(frozen=True, slots=True)
class Reserved:
    reservation: Reservation
    expired: tuple[Hold, ...] = ()


@dataclass(frozen=True, slots=True)
class Locked:
    holders: frozenset[str]


@dataclass(frozen=True, slots=True)
class OverBudget:
    used: Counters


@dataclass(frozen=True, slots=True)
class TooManyHolds:
    in_flight: int


ReserveOutcome = Reserved | Locked | OverBudget | TooManyHolds


def _numbers(attributes: Mapping[str, Any]) -> dict[str, Decimal]:
    return {
        name: Decimal(value["N"])
        for name, value in attributes.items()
        if isinstance(value, dict) and "N" in value
    }


class UsageStore:
    """The gate's reads and writes of the shared table, through a low-level DynamoDB client,
    retried as ``retrying`` says (replaceable in tests)."""

    def __init__(
        self,
        client: Any,
        table_name: str,
        cache: RegistryCache | None = None,
        *,
        retrying: Retrying | None = None,
    ) -> None:
        self.client = client
        self.table_name = table_name
        self.cache = cache if cache is not None else RegistryCache()
        self.retrying = retrying or Retrying(
            attempts=WRITE_ATTEMPTS,
            base_seconds=WRITE_BACKOFF_BASE_SECONDS,
            cap_seconds=WRITE_BACKOFF_CAP_SECONDS,
            window_seconds=WRITE_RETRY_SECONDS,
        )

    # Registry -------------------------------------------------------------------------------

    def profile(self, principal: str) -> tuple[Profile, bool]:
        """The caller's profile and whether it was just read (``False``: from the cache)."""
        cached = self.cache.get(principal)
        if cached is not None:
            return cached, False
        return self.refresh(principal), True

    def refresh(self, principal: str) -> Profile:
        """Read the registry item (strongly consistent) and cache it."""
        response = self._call(
            "get_item",
            TableName=self.table_name,
            Key=keys.attribute_values(keys.caller_key(principal)),
            ConsistentRead=True,
        )
        profile = profile_from_item(principal, response.get("Item"))
        self.cache.put(profile)
        return profile

    # Reservation ----------------------------------------------------------------------------

    def reserve(
        self,
        principal: str,
        period: Period,
        hold: Hold,
        caps: Mapping[Window, Amount],
        *,
        now: float,
    ) -> ReserveOutcome:
        """Hold ``hold.charge`` in every window of ``period`` with one conditional write, which
        succeeds only if the month is opened, the caller is not locked, fewer than
        :data:`MAX_HOLDS_IN_FLIGHT` holds are in flight and every limited window has used at
        most its cap (``limit - charge``). A month not yet opened is opened first, and a full
        set of holds is relieved of expired ones first."""
        reservation = Reservation(principal, period, hold)
        opened = swept = False
        while True:
            try:
                response = self._call("update_item", **self._reserve_params(reservation, caps))
            except ConditionFailed as failed:
                item = failed.item
                if hold.hold_id in _hold_ids(item):
                    return Reserved(reservation)  # an earlier attempt committed unseen
                if locked_by(item):
                    return Locked(locked_by(item))
                if not is_opened(item):
                    if opened:
                        raise StoreError(
                            "the month item did not stay open", transient=True
                        ) from None
                    opened = True
                    holders = self.open_month(principal, period)
                    if holders:
                        return Locked(holders)
                    continue
                holds = holds_of(item)
                expired = [h for h in holds if h.expires_at < now]
                if len(holds) >= MAX_HOLDS_IN_FLIGHT and expired and not swept:
                    swept = True
                    self.sweep(principal, period.month, expired, now=now)
                    continue
                return _refusal(item, period, holds)
            except StoreError as error:
                if error.transient:  # a lost answer: the write may have committed
                    error.unconfirmed = reservation
                raise
            expired_now = tuple(
                h
                for h in holds_of(response.get("Attributes", {}))
                if h.expires_at < now and h.hold_id != hold.hold_id
            )
            return Reserved(reservation, expired_now[:SWEEP_BATCH])

    def _reserve_params(
        self, reservation: Reservation, caps: Mapping[Window, Amount]
    ) -> dict[str, Any]:
        period, hold = reservation.period, reservation.hold
        names = window_names(period) | {
            "#holds": HOLDS,
            "#h": hold.hold_id,
            "#lb": keys.LOCKED_BY,
        }
        values: Item = {
            ":tokens": number(hold.charge.tokens),
            ":usd": number(hold.charge.usd),
            ":hold": hold.attribute_value(),
            ":most": number(MAX_HOLDS_IN_FLIGHT),
        }
        terms = [
            "attribute_exists(#holds)",
            "attribute_not_exists(#lb)",
            "attribute_not_exists(#holds.#h)",
            "size(#holds) < :most",
        ]
        for i, window in enumerate(WINDOWS):
            if window in caps:
                values[f":cap{i}"] = number(caps[window])
                terms.append(f"(attribute_not_exists(#w{i}) OR #w{i} <= :cap{i})")
        return {
            "TableName": self.table_name,
            "Key": keys.attribute_values(keys.usage_key(reservation.principal, period.month)),
            "UpdateExpression": f"ADD {ADD_WINDOWS} SET #holds.#h = :hold",
            "ConditionExpression": " AND ".join(terms),
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
            "ReturnValues": "ALL_NEW",
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }

    def open_month(self, principal: str, period: Period) -> frozenset[str]:
        """Open the caller's month item unless the caller is locked; the lock holders if so.

        The lock state is read first (strongly consistent); the write then refuses if a ledger
        transaction mirrored a lock into the item in between, so no order of the two loses it.
        """
        state = self._call(
            "get_item",
            TableName=self.table_name,
            Key=keys.attribute_values(keys.lock_state_key(principal)),
            ConsistentRead=True,
        )
        holders = locked_by(state.get("Item", {}))
        if holders:
            return holders
        try:
            self._call(
                "update_item",
                TableName=self.table_name,
                Key=keys.attribute_values(keys.usage_key(principal, period.month)),
                UpdateExpression=(
                    "SET #holds = if_not_exists(#holds, :empty), #exp = if_not_exists(#exp, :exp)"
                ),
                ConditionExpression="attribute_not_exists(#lb)",
                ExpressionAttributeNames={
                    "#holds": HOLDS,
                    "#exp": keys.TTL_ATTRIBUTE,
                    "#lb": keys.LOCKED_BY,
                },
                ExpressionAttributeValues={
                    ":empty": {"M": {}},
                    ":exp": number(period.expires_at),
                },
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ConditionFailed as failed:
            return locked_by(failed.item)
        return frozenset()

    # Settlement -----------------------------------------------------------------------------

    def settle(self, reservation: Reservation, actual: Charge) -> Counters | None:
        """Replace the reservation by the actual charge; the new counters of its period, or
        ``None`` when it had already been settled, released or expired."""
        return self._finish(reservation, actual.minus(reservation.charge))

    def release(self, reservation: Reservation) -> Counters | None:
        """Give the whole reservation back (nothing charged)."""
        return self._finish(reservation, reservation.charge.negated())

    def _finish(self, reservation: Reservation, delta: Charge) -> Counters | None:
        period = reservation.period
        try:
            response = self._call(
                "update_item",
                TableName=self.table_name,
                Key=keys.attribute_values(keys.usage_key(reservation.principal, period.month)),
                UpdateExpression=f"ADD {ADD_WINDOWS} REMOVE #holds.#h",
                ConditionExpression="attribute_exists(#holds.#h)",
                ExpressionAttributeNames=window_names(period)
                | {"#holds": HOLDS, "#h": reservation.hold.hold_id},
                ExpressionAttributeValues={
                    ":tokens": number(delta.tokens),
                    ":usd": number(delta.usd),
                },
                ReturnValues="UPDATED_NEW",
            )
        except ConditionFailed:
            return None
        return Counters.from_numbers(_numbers(response.get("Attributes", {})), period)

    # Expired holds --------------------------------------------------------------------------

    def sweep(self, principal: str, month: str, expired: Sequence[Hold], *, now: float) -> int:
        """Move expired holds out of the month item; the number moved.

        Each is listed as a ``HOLD#`` record with its worst case left charged, unless the usage
        meter already noted what Bedrock logged for it: then the removal replaces the worst
        case by that, exactly, and the note goes. Every step is conditional, so a crash between
        two, or two containers sweeping at once, lists nothing twice and loses nothing.
        """
        moved = 0
        for hold in expired[:SWEEP_BATCH]:
            key = keys.attribute_values(expired_hold_key(principal, month, hold.hold_id))
            record = key | {
                "tokens": number(hold.charge.tokens),
                "usd": number(hold.charge.usd),
                "day": {"S": hold.day},
                "request_id": {"S": hold.request_id},
                "hold_expired_at": number(hold.expires_at),
                "swept_at": number(int(now)),
            }
            try:
                self._call(
                    "put_item",
                    TableName=self.table_name,
                    Item=record,
                    ConditionExpression="attribute_not_exists(#pk)",
                    ExpressionAttributeNames={"#pk": keys.PK},
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
                logged = None
            except ConditionFailed as failed:
                # Listed by an earlier sweep, or noted by the meter with what Bedrock logged.
                logged = logged_charge(failed.item)
            if self._remove_expired(principal, month, hold, logged, now=now):
                moved += 1
                if logged is not None:
                    with contextlib.suppress(ConditionFailed):
                        self._call(
                            "delete_item",
                            TableName=self.table_name,
                            Key=key,
                            ConditionExpression="attribute_exists(#logged)",
                            ExpressionAttributeNames={"#logged": LOGGED_TOKENS},
                        )
        return moved

    def _remove_expired(
        self, principal: str, month: str, hold: Hold, logged: Charge | None, *, now: float
    ) -> bool:
        """Remove an expired hold from the month item, applying ``logged - worst`` to its day
        and month when Bedrock's figure is known; ``False`` if it was settled or moved."""
        names = {"#holds": HOLDS, "#h": hold.hold_id, "#x": "x"}
        values: Item = {":now": number(int(now))}
        expression = "REMOVE #holds.#h"
        if logged is not None:
            delta = logged.minus(hold.charge)
            names |= window_names(period_of_day(month, hold.day))
            values |= {":tokens": number(delta.tokens), ":usd": number(delta.usd)}
            expression = f"ADD {ADD_WINDOWS} {expression}"
        try:
            self._call(
                "update_item",
                TableName=self.table_name,
                Key=keys.attribute_values(keys.usage_key(principal, month)),
                UpdateExpression=expression,
                ConditionExpression="#holds.#h.#x < :now",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except ConditionFailed:
            return False  # settled or moved meanwhile
        return True

    # Plumbing -------------------------------------------------------------------------------

    def _call(self, operation: str, **params: Any) -> dict[str, Any]:
        """One idempotent client call with DynamoDB's retries (:mod:`core.dynamodb_calls`)."""
        try:
            return self.retrying.call(self.client, operation, **params)
        except DynamoDBFailure as failure:
            raise StoreError(str(failure), transient=failure.transient) from failure


def _refusal(item: Mapping[str, Any], period: Period, holds: Sequence[Hold]) -> ReserveOutcome:
    """Why a reservation's condition failed on an opened, unlocked month item."""
    if len(holds) >= MAX_HOLDS_IN_FLIGHT:
        return TooManyHolds(len(holds))
    return OverBudget(Counters.from_numbers(_numbers(item), period))


def _hold_ids(item: Mapping[str, Any]) -> frozenset[str]:
    stored = item.get(HOLDS, {}).get("M") if isinstance(item.get(HOLDS), Mapping) else None
    return frozenset(stored) if isinstance(stored, Mapping) else frozenset()


def deserialize(item: Item) -> dict[str, Any]:
    """A DynamoDB item as Python values (numbers as Decimal); for tests and tools."""
    return {name: _deserializer.deserialize(value) for name, value in item.items()}
