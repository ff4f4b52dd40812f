"""Monitoring tests use the real promtool (Debian's `prometheus` package). On a laptop without it
they are skipped with the reason shown; in CI (CI=true) a missing promtool is a failure."""

from __future__ import annotations

import os
import shutil

import pytest


@pytest.fixture(scope="session")
def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("promtool is missing in CI: .ci/run must `apt-get install prometheus`")
        pytest.skip("promtool not installed (apt-get install prometheus)")
    return path
