"""A local stack that stays up: moto, the Bedrock stand-in, environments/dev applied to them.

``python -m bedrock_guard.local.stack up`` (``make local-up``) starts both servers as background
processes, applies ``environments/dev`` with its ``terraform.tfvars.example`` through the
harness, writes ``terraform output -json`` to ``build/tf/local/outputs.json`` and prints how to
use it: the ``bedrock-guard`` CLI line and a call of the deployed gate. ``call`` sends one
request through the deployed gate (its handler and environment, read back from Lambda).
``down`` (``make local-down``) stops the two processes by their ids and forgets the state.

Terraform runs as a role of moto's default account (``assume_role_arn``), and the callers of
the tfvars example are moved to that account, so plain fake credentials see what it created.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Final

import hcl2
from hcl2.utils import SerializationOptions
from moto.core.models import DEFAULT_ACCOUNT_ID

from bedrock_guard.local.clients import DEFAULT_REGION, local_client
from bedrock_guard.local.invoke import function_spec, invoke
from bedrock_guard.local.lambda_events import api_gateway_event
from bedrock_guard.local.tf_deploy import Deployment, local_environ
from bedrock_guard.local.tf_harness import prepare

REPO: Final = Path(__file__).resolve().parents[3]
ROOT: Final = REPO / "build" / "tf" / "local"
STACK_FILE: Final = ROOT / "stack.json"
OUTPUTS_FILE: Final = ROOT / "outputs.json"
TFVARS: Final = REPO / "environments" / "dev" / "terraform.tfvars.example"
EXAMPLE_ACCOUNT: Final = "111111111111"


def _start(module: str, log: Path) -> tuple[int, str]:
    """A server in its own session (it outlives this process); its pid and endpoint URL."""
    with log.open("w") as output:
        process = subprocess.Popen(  # noqa: S603 (this interpreter, our own module)
            [sys.executable, "-m", module, "--port", "0"],
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for line in log.read_text(encoding="utf-8").splitlines():
            if line.startswith("http://"):
                return process.pid, line.strip()
        time.sleep(0.2)
    os.kill(process.pid, signal.SIGTERM)
    raise RuntimeError(f"{module} did not start: see {log}")


def variables() -> dict[str, Any]:
    """The tfvars example, with its callers in moto's default account."""
    text = TFVARS.read_text(encoding="utf-8").replace(EXAMPLE_ACCOUNT, DEFAULT_ACCOUNT_ID)
    loaded = hcl2.loads(text, serialization_options=SerializationOptions(strip_string_quotes=True))
    plain = json.loads(json.dumps(loaded).replace('\\"', ""))
    return {
        **{k: v for k, v in plain.items() if not k.startswith("__")},
        "assume_role_arn": f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:role/terraform",
    }


def up() -> int:
    """Start the servers, apply environments/dev, print how to use it."""
    if STACK_FILE.exists():
        print(f"a local stack is already up ({STACK_FILE}): make local-down first")
        return 1
    ROOT.mkdir(parents=True, exist_ok=True)
    moto_pid, moto_url = _start("bedrock_guard.local.moto_server", ROOT / "moto.log")
    stub_pid, stub_url = _start("bedrock_guard.local.bedrock_stub", ROOT / "bedrock.log")
    stack = {"pids": [moto_pid, stub_pid], "moto": moto_url, "bedrock": stub_url}
    STACK_FILE.write_text(json.dumps(stack), encoding="utf-8")
    workspace = prepare(REPO, ROOT / "terraform")
    deployment = Deployment(workspace, "dev", moto_url, variables())
    deployment.configure()
    deployment.apply_now()
    result = workspace.check(deployment.folder, "output", "-json")
    OUTPUTS_FILE.write_text(result.stdout, encoding="utf-8")
    outputs = relative(OUTPUTS_FILE)
    print(
        f"\nLocal AWS at {moto_url}, Bedrock stand-in at {stub_url}; environments/dev applied.\n"
        "The operator CLI:\n"
        f"  AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1 "
        f".venv/bin/bedrock-guard --endpoint-url {moto_url} --tf-outputs {outputs} usage\n"
        "Call the deployed gate (its handler, with the environment Terraform gave it):\n"
        "  .venv/bin/python -m bedrock_guard.local.stack call "
        f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:role/support-bot claude-3-haiku 'Hello there'\n"
        "Stop it: make local-down"
    )
    return 0


def relative(path: Path) -> str:
    """``path`` relative to the working directory where it can be."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def call(caller: str, model: str, text: str) -> int:
    """One request through the deployed gate; prints the status and the JSON answer."""
    stack = json.loads(STACK_FILE.read_text(encoding="utf-8"))
    outputs = json.loads(OUTPUTS_FILE.read_text(encoding="utf-8"))
    gate = function_spec(
        local_client("lambda", stack["moto"]), outputs["gate_function_name"]["value"]
    )
    body = {
        "model": model,
        "messages": [{"role": "user", "content": text}],
        "parameters": {"max_tokens": 256},
        "tags": {"applicationId": "local"},
    }
    event = api_gateway_event(body, user_arn=caller, account_id=DEFAULT_ACCOUNT_ID)
    local = {
        **local_environ(stack["moto"], DEFAULT_REGION),
        "BEDROCK_ENDPOINT_URL": stack["bedrock"],
    }
    (answer,) = invoke(gate, [event], local, ROOT / "calls")
    print(answer["statusCode"], json.dumps(json.loads(answer["body"]), indent=2))
    return 0


def down() -> int:
    """Stop the servers by their process ids and forget the stack."""
    if not STACK_FILE.exists():
        print("no local stack is up")
        return 0
    stack = json.loads(STACK_FILE.read_text(encoding="utf-8"))
    for pid in stack["pids"]:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
    STACK_FILE.unlink()
    OUTPUTS_FILE.unlink(missing_ok=True)
    print(f"stopped the local AWS and Bedrock stand-in (pids {stack['pids']})")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="the local stack: up, call, down")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("up", help="start the servers and apply environments/dev")
    commands.add_parser("down", help="stop the servers")
    calling = commands.add_parser("call", help="one request through the deployed gate")
    calling.add_argument("caller", help="IAM ARN of the caller")
    calling.add_argument("model", help="a model alias of the gate")
    calling.add_argument("text", help="the user message")
    args = parser.parse_args(argv)
    if args.command == "up":
        return up()
    if args.command == "call":
        return call(args.caller, args.model, args.text)
    return down()


if __name__ == "__main__":
    sys.exit(main())
