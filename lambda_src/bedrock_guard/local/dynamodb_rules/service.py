"""DynamoDB operations with the real service's rules, applied around an upstream (moto).

:class:`RulesService` takes a DynamoDB JSON request, applies faults, transaction holds,
idempotency tokens, the 400 KB limit and capacity accounting, and forwards what DynamoDB
would accept to the upstream. Operations it has no rule for are forwarded untouched (faults
still apply to them). It knows nothing of HTTP servers: :mod:`.proxy` serves it.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

from bedrock_guard.local.dynamodb_rules.engine import (
    CapacityLedger,
    Clock,
    HoldTable,
    ItemKey,
    ItemLocks,
    PartitionThroughput,
    TokenOutcome,
    TokenRegistry,
)
from bedrock_guard.local.dynamodb_rules.faults import FaultInjector, FaultRule
from bedrock_guard.local.dynamodb_rules.item_size import (
    MAX_ITEM_BYTES,
    Consistency,
    item_size,
    read_units,
    write_capacity,
)
from bedrock_guard.local.dynamodb_rules.wire import (
    ITEM_TOO_LARGE,
    TARGET_PREFIX,
    TRANSACTION_CONFLICT,
    UPDATE_TOO_LARGE,
    DynamoDBError,
    Reply,
    cancellation_reasons,
    canonical_key,
    key_from_item,
    scalar_texts,
    transaction_canceled,
    transaction_conflict,
    validation_error,
)

DEFAULT_COMMIT_HOLD_SECONDS: Final = 0.01
_STANDARD_WRITES: Final = ("PutItem", "UpdateItem", "DeleteItem")
_TRANSACT_ACTIONS: Final = ("Put", "Update", "Delete", "ConditionCheck")
# Request headers an internal call reuses, so moto files it under the caller's account/region.
_AUTH_HEADERS: Final = ("authorization", "x-amz-date", "x-amz-security-token")
_THROTTLE_MESSAGES: Final = {
    "ProvisionedThroughputExceededException": (
        "The level of configured provisioned throughput for the table was exceeded. "
        "Consider increasing your provisioning level with the UpdateTable API."
    ),
    "ThrottlingException": "Throughput exceeds the current capacity of your table or index.",
}


class Upstream(Protocol):
    """Where requests DynamoDB would accept go: moto's DynamoDB JSON endpoint."""

    def send(self, target: str, body: bytes, headers: Mapping[str, str]) -> Reply:
        """POST one DynamoDB JSON request (``target`` is the X-Amz-Target) and answer."""
        ...


@dataclass
class _Call:
    """One incoming request: its operation, raw and parsed body, and headers."""

    operation: str
    raw: bytes
    body: dict[str, Any]
    headers: dict[str, str]

    @property
    def scope(self) -> str:
        """The caller's credential scope (access key and region): one moto backend."""
        authorization = self.headers.get("authorization", "")
        credential = authorization.partition("Credential=")[2].split(",")[0]
        access_key, _, rest = credential.partition("/")
        region = rest.split("/")[1] if rest.count("/") >= 1 else ""
        return f"{access_key}/{region}"

    @property
    def wants_capacity(self) -> bool:
        return self.body.get("ReturnConsumedCapacity") in {"TOTAL", "INDEXES"}


@dataclass
class _Action:
    """One item a write request touches."""

    kind: str  # Put, Update, Delete, ConditionCheck (PutItem -> Put, ...)
    table: str
    key: dict[str, Any]
    ref: ItemKey
    item: Mapping[str, Any] | None = None  # what a Put writes


class RulesService:
    """DynamoDB's rules around an upstream; thread-safe (one instance serves every thread).

    ``commit_hold_seconds`` is how long a TransactWriteItems holds its items while it
    commits; ``partition_wcu_per_second`` turns on the per-partition write throughput limit.
    ``clock`` and ``sleep`` are injectable for tests.
    """

    def __init__(
        self,
        upstream: Upstream,
        *,
        commit_hold_seconds: float = DEFAULT_COMMIT_HOLD_SECONDS,
        partition_wcu_per_second: float | None = None,
        fault_seed: int = 0,
        clock: Clock = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if commit_hold_seconds < 0:
            raise ValueError("commit_hold_seconds must not be negative")
        self.upstream = upstream
        self.commit_hold_seconds = commit_hold_seconds
        self.clock = clock
        self._sleep = sleep
        self.holds = HoldTable(clock)
        self.tokens = TokenRegistry(clock)
        self.locks = ItemLocks()
        self.throughput = PartitionThroughput(clock, partition_wcu_per_second)
        self.ledger = CapacityLedger()
        self.faults = FaultInjector(fault_seed)
        self._schemas: dict[tuple[str, str], list[str]] = {}
        self._schemas_lock = threading.Lock()
        self._handlers: dict[str, Callable[[_Call], Reply]] = {
            "PutItem": self._standard_write,
            "UpdateItem": self._standard_write,
            "DeleteItem": self._standard_write,
            "BatchWriteItem": self._batch_write,
            "TransactWriteItems": self._transact_write,
            "TransactGetItems": self._transact_get,
            "GetItem": self._get_item,
            "Query": self._query_or_scan,
            "Scan": self._query_or_scan,
            "BatchGetItem": self._batch_get,
        }

    # ----------------------------------------------------------------- entry point

    def handle(self, operation: str, raw: bytes, headers: Mapping[str, str]) -> Reply:
        """Answer one DynamoDB request as DynamoDB would."""
        lowered = {name.lower(): value for name, value in headers.items()}
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return self._forward_raw(operation, raw, lowered)  # moto words the parse error
        call = _Call(operation, raw, body, lowered)
        if operation in {"CreateTable", "DeleteTable"}:
            with self._schemas_lock:  # a table may come back with another key schema
                self._schemas.clear()
        try:
            handler = self._handlers.get(operation, self._pass_through)
            return handler(call)
        except DynamoDBError as error:
            return error.reply()

    def reset(self) -> None:
        """Forget capacity, faults, tokens, partition balances and cached key schemas."""
        self.ledger.reset()
        self.faults.clear()
        self.tokens.clear()
        self.throughput.reset()
        with self._schemas_lock:
            self._schemas.clear()

    # ------------------------------------------------------------------ operations

    def _pass_through(self, call: _Call) -> Reply:
        table = call.body.get("TableName")
        keys = scalar_texts(call.body.get("Key") or {})
        fault = self._fault_before(call, [table] if isinstance(table, str) else [], keys)
        reply = self._forward(call)
        return self._after(fault, reply)

    def _standard_write(self, call: _Call) -> Reply:
        actions = self._actions(call)
        if actions is None:
            return self._forward(call)
        (action,) = actions
        fault = self._fault_before(call, [action.table], scalar_texts(action.key))
        if self.holds.is_held(action.ref):
            raise transaction_conflict()
        if action.item is not None and item_size(action.item) > MAX_ITEM_BYTES:
            raise validation_error(ITEM_TOO_LARGE)
        self._admit([action])
        with self.locks.hold([action.ref]):
            if self.holds.is_held(action.ref):  # a transaction took it while we waited
                raise transaction_conflict()
            before = self._read_item(call, action)
            reply = self._forward(call)
            if reply.ok:
                after = self._after_image(call, action, before)
                if action.kind == "Update" and item_size(after) > MAX_ITEM_BYTES:
                    self._restore(call, [action], [before])
                    raise validation_error(UPDATE_TOO_LARGE)
                units = write_capacity(before, after)
            elif reply.error_code == "ConditionalCheckFailedException":
                units = write_capacity(before, None)
            else:
                return self._after(fault, reply)
        self._bill_writes(call.operation, [action], [units])
        if reply.ok and call.wants_capacity:
            reply = reply.with_document(
                {**reply.document(), "ConsumedCapacity": _consumed(call, action.table, w=units)}
            )
        return self._after(fault, reply)

    def _batch_write(self, call: _Call) -> Reply:
        actions = self._actions(call)
        if actions is None:
            return self._forward(call)
        keys = [text for action in actions for text in scalar_texts(action.key)]
        fault = self._fault_before(call, {a.table for a in actions}, keys)
        refs = [action.ref for action in actions]
        if self.holds.conflicts(refs):
            raise transaction_conflict()
        if any(item_size(a.item) > MAX_ITEM_BYTES for a in actions if a.item is not None):
            raise validation_error(ITEM_TOO_LARGE)
        self._admit(actions)
        with self.locks.hold(refs):
            if self.holds.conflicts(refs):
                raise transaction_conflict()
            befores = [self._read_item(call, action) for action in actions]
            reply = self._forward(call)
            if not reply.ok:
                return self._after(fault, reply)
        units = [write_capacity(b, a.item) for a, b in zip(actions, befores, strict=True)]
        self._bill_writes(call.operation, actions, units)
        if call.wants_capacity:
            consumed = _per_table(call, actions, units, "WriteCapacityUnits")
            reply = reply.with_document({**reply.document(), "ConsumedCapacity": consumed})
        return self._after(fault, reply)

    def _transact_write(self, call: _Call) -> Reply:
        actions = self._actions(call)
        if actions is None:
            return self._forward(call)
        keys = [text for action in actions for text in scalar_texts(action.key)]
        fault = self._fault_before(call, {a.table for a in actions}, keys)
        token = call.body.get("ClientRequestToken")
        if isinstance(token, str) and token:
            outcome = self.tokens.begin(token, _fingerprint(call.body))
            if outcome is TokenOutcome.REPLAY:
                return self._replay(call, actions)
            if outcome is TokenOutcome.IN_PROGRESS:
                raise DynamoDBError(
                    "TransactionInProgressException",
                    "The transaction with the given request token is already in progress.",
                )
            if outcome is TokenOutcome.MISMATCH:
                raise DynamoDBError(
                    "IdempotentParameterMismatchException",
                    "The request uses the same client token as a previous, but non-identical "
                    "request.",
                )
        else:
            token = None
        committed = False
        try:
            reply = self._commit(call, actions)
            committed = reply.ok
        finally:
            if token is not None:
                if committed:
                    self.tokens.complete(token)
                else:
                    self.tokens.abandon(token)
        return self._after(fault, reply)

    def _commit(self, call: _Call, actions: list[_Action]) -> Reply:
        too_large = {
            index: ("ValidationError", ITEM_TOO_LARGE)
            for index, action in enumerate(actions)
            if action.item is not None and item_size(action.item) > MAX_ITEM_BYTES
        }
        if too_large:
            raise transaction_canceled(cancellation_reasons(len(actions), too_large))
        refs = [action.ref for action in actions]
        if not all(self.throughput.admit(_partition(a)) for a in actions):
            message = _THROTTLE_MESSAGES["ThrottlingException"]
            throttled = dict.fromkeys(range(len(actions)), ("ThrottlingError", message))
            raise transaction_canceled(cancellation_reasons(len(actions), throttled))
        owner = object()
        conflicting = self.holds.try_hold(refs, owner=owner)
        if conflicting:
            failed = dict.fromkeys(conflicting, ("TransactionConflict", TRANSACTION_CONFLICT))
            raise transaction_canceled(cancellation_reasons(len(actions), failed))
        try:
            # Committing takes time: the items stay held (and their old values visible).
            if self.commit_hold_seconds:
                self._sleep(self.commit_hold_seconds)
            with self.locks.hold(refs):
                befores = [self._read_item(call, action) for action in actions]
                reply = self._forward(call)
                if reply.ok:
                    afters = [
                        self._after_image(call, a, b) for a, b in zip(actions, befores, strict=True)
                    ]
                    grown = {
                        index: ("ValidationError", UPDATE_TOO_LARGE)
                        for index, (action, after) in enumerate(zip(actions, afters, strict=True))
                        if action.kind == "Update" and item_size(after) > MAX_ITEM_BYTES
                    }
                    if grown:
                        self._restore(call, actions, befores)
                        raise transaction_canceled(cancellation_reasons(len(actions), grown))
                    units = [
                        write_capacity(b, a, transactional=True)
                        for b, a in zip(befores, afters, strict=True)
                    ]
                elif reply.error_code == "TransactionCanceledException":
                    # Cancelled by a failed condition: billed like a failed conditional write.
                    units = [write_capacity(b, None, transactional=True) for b in befores]
                else:
                    return reply
        finally:
            self.holds.release(refs, owner)
        self._bill_writes(call.operation, actions, units)
        if reply.ok and call.wants_capacity:
            consumed = _per_table(call, actions, units, "WriteCapacityUnits")
            reply = reply.with_document({**reply.document(), "ConsumedCapacity": consumed})
        return reply

    def _replay(self, call: _Call, actions: list[_Action]) -> Reply:
        """A repeated token: success without applying, billed as transactional reads."""
        units = [
            read_units(item_size(self._read_item(call, action)), "transactional")
            for action in actions
        ]
        for action, unit in zip(actions, units, strict=True):
            self.ledger.record(call.operation, action.table, action.ref[1], read=unit)
        document: dict[str, Any] = {}
        if call.wants_capacity:
            document["ConsumedCapacity"] = _per_table(call, actions, units, "ReadCapacityUnits")
        return Reply.from_document(200, document)

    def _transact_get(self, call: _Call) -> Reply:
        gets = []
        for entry in call.body.get("TransactItems") or []:
            spec = entry.get("Get") if isinstance(entry, dict) else None
            if not isinstance(spec, dict) or not isinstance(spec.get("Key"), dict):
                return self._forward(call)
            key = spec["Key"]
            table = str(spec.get("TableName"))
            gets.append(_Action("Get", table, key, (table, canonical_key(key))))
        keys = [text for get in gets for text in scalar_texts(get.key)]
        fault = self._fault_before(call, {get.table for get in gets}, keys)
        conflicting = self.holds.conflicts([get.ref for get in gets])
        if conflicting:
            failed = dict.fromkeys(conflicting, ("TransactionConflict", TRANSACTION_CONFLICT))
            raise transaction_canceled(cancellation_reasons(len(gets), failed))
        reply = self._forward(call)
        if reply.ok:
            responses = reply.document().get("Responses") or []
            units = [
                read_units(item_size(response.get("Item")), "transactional")
                for response in responses
            ]
            units += [read_units(0, "transactional")] * (len(gets) - len(units))
            for get, unit in zip(gets, units, strict=True):
                self.ledger.record(call.operation, get.table, get.ref[1], read=unit)
            if call.wants_capacity:
                consumed = _per_table(call, gets, units, "ReadCapacityUnits")
                reply = reply.with_document({**reply.document(), "ConsumedCapacity": consumed})
        return self._after(fault, reply)

    def _get_item(self, call: _Call) -> Reply:
        table = str(call.body.get("TableName"))
        key = call.body.get("Key") or {}
        fault = self._fault_before(call, [table], scalar_texts(key))
        reply = self._forward(call)
        if not reply.ok:
            return self._after(fault, reply)
        item = reply.document().get("Item")
        if item and (call.body.get("ProjectionExpression") or call.body.get("AttributesToGet")):
            # A projection does not make a read cheaper: size the whole item.
            action = _Action("Get", table, key, (table, canonical_key(key)))
            item = self._read_item(call, action)
        units = read_units(item_size(item), _consistency(call.body))
        self.ledger.record(call.operation, table, canonical_key(key), read=units)
        if call.wants_capacity:
            reply = reply.with_document(
                {**reply.document(), "ConsumedCapacity": _consumed(call, table, r=units)}
            )
        return self._after(fault, reply)

    def _query_or_scan(self, call: _Call) -> Reply:
        table = str(call.body.get("TableName"))
        fault = self._fault_before(call, [table], [])
        reply = self._forward(call)
        if not reply.ok:
            return self._after(fault, reply)
        # A page costs its items' sizes summed, then rounded up to 4 KB (approximate under a
        # projection: the items returned are sized, not the items read).
        items = reply.document().get("Items") or []
        units = read_units(sum(item_size(item) for item in items), _consistency(call.body))
        self.ledger.record(call.operation, table, read=units)
        if call.wants_capacity:
            reply = reply.with_document(
                {**reply.document(), "ConsumedCapacity": _consumed(call, table, r=units)}
            )
        return self._after(fault, reply)

    def _batch_get(self, call: _Call) -> Reply:
        requested = call.body.get("RequestItems") or {}
        fault = self._fault_before(call, list(requested), [])
        reply = self._forward(call)
        if not reply.ok:
            return self._after(fault, reply)
        totals: dict[str, float] = {}
        for table, items in (reply.document().get("Responses") or {}).items():
            consistency = _consistency(requested.get(table) or {})
            for item in items:
                units = read_units(item_size(item), consistency)
                totals[table] = totals.get(table, 0.0) + units
                self.ledger.record(call.operation, table, read=units)
        if call.wants_capacity:
            consumed = [_consumed(call, table, r=units) for table, units in sorted(totals.items())]
            reply = reply.with_document({**reply.document(), "ConsumedCapacity": consumed})
        return self._after(fault, reply)

    # ------------------------------------------------------------------- helpers

    def _actions(self, call: _Call) -> list[_Action] | None:
        """The items a write touches, or None when the request is malformed or the table
        unknown (moto then answers with its own validation error)."""
        body = call.body
        specs: list[tuple[str, Any]] = []
        if call.operation in _STANDARD_WRITES:
            specs = [(call.operation.removesuffix("Item"), body)]
        elif call.operation == "BatchWriteItem":
            for table, requests in (body.get("RequestItems") or {}).items():
                for request in requests if isinstance(requests, list) else []:
                    if not isinstance(request, dict):
                        return None
                    if "PutRequest" in request:
                        specs.append(("Put", {"TableName": table, **request["PutRequest"]}))
                    elif "DeleteRequest" in request:
                        specs.append(("Delete", {"TableName": table, **request["DeleteRequest"]}))
        else:
            for entry in body.get("TransactItems") or []:
                kinds = [kind for kind in _TRANSACT_ACTIONS if kind in entry]
                if len(kinds) != 1 or len(entry) != 1:
                    return None
                specs.append((kinds[0], entry[kinds[0]]))
        actions = []
        for kind, spec in specs:
            action = self._action(call, kind, spec)
            if action is None:
                return None
            actions.append(action)
        return actions or None

    def _action(self, call: _Call, kind: str, spec: Any) -> _Action | None:
        if not isinstance(spec, dict) or not isinstance(spec.get("TableName"), str):
            return None
        table = spec["TableName"]
        item = spec.get("Item") if kind == "Put" else None
        if kind == "Put":
            if not isinstance(item, dict):
                return None
            key_names = self._key_names(call, table)
            key = key_from_item(item, key_names) if key_names else None
        else:
            key = spec.get("Key")
        if not isinstance(key, dict) or not key:
            return None
        return _Action(kind, table, key, (table, canonical_key(key)), item)

    def _key_names(self, call: _Call, table: str) -> list[str] | None:
        """The table's key attribute names, hash first (cached; None if it does not exist)."""
        cache_key = (call.scope, table)
        with self._schemas_lock:
            if cache_key in self._schemas:
                return self._schemas[cache_key]
        reply = self._internal(call, "DescribeTable", {"TableName": table})
        if not reply.ok:
            return None
        schema = reply.document()["Table"]["KeySchema"]
        names = [e["AttributeName"] for e in sorted(schema, key=lambda e: e["KeyType"] != "HASH")]
        with self._schemas_lock:
            self._schemas[cache_key] = names
        return names

    def _read_item(self, call: _Call, action: _Action) -> dict[str, Any] | None:
        """The item as stored now (strongly consistent), None when absent.

        A refused read (no such table, a malformed key) also gives None: the request itself
        is refused the same way when forwarded, and the caller gets moto's words for it.
        """
        reply = self._internal(
            call, "GetItem", {"TableName": action.table, "Key": action.key, "ConsistentRead": True}
        )
        if reply.status >= 500:
            raise DynamoDBError("InternalServerError", "reading the item failed", 500)
        if not reply.ok:
            return None
        item = reply.document().get("Item")
        return item if isinstance(item, dict) and item else None

    def _after_image(
        self, call: _Call, action: _Action, before: dict[str, Any] | None
    ) -> Mapping[str, Any] | None:
        if action.kind == "Put":
            return action.item
        if action.kind == "Delete":
            return None
        if action.kind == "ConditionCheck":
            return before
        return self._read_item(call, action)

    def _restore(
        self, call: _Call, actions: Sequence[_Action], befores: Sequence[dict[str, Any] | None]
    ) -> None:
        """Put back the items a write changed (DynamoDB would not have applied it)."""
        for action, before in zip(actions, befores, strict=True):
            if action.kind == "ConditionCheck":
                continue
            if before is None:
                body: dict[str, Any] = {"TableName": action.table, "Key": action.key}
                self._internal(call, "DeleteItem", body)
            else:
                self._internal(call, "PutItem", {"TableName": action.table, "Item": before})

    def _admit(self, actions: Sequence[_Action]) -> None:
        if not all(self.throughput.admit(_partition(action)) for action in actions):
            code = "ProvisionedThroughputExceededException"
            raise DynamoDBError(code, _THROTTLE_MESSAGES[code])

    def _bill_writes(
        self, operation: str, actions: Sequence[_Action], units: Sequence[float]
    ) -> None:
        for action, unit in zip(actions, units, strict=True):
            self.ledger.record(operation, action.table, action.ref[1], write=unit)
            self.throughput.consume(_partition(action), unit)

    def _fault_before(
        self, call: _Call, tables: Sequence[str] | set[str], keys: Sequence[str]
    ) -> FaultRule | None:
        """Answer with the fault that fires before anything is applied, if one does; return
        a ``lost_answer`` fault for :meth:`_after` to apply once the request has been."""
        fault = self.faults.take(call.operation, tables, keys)
        if fault is None or fault.kind == "lost_answer":
            return fault
        if fault.kind == "throttle":
            raise DynamoDBError(fault.code, _THROTTLE_MESSAGES[fault.code])
        if fault.kind == "transaction_in_progress":
            raise DynamoDBError(
                "TransactionInProgressException",
                "The transaction with the given request token is already in progress.",
            )
        raise DynamoDBError("InternalServerError", "Internal server error", 500)

    @staticmethod
    def _after(fault: FaultRule | None, reply: Reply) -> Reply:
        if fault is None or fault.kind != "lost_answer":
            return reply
        if fault.mode == "close":
            return Reply(0, close=True)
        return DynamoDBError("InternalServerError", "Internal server error", 500).reply()

    def _forward(self, call: _Call) -> Reply:
        return self._forward_raw(call.operation, call.raw, call.headers)

    def _forward_raw(self, operation: str, raw: bytes, headers: Mapping[str, str]) -> Reply:
        return self.upstream.send(TARGET_PREFIX + operation, raw, headers)

    def _internal(self, call: _Call, operation: str, body: Mapping[str, Any]) -> Reply:
        """A request of the rules' own, under the caller's credentials (same moto backend)."""
        headers: dict[str, str] = {
            name: call.headers[name] for name in _AUTH_HEADERS if name in call.headers
        }
        payload = json.dumps(body).encode("utf-8")
        return self.upstream.send(TARGET_PREFIX + operation, payload, headers)


def _fingerprint(body: Mapping[str, Any]) -> str:
    """What identifies a TransactWriteItems request apart from its token.

    Asking for the consumed capacity changes the answer, not the request: a retry may ask
    for it (and then learns the read units the replay cost).
    """
    ignored = {"ClientRequestToken", "ReturnConsumedCapacity"}
    rest = {name: value for name, value in body.items() if name not in ignored}
    return hashlib.sha256(json.dumps(rest, sort_keys=True).encode("utf-8")).hexdigest()


def _partition(action: _Action) -> tuple[str, str]:
    """(table, partition key value): the unit of the per-partition throughput limit."""
    first = next(iter(action.key.values()))
    return action.table, canonical_key(first if isinstance(first, dict) else {})


def _consistency(body: Mapping[str, Any]) -> Consistency:
    return "strong" if body.get("ConsistentRead") else "eventual"


def _consumed(call: _Call, table: str, *, r: float = 0.0, w: float = 0.0) -> dict[str, Any]:
    """One ``ConsumedCapacity`` entry, as ``ReturnConsumedCapacity`` asks for it."""
    entry: dict[str, Any] = {"TableName": table, "CapacityUnits": r + w}
    if r:
        entry["ReadCapacityUnits"] = r
    if w:
        entry["WriteCapacityUnits"] = w
    if call.body.get("ReturnConsumedCapacity") == "INDEXES":
        entry["Table"] = {key: value for key, value in entry.items() if key != "TableName"}
    return entry


def _per_table(
    call: _Call, actions: Sequence[_Action], units: Sequence[float], kind: str
) -> list[dict[str, Any]]:
    totals: dict[str, float] = {}
    for action, unit in zip(actions, units, strict=True):
        totals[action.table] = totals.get(action.table, 0.0) + unit
    if kind == "ReadCapacityUnits":
        return [_consumed(call, table, r=total) for table, total in sorted(totals.items())]
    return [_consumed(call, table, w=total) for table, total in sorted(totals.items())]
