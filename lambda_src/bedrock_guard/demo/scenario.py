"""The demo's story, played with the real handlers against moto server and the Bedrock stand-in.

1. ``terraform apply`` of ``environments/dev`` to the local AWS (:mod:`.deploy`).
2. Steady traffic from every caller through the gate.
3. One caller works through its daily budget until the gate answers 429.
4. Another sends a burst from several containers at once: nothing is overspent.
5. The tenant principal calls Bedrock directly through its profile with its own credentials,
   bypassing the gate, until Bedrock's own token metric crosses the tenant alarm's threshold.
   The Bedrock stand-in writes every call's invocation record (the gate's and the direct ones)
   to the log group Terraform configured; the subscription's part (played) delivers them to
   the usage meter, which leaves the gate's calls to the gate and counts the direct ones.
   Then a notebook, a role registered nowhere, calls Bedrock directly until its day passes the
   default tier's limit, and the meter locks it (:mod:`.notebook`).
6. CloudWatch's part (played): metrics in, alarms evaluated (the exhausted caller's budget
   alarm and the tenant's token alarm), the notifications published to the enforcer's topic.
   Lambda's part (played): the delivered SNS records handed to the enforcer, which attaches
   the deny policy to each principal and records the locks; the gate answers them 403.
7. One alarm period later the alarms return to OK and the enforcer releases both; the gate
   answers the tenant principal 200 again, and the exhausted caller 429 again: unlocking does
   not refill a budget.

Servers, containers and worker processes stop when the run ends, however it ends.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from bedrock_guard.demo.config import ENVIRONMENT, TFVARS_EXAMPLE, find_repo_root, load_settings
from bedrock_guard.demo.deploy import Deployer, callers_account, read_tfvars
from bedrock_guard.demo.lockout import alarm, release
from bedrock_guard.demo.notebook import notebook
from bedrock_guard.demo.result import LAMBDA, TERRAFORM, DemoResult, Step, derive_claims
from bedrock_guard.demo.summary import summarise
from bedrock_guard.demo.traffic import DIRECT_MAX_TOKENS, choose_cast
from bedrock_guard.demo.traffic_phases import burst, bypass, exhaust, steady
from bedrock_guard.demo.world import Reporter, Sizes, World
from bedrock_guard.local.bedrock_stub import BedrockStub
from bedrock_guard.local.clients import DEFAULT_REGION
from bedrock_guard.local.converse_replies import Reply
from bedrock_guard.local.moto_server import MotoServer

FULL: Final = Sizes(steady_per_caller=8, burst_workers=8, burst_min_requests=64)
QUICK: Final = Sizes(steady_per_caller=2, burst_workers=4, burst_min_requests=32)


@dataclass(frozen=True, slots=True)
class Options:
    """What to run: ``quick`` sends fewer requests (the test suite runs it)."""

    quick: bool = False
    tfvars: Path | None = None
    verbose: bool = False
    build_dir: Path | None = None  # the Terraform copy and state (default: build/tf/demo)

    @property
    def sizes(self) -> Sizes:
        return QUICK if self.quick else FULL


class NullReporter:
    """Reports nothing."""

    def started(self, moto_url: str, stub_url: str) -> None:
        return None

    def step(self, step: Step) -> None:
        return None

    def phase(self, key: str, title: str, total: int) -> None:
        return None

    def advance(self, key: str, status: int | None) -> None:
        return None

    def phase_done(self, key: str) -> None:
        return None

    def provisioned(self, result: DemoResult) -> None:
        return None


def run_scenario(options: Options, reporter: Reporter | None = None) -> DemoResult:
    """Deploy, then play the whole story; every server and process is stopped before this
    returns."""
    started = time.perf_counter()
    reporter = reporter or NullReporter()
    repo = find_repo_root()
    tfvars = (options.tfvars or repo / ENVIRONMENT / TFVARS_EXAMPLE).resolve()
    variables = read_tfvars(tfvars)
    region = str(variables.get("region", DEFAULT_REGION))
    partition, account = callers_account(variables)
    result = DemoResult(quick=options.quick, account=account, region=region)
    with contextlib.ExitStack() as stack:
        moto = stack.enter_context(MotoServer(region_name=region))
        stub = stack.enter_context(BedrockStub(default=Reply(output_tokens=DIRECT_MAX_TOKENS)))
        result.moto_url, result.stub_url = moto.endpoint_url, stub.endpoint_url
        reporter.started(moto.endpoint_url, stub.endpoint_url)
        progress = TerraformProgress(reporter)
        deployer = Deployer(
            repo,
            variables,
            moto,
            region=region,
            partition=partition,
            account=account,
            echo=reporter_echo(reporter),
            on_event=progress,
        )
        provisioned = deployer.run(options.build_dir or repo / "build" / "tf" / "demo")
        progress.done()
        settings = load_settings(
            variables,
            provisioned,
            tfvars=tfvars,
            region=region,
            partition=partition,
            account=account,
        )
        result.facts = settings.facts
        metered = provisioned.meter is not None and provisioned.meter_filter is not None
        world = World(
            settings=settings,
            cast=choose_cast(settings, metered=metered),
            moto=moto,
            stub=stub,
            reporter=reporter,
            result=result,
            sizes=options.sizes,
        )
        world.adopt(deployer, provisioned)
        stack.callback(world.close)  # containers stop before the servers do
        play(world)
    result.claims = derive_claims(result)
    result.seconds = time.perf_counter() - started
    return result


class TerraformProgress:
    """Terraform's ``-json`` events as one progress line: resources applied of planned."""

    KEY: Final = "terraform"

    def __init__(self, reporter: Reporter) -> None:
        self.reporter = reporter
        self.started = False

    def __call__(self, event: dict[str, Any]) -> None:
        if event.get("type") == "change_summary" and not self.started:
            total = int(event.get("changes", {}).get("add", 0))
            self.reporter.phase(self.KEY, "terraform apply environments/dev", total)
            self.started = True
        elif event.get("type") == "apply_complete" and self.started:
            self.reporter.advance(self.KEY, None)

    def done(self) -> None:
        if self.started:
            self.reporter.phase_done(self.KEY)
            self.started = False


def reporter_echo(reporter: Reporter) -> Any:
    """Where the deployment's summary lines go: the story, as the Terraform actor."""
    return lambda line: reporter.step(Step(TERRAFORM, line))


def play(world: World) -> None:
    """The phases, in the order of the story."""
    world.start_containers()
    world.reporter.provisioned(world.result)
    specs = [c.spec for c in (world.gate, world.enforcer, world.meter) if c is not None]
    named = [f"{spec.name} ({spec.handler})" for spec in specs]
    world.say(
        LAMBDA,
        f"containers of {', '.join(named[:-1])} and {named[-1]} run with the environment "
        "Terraform gives them",
    )
    steady(world)
    exhaust(world)
    burst(world)
    bypass(world)
    notebook(world)
    alarmed_at = alarm(world)
    release(world, alarmed_at)
    summarise(world)
