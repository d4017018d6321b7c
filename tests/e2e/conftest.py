"""One apply of environments/dev and environments/prod on the local AWS, shared by tests/e2e.

Why a make target of its own (``make e2e``, run by ``make test``) and not part of the xdist
run: the cycle is one long, mostly waiting job (the AWS provider waits for propagation on
KMS and SQS for seconds at a time), its tests share one deployment and must run in order
(re-plan, then destroy, last), and xdist would start one deployment per worker. So
tests/conftest.py leaves this folder out unless ``BEDROCK_GUARD_E2E=1``, which ``make e2e``
sets, and ``make e2e`` runs it in one process.

Both environments are deployed at the same time, each to its own moto server process (one
core each), with a Bedrock stand-in for the gate's Converse calls.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import pytest

from bedrock_guard.local.clients import local_client
from bedrock_guard.local.tf_deploy import Deployment, LocalService, StepResult, run_all
from bedrock_guard.local.tf_harness import Unavailable, prepare
from tests.e2e.variables import ENVIRONMENTS, environment_variables

REPO: Final = Path(__file__).resolve().parents[2]
BUILD: Final = REPO / "build" / "tf" / "e2e"


@dataclass
class Deployed:
    """One applied environment and its local AWS."""

    name: str
    deployment: Deployment
    endpoint: str
    bedrock_endpoint: str
    variables: dict[str, Any]
    plan: StepResult
    apply: StepResult
    outputs: dict[str, Any] = field(default_factory=dict)

    def client(self, service: str) -> Any:
        """A boto3 client of this environment's local AWS."""
        return local_client(service, self.endpoint)

    @property
    def workdir(self) -> Path:
        """Scratch space of this environment's checks."""
        return self.deployment.workspace.root / f"{self.name}-checks"


def _deploy(deployment: Deployment) -> tuple[str, StepResult, StepResult, dict[str, Any]]:
    deployment.configure()
    plan = deployment.plan()
    apply = deployment.apply()
    return deployment.environment, plan, apply, deployment.outputs()


@pytest.fixture(scope="session")
def stack() -> Iterator[dict[str, Deployed]]:
    """dev and prod applied, each on its own moto server; stopped (not destroyed) after."""
    started = time.monotonic()
    try:
        workspace = prepare(REPO, BUILD)
    except Unavailable as missing:
        if os.environ.get("TF_OPTIONAL") == "1":
            pytest.skip(f"TF_OPTIONAL=1 and {missing}")
        pytest.fail(f"the end-to-end cycle cannot run: {missing}", pytrace=False)
    services: list[LocalService] = []
    try:
        bedrock = LocalService("bedrock_guard.local.bedrock_stub").start()
        services.append(bedrock)
        deployments = {}
        for name in ENVIRONMENTS:
            moto = LocalService(
                "bedrock_guard.local.moto_server", log=workspace.root / f"moto-{name}.log"
            ).start()
            services.append(moto)
            deployments[name] = Deployment(
                workspace, name, moto.endpoint_url, environment_variables(name)
            )
        results = run_all(deployments.values(), _deploy)
        stack = {}
        for name, plan, apply, outputs in results:
            deployment = deployments[name]
            stack[name] = Deployed(
                name=name,
                deployment=deployment,
                endpoint=deployment.endpoint,
                bedrock_endpoint=bedrock.endpoint_url,
                variables=dict(deployment.variables),
                plan=plan,
                apply=apply,
                outputs=outputs,
            )
        print(f"\ndev and prod applied in {time.monotonic() - started:.0f} s")
        yield stack
    finally:
        for service in services:
            service.stop()


@pytest.fixture(params=ENVIRONMENTS)
def env(request: pytest.FixtureRequest, stack: dict[str, Deployed]) -> Deployed:
    """Each environment in turn."""
    deployed: Deployed = stack[request.param]
    return deployed
