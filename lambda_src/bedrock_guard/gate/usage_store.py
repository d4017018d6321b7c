"""DynamoDB side of the token gate: registry reads (cached), reservation, settlement, release.

An allowed request costs two round trips in a warm container: one ``TransactWriteItems`` that
reserves the worst case (and checks registry and lock in the same atomic step), and one
``UpdateItem`` that settles it. The registry cache is therefore safe: every reservation proves
that the cached profile is still the stored one, or fails and returns the stored one.

Each reservation also writes a marker attribute ``rsv_<id>`` (its tokens, USD, day and time)
into the month item; settle and release remove it under the condition that it still exists.
That makes both idempotent (a retried settle can never subtract twice) and leaves a visible
trace of reservations whose Lambda died before settling.
"""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import BotoCoreError, ClientError

from bedrock_guard.core import keys
from bedrock_guard.core.accounting import WINDOWS, Amount, Charge, Counters, Period, Window
from bedrock_guard.core.aws_errors import error_code

AttributeValue = dict[str, Any]
Item = dict[str, AttributeValue]

REGISTRY_CACHE_SIZE: Final = 1024
MARKER_PREFIX: Final = "rsv_"
# Order of the actions in the reservation transaction (CancellationReasons follow it).
_REGISTRY, _LOCK, _USAGE = 0, 1, 2

_THROTTLE_CODES: Final = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "LimitExceededException",
        "InternalServerError",
        "ServiceUnavailable",
    }
)
_THROTTLE_REASONS: Final = frozenset(
    {"ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded"}
)
# Every window's counter gets ``:tokens`` or ``:usd`` (names from :func:`_window_names`).
_ADD_WINDOWS: Final = ", ".join(
    f"#w{i} {':usd' if w.is_usd else ':tokens'}" for i, w in enumerate(WINDOWS)
)
_deserializer = TypeDeserializer()


class StoreError(Exception):
    """DynamoDB failed for a reason other than a condition. ``transient`` errors answer 503.

    ``unconfirmed`` is a reservation whose transaction may have committed although its answer
    was lost; releasing it is safe either way (release is conditional on its marker).
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
    """Least-recently-used profiles of this container, bounded so that many callers (or API
    keys) cannot grow it without limit."""

    def __init__(self, size: int = REGISTRY_CACHE_SIZE) -> None:
        self._size = size
        self._entries: OrderedDict[str, Profile] = OrderedDict()

    def get(self, principal: str) -> Profile | None:
        profile = self._entries.get(principal)
        if profile is not None:
            self._entries.move_to_end(principal)
        return profile

    def put(self, profile: Profile) -> None:
        self._entries[profile.principal] = profile
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
    charge: Charge
    marker: str


@dataclass(frozen=True, slots=True)
class Reserved:
    reservation: Reservation


@dataclass(frozen=True, slots=True)
class Locked:
    holders: frozenset[str]


@dataclass(frozen=True, slots=True)
class RegistryChanged:
    profile: Profile


@dataclass(frozen=True, slots=True)
class OverBudget:
    used: Counters


@dataclass(frozen=True, slots=True)
class Conflict:
    reasons: tuple[str, ...]


ReserveOutcome = Reserved | Locked | RegistryChanged | OverBudget | Conflict


def _n(value: Amount) -> AttributeValue:
    # Plain notation without trailing zeros: exact, and what DynamoDB itself stores.
    if isinstance(value, int):
        return {"N": str(value)}
    return {"N": format(value.normalize(), "f")}


def _numbers(attributes: Item) -> dict[str, Decimal]:
    return {
        name: Decimal(value["N"])
        for name, value in attributes.items()
        if isinstance(value, dict) and "N" in value
    }


class UsageStore:
    """The gate's reads and writes of the shared table, through a low-level DynamoDB client."""

    def __init__(self, client: Any, table_name: str, cache: RegistryCache | None = None) -> None:
        self.client = client
        self.table_name = table_name
        self.cache = cache if cache is not None else RegistryCache()

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

    def remember(self, profile: Profile) -> None:
        self.cache.put(profile)

    def forget(self, principal: str) -> None:
        self.cache.drop(principal)

    # Reservation ----------------------------------------------------------------------------

    def reserve(
        self,
        profile: Profile,
        period: Period,
        charge: Charge,
        caps: Mapping[Window, Amount],
        *,
        now: float | None = None,
    ) -> ReserveOutcome:
        """Hold ``charge`` in every window of ``period`` in one transaction, which succeeds only
        if the registry item is still ``profile``, the caller is not locked, and every limited
        window has used at most its cap (``limit - charge``)."""
        token = uuid.uuid4().hex
        reservation = Reservation(profile.principal, period, charge, f"{MARKER_PREFIX}{token}")
        items = [
            {"ConditionCheck": self._registry_check(profile)},
            {"ConditionCheck": self._lock_check(profile.principal)},
            {"Update": self._usage_update(reservation, caps, now or time.time())},
        ]
        try:
            # The token makes botocore's own retries of this call idempotent.
            self.client.transact_write_items(TransactItems=items, ClientRequestToken=token)
        except ClientError as error:
            if error_code(error) != "TransactionCanceledException":
                failure = _store_error("TransactWriteItems", error)
                if failure.transient:  # a 5xx or throttle after retries: outcome unknown
                    failure.unconfirmed = reservation
                raise failure from error
            return self._cancelled(profile, period, error)
        except BotoCoreError as error:
            raise StoreError(
                f"TransactWriteItems failed: {error}", transient=True, unconfirmed=reservation
            ) from error
        return Reserved(reservation)

    def _registry_check(self, profile: Profile) -> dict[str, Any]:
        names = {"#pk": keys.PK}
        values: Item = {}
        if not profile.registered:
            condition = "attribute_not_exists(#pk)"
        else:
            terms = ["attribute_exists(#pk)"]
            for index, name in enumerate(keys.PROFILE_ATTRIBUTES):
                names[f"#a{index}"] = name
                if name in profile.attributes:
                    values[f":a{index}"] = profile.attributes[name]
                    terms.append(f"#a{index} = :a{index}")
                else:
                    terms.append(f"attribute_not_exists(#a{index})")
            condition = " AND ".join(terms)
        check: dict[str, Any] = {
            "TableName": self.table_name,
            "Key": keys.attribute_values(keys.caller_key(profile.principal)),
            "ConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        if values:
            check["ExpressionAttributeValues"] = values
        return check

    def _lock_check(self, principal: str) -> dict[str, Any]:
        return {
            "TableName": self.table_name,
            "Key": keys.attribute_values(keys.lock_state_key(principal)),
            "ConditionExpression": "attribute_not_exists(#locked)",
            "ExpressionAttributeNames": {"#locked": keys.LOCKED_BY},
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }

    def _usage_update(
        self, reservation: Reservation, caps: Mapping[Window, Amount], now: float
    ) -> dict[str, Any]:
        period, charge = reservation.period, reservation.charge
        names = _window_names(period) | {"#exp": keys.TTL_ATTRIBUTE, "#rsv": reservation.marker}
        values: Item = {
            ":tokens": _n(charge.tokens),
            ":usd": _n(charge.usd),
            ":exp": _n(period.expires_at),
            ":rsv": _marker_value(charge, period, now),
        }
        update: dict[str, Any] = {
            "TableName": self.table_name,
            "Key": keys.attribute_values(keys.usage_key(reservation.principal, period.month)),
            "UpdateExpression": f"ADD {_ADD_WINDOWS} SET #exp = :exp, #rsv = :rsv",
            "ExpressionAttributeNames": names,
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        terms = []
        for i, window in enumerate(WINDOWS):
            if window in caps:
                values[f":cap{i}"] = _n(caps[window])
                terms.append(f"(attribute_not_exists(#w{i}) OR #w{i} <= :cap{i})")
        if terms:
            update["ConditionExpression"] = " AND ".join(terms)
        update["ExpressionAttributeValues"] = values
        return update

    def _cancelled(self, profile: Profile, period: Period, error: ClientError) -> ReserveOutcome:
        reasons = error.response.get("CancellationReasons") or []
        codes = tuple(str(r.get("Code", "None")) for r in reasons)

        def failed(index: int) -> dict[str, Any] | None:
            if index < len(reasons) and reasons[index].get("Code") == "ConditionalCheckFailed":
                reason: dict[str, Any] = reasons[index]
                return reason
            return None

        if (lock := failed(_LOCK)) is not None:
            holders = lock.get("Item", {}).get(keys.LOCKED_BY, {}).get("SS", [])
            return Locked(frozenset(holders))
        if (registry := failed(_REGISTRY)) is not None:
            # The failed check returns the stored item: no extra read is needed.
            return RegistryChanged(profile_from_item(profile.principal, registry.get("Item")))
        if (usage := failed(_USAGE)) is not None:
            return OverBudget(Counters.from_numbers(_numbers(usage.get("Item", {})), period))
        if any(code in _THROTTLE_REASONS for code in codes):
            raise StoreError(f"reservation throttled: {codes}", transient=True)
        if any(code == "TransactionConflict" for code in codes):
            return Conflict(codes)
        raise StoreError(f"reservation cancelled: {codes}", transient=False)

    # Settlement -----------------------------------------------------------------------------

    def settle(self, reservation: Reservation, actual: Charge) -> Counters | None:
        """Replace the reservation by the actual charge; the new counters of its period, or
        ``None`` when it had already been settled or released."""
        return self._finish(reservation, actual.minus(reservation.charge))

    def release(self, reservation: Reservation) -> Counters | None:
        """Give the whole reservation back (nothing charged)."""
        return self._finish(reservation, reservation.charge.negated())

    def _finish(self, reservation: Reservation, delta: Charge) -> Counters | None:
        period = reservation.period
        try:
            response = self.client.update_item(
                TableName=self.table_name,
                Key=keys.attribute_values(keys.usage_key(reservation.principal, period.month)),
                UpdateExpression=f"ADD {_ADD_WINDOWS} REMOVE #rsv",
                ConditionExpression="attribute_exists(#rsv)",
                ExpressionAttributeNames=_window_names(period) | {"#rsv": reservation.marker},
                ExpressionAttributeValues={":tokens": _n(delta.tokens), ":usd": _n(delta.usd)},
                ReturnValues="UPDATED_NEW",
            )
        except ClientError as error:
            if error_code(error) == "ConditionalCheckFailedException":
                return None
            raise _store_error("UpdateItem", error) from error
        except BotoCoreError as error:
            raise StoreError(f"UpdateItem failed: {error}", transient=True) from error
        return Counters.from_numbers(_numbers(response.get("Attributes", {})), period)

    # Plumbing -------------------------------------------------------------------------------

    def _call(self, operation: str, **params: Any) -> dict[str, Any]:
        try:
            response: dict[str, Any] = getattr(self.client, operation)(**params)
        except ClientError as error:
            raise _store_error(operation, error) from error
        except BotoCoreError as error:
            raise StoreError(f"{operation} failed: {error}", transient=True) from error
        return response


def _window_names(period: Period) -> dict[str, str]:
    """``#w<i>``: the counter attribute of window ``i`` of :data:`WINDOWS` in ``period``."""
    return {f"#w{i}": period.attribute(w) for i, w in enumerate(WINDOWS)}


def _marker_value(charge: Charge, period: Period, now: float) -> AttributeValue:
    return {
        "M": {
            "tokens": _n(charge.tokens),
            "usd": _n(charge.usd),
            "day": {"S": period.day},
            "at": _n(int(now)),
        }
    }


def _store_error(operation: str, error: ClientError) -> StoreError:
    code = error_code(error)
    return StoreError(f"{operation} failed: {code}", transient=code in _THROTTLE_CODES)


def deserialize(item: Item) -> dict[str, Any]:
    """A DynamoDB item as Python values (numbers as Decimal); for tests and tools."""
    return {name: _deserializer.deserialize(value) for name, value in item.items()}
