"""Cold import time of the token gate's handler module, in fresh interpreters.

Each run is a new ``python`` process that times ``import bedrock_guard.token_gate`` (which
brings in boto3 and Powertools), as a Lambda cold start does. One extra run with
``-X importtime`` names the heaviest imports.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
from typing import Any, Final

MODULE: Final = "bedrock_guard.token_gate"
RUNS: Final = 7
_TIMER: Final = (
    f"import time; t = time.perf_counter(); import {MODULE}; print(time.perf_counter() - t)"
)
_IMPORTTIME: Final = re.compile(r"^import time:\s+(\d+)\s+\|\s+(\d+)\s+\|(\s+)(\S+)$")


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("AWS_LAMBDA_FUNCTION_NAME", None)  # importing must not build the runtime
    return env


def cold_import_ms() -> dict[str, Any]:
    """Median, min and max import time in ms over fresh interpreters, and the top imports."""
    env = _environment()
    # The first run writes the bytecode caches; Lambda ships them for boto3 and Powertools.
    subprocess.run([sys.executable, "-c", f"import {MODULE}"], env=env, check=True)
    samples = [
        1000
        * float(
            subprocess.run(
                [sys.executable, "-c", _TIMER], env=env, check=True, capture_output=True, text=True
            ).stdout
        )
        for _ in range(RUNS)
    ]
    return {
        "runs": RUNS,
        "median_ms": round(statistics.median(samples), 1),
        "min_ms": round(min(samples), 1),
        "max_ms": round(max(samples), 1),
        "heaviest": heaviest_imports(env),
    }


def heaviest_imports(env: dict[str, str], top: int = 4) -> list[dict[str, Any]]:
    """The direct imports of the module that took longest (cumulative ms), from -X importtime."""
    stderr = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {MODULE}"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stderr
    rows = [m.groups() for line in stderr.splitlines() if (m := _IMPORTTIME.match(line))]
    level_of = {name: len(indent) for _, _, indent, name in rows}
    if MODULE not in level_of:
        return []
    # -X importtime lists a module's imports before it, one indent level deeper.
    end = next(i for i, row in enumerate(rows) if row[3] == MODULE)
    start = max((i for i in range(end) if len(rows[i][2]) <= level_of[MODULE]), default=-1) + 1
    children = [
        (name, int(cumulative) / 1000)
        for _, cumulative, indent, name in rows[start:end]
        if len(indent) == level_of[MODULE] + 2
    ]
    children.sort(key=lambda child: child[1], reverse=True)
    return [{"module": name, "cumulative_ms": round(ms, 1)} for name, ms in children[:top]]
