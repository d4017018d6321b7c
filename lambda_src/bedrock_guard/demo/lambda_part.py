"""Lambda's part, played by the demo: containers that run the real handlers, and SNS delivery.

moto runs no Lambda functions without Docker, so the demo plays the Lambda service:

* :class:`LambdaContainer` is one warm container of a function in this process: the handler
  module is imported fresh under the function's environment (the Terraform-evaluated variables,
  the execution role's credentials, the local endpoints) and invoked with a Lambda context
  carrying the function's name, ARN, memory and timeout;
* everything a handler writes (Powertools JSON logs, EMF metric records) goes to a
  :class:`LogSink`, as Lambda sends it to CloudWatch Logs, never to the terminal;
* :func:`delivered_sns_event` turns the SNS notifications the topic delivered to the queue into
  the SNS event Lambda would hand the enforcer.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import logging
import os
import sys
import threading
from collections.abc import Iterator, Mapping
from types import ModuleType
from typing import Any

import boto3

from bedrock_guard.demo.deploy import FunctionSpec
from bedrock_guard.local.burst import MACHINE_VARIABLES
from bedrock_guard.local.lambda_events import LocalLambdaContext


class LogSink(io.TextIOBase):
    """A thread-safe in-memory stream of complete lines (a function's CloudWatch log stream)."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._partial = ""
        self._lines: list[str] = []

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def write(self, text: str) -> int:
        with self._lock:
            *complete, self._partial = (self._partial + text).split("\n")
            self._lines.extend(line for line in complete if line)
        return len(text)

    def extend(self, lines: list[str]) -> None:
        """Add lines written elsewhere (by a container process)."""
        with self._lock:
            self._lines.extend(lines)

    def lines(self) -> list[str]:
        with self._lock:
            return [*self._lines, *([self._partial] if self._partial else [])]


def _stream_handlers() -> Iterator[logging.StreamHandler[Any]]:
    loggers = [logging.getLogger()]
    loggers += [
        logger
        for logger in logging.Logger.manager.loggerDict.values()
        if isinstance(logger, logging.Logger)
    ]
    for logger in loggers:
        for handler in logger.handlers:
            if isinstance(handler, logging.StreamHandler) and not isinstance(
                handler, logging.FileHandler
            ):
                yield handler


@contextlib.contextmanager
def captured(sink: LogSink) -> Iterator[LogSink]:
    """Send stdout, stderr and the log handlers writing to them into ``sink``."""
    saved_out, saved_err = sys.stdout, sys.stderr
    swapped = []
    for handler in _stream_handlers():
        if handler.stream in (saved_out, saved_err) or isinstance(handler.stream, LogSink):
            swapped.append((handler, handler.stream))
            handler.setStream(sink)
    sys.stdout = sys.stderr = sink
    try:
        yield sink
    finally:
        sys.stdout, sys.stderr = saved_out, saved_err
        for handler, stream in swapped:
            handler.setStream(stream)


def container_environment(spec: FunctionSpec, local: Mapping[str, str]) -> dict[str, str]:
    """A function's environment: Terraform's variables, then the local endpoints and the
    execution role's credentials (what Lambda itself provides)."""
    return {
        **spec.environment,
        **local,
        **spec.credentials.environ(),
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }


@contextlib.contextmanager
def environment(variables: Mapping[str, str]) -> Iterator[None]:
    """``os.environ`` with ``variables`` and a fresh default boto3 session, restored after."""
    saved = dict(os.environ)
    saved_session = boto3.DEFAULT_SESSION
    for name in MACHINE_VARIABLES:
        os.environ.pop(name, None)
    os.environ.update(variables)
    boto3.DEFAULT_SESSION = None
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
        boto3.DEFAULT_SESSION = saved_session


class LambdaContainer:
    """One warm container of a function in this process, running the handler Terraform names."""

    def __init__(self, spec: FunctionSpec, local: Mapping[str, str], sink: LogSink) -> None:
        self.spec = spec
        self.sink = sink
        self.variables = container_environment(spec, local)
        self.module_name, _, self.attribute = spec.handler.rpartition(".")
        self._module: ModuleType | None = None
        self._previous: ModuleType | None = None
        self.invocations = 0

    def context(self) -> LocalLambdaContext:
        spec = self.spec
        return LocalLambdaContext(
            function_name=spec.name,
            memory_limit_in_mb=spec.memory_mb,
            invoked_function_arn=spec.arn,
            log_group_name=f"/aws/lambda/{spec.name}",
            log_stream_name=f"local/[$LATEST]{spec.name}",
            remaining_millis=spec.timeout_seconds * 1000,
        )

    def start(self) -> LambdaContainer:
        """The init phase: import the handler's module under the function's environment."""
        with environment(self.variables), captured(self.sink):
            self._previous = sys.modules.pop(
                self.module_name, None
            )  # a new container imports afresh
            self._module = importlib.import_module(self.module_name)
        return self

    def invoke(self, event: dict[str, Any]) -> Any:
        """One invocation, as Lambda runs it: the handler, the event, a context."""
        if self._module is None:
            raise RuntimeError(f"container of {self.spec.name} is not started")
        handler = getattr(self._module, self.attribute)
        self.invocations += 1
        with environment(self.variables), captured(self.sink):
            return handler(event, self.context())

    def stop(self) -> None:
        """Discard the container; whoever imported the module before gets it back."""
        if self._module is None:
            return
        package_name, _, attribute = self.module_name.rpartition(".")
        package = sys.modules.get(package_name)
        if sys.modules.get(self.module_name) is self._module:
            if self._previous is not None:
                sys.modules[self.module_name] = self._previous
            else:
                del sys.modules[self.module_name]
        if package is not None and getattr(package, attribute, None) is self._module:
            if self._previous is not None:
                setattr(package, attribute, self._previous)
            else:
                delattr(package, attribute)
        self._module = self._previous = None

    def __enter__(self) -> LambdaContainer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def sns_record(envelope: Mapping[str, Any], subscription_arn: str) -> dict[str, Any]:
    """The record Lambda builds from an SNS notification (as delivered to an SQS queue).

    The HTTP/SQS envelope spells ``SigningCertURL`` and ``UnsubscribeURL``; Lambda's event
    spells them ``SigningCertUrl`` and ``UnsubscribeUrl``.
    """
    return {
        "EventSource": "aws:sns",
        "EventVersion": "1.0",
        "EventSubscriptionArn": subscription_arn,
        "Sns": {
            "Type": envelope["Type"],
            "MessageId": envelope["MessageId"],
            "TopicArn": envelope["TopicArn"],
            "Subject": envelope.get("Subject"),
            "Message": envelope["Message"],
            "Timestamp": envelope["Timestamp"],
            "SignatureVersion": envelope.get("SignatureVersion", "1"),
            "Signature": envelope.get("Signature", ""),
            "SigningCertUrl": envelope.get("SigningCertURL", ""),
            "UnsubscribeUrl": envelope.get("UnsubscribeURL", ""),
            "MessageAttributes": envelope.get("MessageAttributes", {}),
        },
    }


def delivered_sns_event(sqs: Any, queue_url: str, subscription_arn: str) -> dict[str, Any]:
    """Every notification waiting in the queue, as one SNS event; the messages are deleted."""
    records = []
    while True:
        response = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
        )
        messages = response.get("Messages", [])
        if not messages:
            break
        for message in messages:
            records.append(sns_record(json.loads(message["Body"]), subscription_arn))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return {"Records": records}
