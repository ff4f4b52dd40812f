"""The compliance layer's fixtures (`make test-opa`): the pinned OPA binary, built by the toolchain.

These tests run only under `make test-opa`, which builds OPA first (Go, cached) and sets
MLPLAT_OPA_TESTS=1; plain `make test` collects nothing here, so the fast suite never needs Go. Without a
built OPA the fixture fails with the command that builds it, never skips.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

if os.environ.get("MLPLAT_OPA_TESTS") != "1":
    collect_ignore_glob = ["test_*.py"]  # `make test-opa` sets it; see the docstring


@pytest.fixture(scope="session")
def opa() -> Path:
    from services.compliance.opa import OpaError, find_opa

    try:
        return find_opa()
    except OpaError as exc:
        pytest.fail(str(exc), pytrace=False)
