"""Whatever ends a run (an error, Ctrl-C), the servers, containers and processes are gone."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import socket
import subprocess
import sys
import urllib.parse
from pathlib import Path

import boto3
import pytest

from bedrock_guard.demo import __main__ as demo_main
from bedrock_guard.demo.result import Step
from bedrock_guard.demo.scenario import NullReporter, Options, run_scenario

pytestmark = pytest.mark.server


class Interrupting(NullReporter):
    """Raises ``error`` at a chosen point; remembers the servers' addresses."""

    def __init__(self, error: BaseException, phase: str, after: int = 0) -> None:
        self.error, self.phase_name, self.after = error, phase, after
        self.urls: list[str] = []
        self.seen = 0
        self.current = ""

    def started(self, moto_url: str, stub_url: str) -> None:
        self.urls = [moto_url, stub_url]

    def phase(self, key: str, title: str, total: int) -> None:
        self.current = key
        if key == self.phase_name and self.after == 0:
            raise self.error

    def advance(self, key: str, status: int | None) -> None:
        if key == self.phase_name:
            self.seen += 1
            if self.seen == self.after:
                raise self.error

    def step(self, step: Step) -> None:
        return None


def refused(url: str) -> bool:
    parts = urllib.parse.urlsplit(url)
    with socket.socket() as probe:
        probe.settimeout(2)
        return probe.connect_ex((parts.hostname or "", parts.port or 0)) != 0


def assert_clean(reporter: Interrupting, environ: dict[str, str], session: object) -> None:
    assert len(reporter.urls) == 2
    assert all(refused(url) for url in reporter.urls), "a server still listens"
    assert multiprocessing.active_children() == []
    assert dict(os.environ) == environ
    assert boto3.DEFAULT_SESSION is session


def terraform_children() -> list[str]:
    """terraform processes that are children of this one (there must be none left)."""
    found = []
    for status in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = status.read_text().rsplit(")", 1)[1].split()
            if (
                int(fields[1]) == os.getpid()
                and "terraform" in status.with_name("cmdline").read_text()
            ):
                found.append(status.parent.name)
    return found


@pytest.mark.parametrize(
    "error", [RuntimeError("boom"), KeyboardInterrupt()], ids=["error", "ctrl-c"]
)
def test_an_interrupted_terraform_apply_stops_terraform_and_the_servers(
    error: BaseException, tmp_path: Path
) -> None:
    environ, session = dict(os.environ), boto3.DEFAULT_SESSION
    reporter = Interrupting(error, "terraform", after=3)
    with pytest.raises(type(error)):
        run_scenario(Options(quick=True, build_dir=tmp_path), reporter)
    assert reporter.seen == 3  # it was interrupted while Terraform was creating resources
    assert terraform_children() == []
    assert_clean(reporter, environ, session)


def test_ctrl_c_exits_130_and_a_bad_configuration_exits_2(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted(*_: object, **__: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(demo_main, "run_demo", interrupted)
    assert demo_main.main(["--quick"]) == demo_main.EXIT_INTERRUPTED
    assert "stopped" in capsys.readouterr().out
    monkeypatch.undo()
    assert demo_main.main(["--quick", "--tfvars", str(tmp_path / "x")]) == demo_main.EXIT_CONFIG
    assert "no tfvars file" in capsys.readouterr().out


def test_the_module_runs_as_a_script() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "bedrock_guard.demo", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0
    assert "--quick" in completed.stdout
