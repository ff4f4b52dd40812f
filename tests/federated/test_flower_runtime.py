"""Runs tests/federated/runtime/ in the federated environment, where Flower is (ADR 0023).

The platform's environment cannot import Flower, so this test starts pytest with the federated
environment's Python and fails with that session's own report when any of its tests fail. A missing
environment is a failure that says how to create it, never a skip.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from services.federated.environment import FederatedEnvironmentError, federated_python

ROOT = Path(__file__).resolve().parents[2]


def test_the_flower_runtime_suite_passes_in_the_federated_environment():
    try:
        python = federated_python()
    except FederatedEnvironmentError as exc:
        pytest.fail(str(exc), pytrace=False)
    done = subprocess.run(
        [str(python), "-m", "pytest", "tests/federated/runtime", "-q", "-p", "no:cacheprovider", "-p", "no:warnings"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    print(f"tests/federated/runtime (federated environment): {summary}")
    if done.returncode != 0:
        pytest.fail(f"the Flower runtime's tests failed:\n{done.stdout[-6000:]}\n{done.stderr[-2000:]}", pytrace=False)
    assert " passed" in summary and "failed" not in summary and "skipped" not in summary
