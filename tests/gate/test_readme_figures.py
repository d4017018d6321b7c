"""The README's deterministic performance figures match the code: the Lambda zip and the AWS
calls per allowed request. Timings vary from run to run; these do not, so a change that moves
them without `make bench` rewriting the README fails here."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.gate.conftest import Gate, request_body

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text(encoding="utf-8")
BLOCK = README[README.index("<!-- bench:start -->") : README.index("<!-- bench:end -->")]


def section(letter: str) -> str:
    start = BLOCK.index(f"({letter}) ")
    following = re.search(r"\n\([a-z]\) ", BLOCK[start + 1 :])
    return BLOCK[start : start + 1 + following.start()] if following else BLOCK[start:]


def rows(letter: str) -> list[list[str]]:
    lines = [line for line in section(letter).splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[2:]]


def test_the_zip_figures_are_those_of_the_current_code() -> None:
    sys.path.insert(0, str(REPO / "tools"))
    try:
        from bench_zip import lambda_zip_size
    finally:
        sys.path.remove(str(REPO / "tools"))
    archive = lambda_zip_size()
    ((zip_bytes, content_bytes, files),) = rows("g")
    assert (int(zip_bytes), int(content_bytes), int(files)) == (
        archive["zip_bytes"],
        archive["content_bytes"],
        archive["files"],
    ), "run `make bench`: the README's zip figures are stale"


@pytest.fixture
def dynamodb_calls(gate: Gate) -> Callable[[], int]:
    def calls() -> int:
        gate.dynamo_calls.reset()
        gate.bedrock.reply()
        assert gate.invoke(request_body())[0] == 200
        return len(gate.dynamo_calls.operations)

    return calls


def test_the_calls_per_request_are_those_of_the_current_code(
    dynamodb_calls: Callable[[], int],
) -> None:
    first, warm = rows("b")
    assert float(first[1]) == dynamodb_calls()
    assert float(warm[1]) == dynamodb_calls()
    assert [float(first[3]), float(warm[3])] == [1.0, 1.0]  # one Bedrock call each
    assert [float(first[2]), float(warm[2])] == [0.0, 0.0]  # no CloudWatch call
