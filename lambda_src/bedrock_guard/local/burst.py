"""A burst of concurrent requests: several Lambda containers, each an OS process of its own.

Lambda runs one request at a time per container, so concurrency means containers: each worker
process imports the real handler under the gate's environment, waits for the others, and then
serves its share of the events one after another. Answers stream back to the parent as they
come (for the progress line); each container's log lines come back at the end. Every process is
stopped when the burst ends, whether it ends well, with an error or with Ctrl-C.

This module imports nothing heavy at the top: spawned processes import it first.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import multiprocessing
import os
import queue
import sys
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

# Variables that would let the machine's own AWS configuration leak into a container.
MACHINE_VARIABLES: Final = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ENDPOINT_URL",
    "AWS_CA_BUNDLE",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
)
START_TIMEOUT_S: Final = 120.0
ANSWER_TIMEOUT_S: Final = 120.0
JOIN_TIMEOUT_S: Final = 5.0
POLL_S: Final = 0.2


class BurstError(RuntimeError):
    """A container failed; the message carries its traceback."""


@dataclass(frozen=True, slots=True)
class BurstPlan:
    """What every container needs: environment, handler, context and its events."""

    environment: Mapping[str, str]
    handler: str
    context: Mapping[str, Any]
    events: list[dict[str, Any]]
    workers: int


@dataclass
class BurstOutcome:
    """Every answer by event index, and the containers' log lines."""

    responses: dict[int, dict[str, Any]] = field(default_factory=dict)
    logs: list[str] = field(default_factory=list)


def _container(
    worker: int,
    plan: BurstPlan,
    assigned: list[int],
    start: Any,
    answers: Any,
) -> None:
    """One container: init, wait for the others, serve the assigned events in turn."""
    sink = io.StringIO()
    sys.stdout = sys.stderr = sink  # before any import: Powertools binds its handler now
    try:
        for name in MACHINE_VARIABLES:
            os.environ.pop(name, None)
        os.environ.update(plan.environment)
        # Imported only now, with stdout already redirected and the environment in place.
        from bedrock_guard.local.lambda_events import LocalLambdaContext  # noqa: PLC0415

        module_name, _, attribute = plan.handler.rpartition(".")
        handler = getattr(importlib.import_module(module_name), attribute)
        start.wait(START_TIMEOUT_S)
        for index in assigned:
            response = handler(plan.events[index], LocalLambdaContext(**plan.context))
            answers.put(("answer", index, response))
    except BaseException:
        answers.put(("error", worker, traceback.format_exc()))
    finally:
        answers.put(("logs", worker, sink.getvalue().splitlines()))


def run_burst(
    plan: BurstPlan, on_answer: Callable[[int, dict[str, Any]], None] | None = None
) -> BurstOutcome:
    """Run every container at once; ``on_answer`` sees each answer as it arrives."""
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(plan.workers)
    answers = context.Queue()
    shares = [list(range(w, len(plan.events), plan.workers)) for w in range(plan.workers)]
    processes = [
        context.Process(
            target=_container,
            args=(worker, plan, shares[worker], start, answers),
            name=f"gate-container-{worker}",
            daemon=True,
        )
        for worker in range(plan.workers)
    ]
    outcome = BurstOutcome()
    graceful = False
    try:
        for process in processes:
            process.start()
        reported: set[int] = set()
        deadline = time.monotonic() + ANSWER_TIMEOUT_S
        while len(reported) < plan.workers:
            try:
                kind, key, payload = answers.get(timeout=POLL_S)
            except queue.Empty:
                _check_alive(processes, reported, deadline)
                continue
            deadline = time.monotonic() + ANSWER_TIMEOUT_S
            if kind == "answer":
                outcome.responses[key] = payload
                if on_answer is not None:
                    on_answer(key, payload)
            elif kind == "logs":
                outcome.logs.extend(payload)
                reported.add(key)
            else:
                raise BurstError(f"container {key} failed:\n{payload}")
        graceful = True
    finally:
        _stop(processes, graceful=graceful)
        with contextlib.suppress(Exception):  # the queue's feeder thread may be gone already
            answers.close()
    return outcome


def _check_alive(processes: list[Any], reported: set[int], deadline: float) -> None:
    """Fail fast when a container died without reporting, or all went quiet for too long."""
    for worker, process in enumerate(processes):
        if worker not in reported and not process.is_alive():
            raise BurstError(
                f"container {worker} exited with code {process.exitcode} before it finished"
            )
    if time.monotonic() > deadline:
        raise BurstError("the burst's containers stopped answering")


def _stop(processes: list[Any], *, graceful: bool) -> None:
    """Wait for containers that finished; terminate at once after an error or Ctrl-C."""
    started = [process for process in processes if process.pid is not None]
    if not graceful:
        for process in started:
            process.terminate()
    for process in started:
        process.join(JOIN_TIMEOUT_S)
        if process.is_alive():
            process.kill()
            process.join(JOIN_TIMEOUT_S)
