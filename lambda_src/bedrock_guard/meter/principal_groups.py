"""A delivery's records split by principal, and the groups run side by side.

Each meter call is a DynamoDB round trip, so one delivery metered record by record spends its
time waiting. Different principals' records touch different items (their own month item,
``SEEN#`` markers and ledger entries), so their groups can wait at the same time; a principal's
own records stay in one group, in delivery order, so that its counters grow and its lock is
taken exactly as when the delivery is metered in order.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Final, TypeVar

from aws_lambda_powertools import Logger

logger = Logger(child=True)

# DynamoDB round trips in flight per invocation: enough to hide their latency, few enough that
# a 256 MB function's one vCPU and botocore's connection pool (10 per client) keep up.
MAX_WORKERS: Final = 8

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")
R = TypeVar("R")


def grouped(items: Iterable[T], key: Callable[[T], K]) -> list[list[T]]:
    """``items`` split by ``key``: groups in order of first appearance, each in item order."""
    groups: dict[K, list[T]] = {}
    for item in items:
        groups.setdefault(key(item), []).append(item)
    return list(groups.values())


def run_groups(
    groups: Sequence[T], work: Callable[[T], R], *, workers: int = MAX_WORKERS
) -> list[R]:
    """``work(group)`` for every group, at most ``workers`` at a time; results in group order.

    A group that fails does not stop the others: they run to the end, so what they metered is
    written before the invocation fails (Lambda's retry then finds it done, by request id).
    The first failure in group order is then raised, as a delivery metered in order would.
    """
    if len(groups) <= 1:
        return [work(group) for group in groups]
    with ThreadPoolExecutor(
        max_workers=min(workers, len(groups)), thread_name_prefix="meter"
    ) as pool:
        futures = [pool.submit(work, group) for group in groups]
    # Leaving the block waited for every group.
    failures = [error for future in futures if (error := future.exception()) is not None]
    if failures:
        if len(failures) > 1:
            logger.error(
                "several principals' records failed; raising the first",
                extra={"failed_groups": len(failures), "errors": [repr(e)[:300] for e in failures]},
            )
        raise failures[0]
    return [future.result() for future in futures]
