"""DynamoDB as it really behaves, in front of moto: for tests that must prove something.

moto stores what it is sent; DynamoDB refuses and bills. This subpackage applies DynamoDB's
rules to every DynamoDB call that reaches moto through an HTTP proxy:

- Transactions hold their items while they commit. Another TransactWriteItems touching a held
  item is cancelled (``TransactionCanceledException``, reason ``TransactionConflict`` at its
  index), a standard write to it fails with ``TransactionConflictException`` (which botocore
  does not retry), a TransactGetItems is cancelled; plain reads go through.
- ``ClientRequestToken`` makes TransactWriteItems idempotent for 10 minutes: a repeat succeeds
  without applying (billed as transactional reads), a repeat while the first is committing
  gets ``TransactionInProgressException``, a different request with the same token
  ``IdempotentParameterMismatchException``.
- The 400 KB item limit, by DynamoDB's measure, on PutItem, UpdateItem, BatchWriteItem and
  TransactWriteItems; a refused write changes nothing.
- Capacity units: item sizes as DynamoDB computes them, writes by the larger of the item
  before and after, failed conditional writes billed, transactions twice, reads by 4 KB with
  their consistency. Returned as ``ConsumedCapacity`` when asked, and kept in a ledger.
- Injected faults (throttles, lost answers, server errors) and an optional per-partition
  write throughput limit.

Sources, in the Amazon DynamoDB Developer Guide: "DynamoDB item sizes and formats",
"DynamoDB read and write operations", "Amazon DynamoDB Transactions: How it works"
(idempotency, transaction conflict handling, capacity management) and "Constraints in Amazon
DynamoDB"; in the Amazon DynamoDB API Reference: TransactWriteItems and
TransactionCanceledException.

Modules: :mod:`.item_size` (pure sizes and units), :mod:`.engine` (holds, tokens, locks,
throughput, ledger; injectable clock), :mod:`.faults`, :mod:`.wire` (protocol details),
:mod:`.service` (the rules per operation), :mod:`.proxy` (HTTP, :class:`DynamoDBRules`) and
:mod:`.stack` (moto and the proxy together: :func:`local_dynamodb`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from bedrock_guard.local.dynamodb_rules.engine import (
    CapacityLedger,
    HoldTable,
    PartitionThroughput,
    TokenOutcome,
    TokenRegistry,
)
from bedrock_guard.local.dynamodb_rules.faults import FaultInjector, FaultRule
from bedrock_guard.local.dynamodb_rules.item_size import (
    MAX_ITEM_BYTES,
    item_size,
    read_units,
    write_capacity,
    write_units,
)

if TYPE_CHECKING:
    from bedrock_guard.local.dynamodb_rules.proxy import DynamoDBRules, RulesControl
    from bedrock_guard.local.dynamodb_rules.service import RulesService
    from bedrock_guard.local.dynamodb_rules.stack import (
        LocalDynamoDB,
        local_dynamodb,
        moto_item_limit_relaxed,
    )

# The HTTP side pulls in boto3 and moto; loaded on first use, so that a benchmark driving the
# pure rules (engine, item sizes, faults) in virtual time imports none of them.
_LAZY = {
    "DynamoDBRules": "proxy",
    "RulesControl": "proxy",
    "RulesService": "service",
    "LocalDynamoDB": "stack",
    "local_dynamodb": "stack",
    "moto_item_limit_relaxed": "stack",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


__all__ = [
    "MAX_ITEM_BYTES",
    "CapacityLedger",
    "DynamoDBRules",
    "FaultInjector",
    "FaultRule",
    "HoldTable",
    "LocalDynamoDB",
    "PartitionThroughput",
    "RulesControl",
    "RulesService",
    "TokenOutcome",
    "TokenRegistry",
    "item_size",
    "local_dynamodb",
    "moto_item_limit_relaxed",
    "read_units",
    "write_capacity",
    "write_units",
]
