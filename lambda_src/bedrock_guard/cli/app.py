"""The ``bedrock-guard`` command line: global options, subcommands, exit codes."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from bedrock_guard import __version__
from bedrock_guard.cli import bypass, holds, locks, report, unlock, usage
from bedrock_guard.cli.context import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_TIMEOUT,
    Context,
    Network,
    load_tf_outputs,
)
from bedrock_guard.cli.errors import CliError, ExitCode, translate
from bedrock_guard.cli.output import PIPE_WIDTH, Output

PROG: Final = "bedrock-guard"
EPILOG: Final = """\
settings come from the flag, else the environment, else Terraform outputs (--tf-outputs):
  table       --table-name, USAGE_TABLE_NAME or LEDGER_TABLE_NAME, output table_name
  deny policy --deny-policy-arn, DENY_POLICY_ARN, output deny_policy_arn
  tier limits --tier-limits-json, TIER_LIMITS_JSON, output tier_limits_json

exit status:
  0  success
  1  the operation failed, or what it names is not found / not locked
  2  usage error: bad arguments or missing settings (nothing was changed)
  3  no usable AWS credentials, or AWS denied access
  4  a resource is missing: the table, or the deny policy
  130 interrupted"""


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= 300:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds in (0, 300]")
    return value


def _attempts(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 10:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of attempts from 1 to 10")
    return int(text)


def _global_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    """Options accepted before and after the subcommand. Copies on the subcommands default to
    SUPPRESS, so an option given before the subcommand is not reset by the subparser."""

    def default(value: Any) -> Any:
        return argparse.SUPPRESS if suppress else value

    group = parser.add_argument_group("global options")
    group.add_argument("--table-name", default=default(None), help="the usage/registry/lock table")
    group.add_argument("--region", default=default(None), help="AWS region of the table")
    group.add_argument("--profile", default=default(None), help="AWS named profile")
    group.add_argument(
        "--endpoint-url",
        default=default(None),
        metavar="URL",
        help="send every AWS call here (e.g. the demo's local moto server)",
    )
    group.add_argument(
        "--tf-outputs",
        default=default(None),
        metavar="FILE",
        help="JSON of `terraform output -json` (a file, or - for stdin)",
    )
    group.add_argument(
        "--json", action="store_true", default=default(False), help="machine-readable output"
    )
    group.add_argument(
        "--no-color", action="store_true", default=default(False), help="never use colour"
    )
    group.add_argument(
        "--wide",
        action="store_true",
        default=default(False),
        help="tables as wide as their content, full ARNs (default: the terminal's width, "
        f"{PIPE_WIDTH} columns when piped)",
    )
    group.add_argument(
        "--timeout",
        type=_seconds,
        default=default(None),
        metavar="SECONDS",
        help=f"read timeout of each AWS call (default {DEFAULT_TIMEOUT:g}; connect: "
        f"{DEFAULT_CONNECT_TIMEOUT:g})",
    )
    group.add_argument(
        "--max-attempts",
        type=_attempts,
        default=default(None),
        metavar="N",
        help=f"attempts per AWS call, retries included (default {DEFAULT_MAX_ATTEMPTS})",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=(
            "Operate bedrock-cost-guard: usage and limits, locks, unlocks, expired holds, "
            "spend reports."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _global_options(parser, suppress=False)
    shared = argparse.ArgumentParser(add_help=False)
    _global_options(shared, suppress=True)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in (usage, bypass, locks, unlock, holds, report):
        command.register(subparsers, [shared])
    return parser


def main(
    argv: Sequence[str] | None = None,
    *,
    clients: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> int:
    """Run one command and return its exit status.

    ``clients`` replaces the boto3 client of a service (by name, e.g. ``"ce"``), for tests with
    a botocore Stubber and for embedding; ``environ`` defaults to ``os.environ``.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help, --version, or argparse's usage error (2)
        return exit_.code if isinstance(exit_.code, int) else ExitCode.USAGE

    out = Output(as_json=args.json, no_color=args.no_color, wide=args.wide)
    network = Network.of(args.timeout, args.max_attempts)
    ctx: Context | None = None
    try:
        tf_outputs = load_tf_outputs(args.tf_outputs) if args.tf_outputs else {}
        ctx = Context(
            table_name=args.table_name,
            region=args.region,
            profile=args.profile,
            endpoint_url=args.endpoint_url,
            tf_outputs=tf_outputs,
            environ=os.environ if environ is None else environ,
            clients=clients,
            network=network,
        )
        return int(args.run(ctx, args, out))
    except CliError as error:
        out.error(str(error))
        return error.code
    except (BotoCoreError, ClientError) as error:
        failure = translate(
            error,
            table_name=ctx.resolved_table if ctx else None,
            call=ctx.last_call if ctx else None,
            network=network.describe(),
        )
        out.error(str(failure))
        return failure.code
    except KeyboardInterrupt:
        out.error("interrupted")
        return ExitCode.INTERRUPTED
    except BrokenPipeError:  # `bedrock-guard usage | head`: the reader left; stay quiet
        _silence_stdout()
        return ExitCode.OK


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush raises nothing."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # not a real file (an in-process capture)
        pass
