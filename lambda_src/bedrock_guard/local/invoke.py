"""Invoke a deployed function's handler locally: its handler string, its environment, our events.

moto creates Lambda functions but runs none without Docker. What a test or the demo needs of a
deployed function is what Lambda would do with it: import the module its ``Handler`` names
under its ``Environment`` (plus the local endpoints and credentials Lambda itself would
provide), then call the handler once per event with a Lambda context. :func:`invoke` does that
in a fresh Python process, so one container's module state never leaks into another's.

Run as ``python -m bedrock_guard.local.invoke REQUEST.json RESULT.json``; the request holds
``handler``, ``function_name``, ``function_arn``, ``timeout_seconds`` and ``events``.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bedrock_guard.local.lambda_events import LocalLambdaContext


def function_spec(lambda_client: Any, function_name: str) -> dict[str, Any]:
    """What :func:`invoke` needs of a deployed function, read back from Lambda."""
    config = lambda_client.get_function_configuration(FunctionName=function_name)
    return {
        "handler": config["Handler"],
        "function_name": config["FunctionName"],
        "function_arn": config["FunctionArn"],
        "timeout_seconds": config.get("Timeout", 30),
        "memory_mb": config.get("MemorySize", 256),
        "environment": config.get("Environment", {}).get("Variables", {}),
    }


def invoke(
    spec: Mapping[str, Any],
    events: Sequence[Mapping[str, Any]],
    local: Mapping[str, str],
    workdir: Path,
    *,
    timeout: float = 120.0,
) -> list[Any]:
    """Run ``events`` through the function in a new process; the handler's return values.

    ``local`` is added to the function's environment: the endpoints and credentials of the
    local AWS (what Lambda's execution environment provides in AWS).
    """
    workdir.mkdir(parents=True, exist_ok=True)
    request, result = workdir / "request.json", workdir / "result.json"
    request.write_text(json.dumps({**spec, "events": list(events)}), encoding="utf-8")
    result.unlink(missing_ok=True)
    environment = {
        "PATH": "/usr/bin:/bin",
        **spec["environment"],
        **local,
        "AWS_LAMBDA_FUNCTION_NAME": spec["function_name"],
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
    }
    completed = subprocess.run(  # noqa: S603 (this interpreter, our own module)
        [sys.executable, "-m", __name__, str(request), str(result)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    (workdir / "output.log").write_text(completed.stdout + completed.stderr, encoding="utf-8")
    if completed.returncode != 0 or not result.exists():
        raise RuntimeError(
            f"invoking {spec['function_name']} failed ({completed.returncode}):\n"
            f"{completed.stderr[-3000:]}"
        )
    answers: list[Any] = json.loads(result.read_text(encoding="utf-8"))
    return answers


def main(argv: list[str] | None = None) -> int:
    """The child: import the handler, run the events, write the answers as JSON."""
    request_path, result_path = (argv if argv is not None else sys.argv[1:])[:2]
    request = json.loads(Path(request_path).read_text(encoding="utf-8"))
    module_name, _, attribute = request["handler"].rpartition(".")
    handler = getattr(importlib.import_module(module_name), attribute)
    answers = []
    for event in request["events"]:
        context = LocalLambdaContext(
            function_name=request["function_name"],
            invoked_function_arn=request["function_arn"],
            memory_limit_in_mb=request.get("memory_mb", 256),
            log_group_name=f"/aws/lambda/{request['function_name']}",
            remaining_millis=int(request.get("timeout_seconds", 30)) * 1000,
        )
        answers.append(handler(event, context))
    Path(result_path).write_text(json.dumps(answers, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
