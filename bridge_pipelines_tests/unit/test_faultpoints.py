"""Kill points: off unless named, then SIGKILL at the named point and occurrence, nowhere else."""

import os
import signal
import subprocess
import sys

SCRIPT = """
from bridge_pipelines import faultpoints
from bridge_pipelines.erps.http import write_extensions
print("hook" if write_extensions("write") else "no hook", flush=True)
for step in ("a", "b", "a", "a"):
    faultpoints.fault_point(step)
    print("passed", step, flush=True)
"""


def run(fault_at: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "FAULT_AT"}
    if fault_at is not None:
        env["FAULT_AT"] = fault_at
    return subprocess.run(
        [sys.executable, "-c", SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_unset_kills_nothing_and_installs_no_hook() -> None:
    done = run(None)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[0] == "no hook"
    assert done.stdout.count("passed") == 4


def test_a_named_point_kills_at_its_first_occurrence() -> None:
    done = run("b")
    assert done.returncode == -signal.SIGKILL
    assert done.stdout.splitlines()[1:] == ["passed a"]


def test_an_occurrence_can_be_named() -> None:
    done = run("a@2")
    assert done.returncode == -signal.SIGKILL
    assert done.stdout.splitlines()[1:] == ["passed a", "passed b"]


def test_after_request_sent_installs_the_trace_hook_on_writes_only() -> None:
    done = run("after_request_sent")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[0] == "hook"
