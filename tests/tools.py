"""The real servers some tests start (Debian packages). A missing one fails the test with the command
that installs it: a test that cannot run must never look like a test that passed."""

from __future__ import annotations

import pytest

from services.standalone.plan import find_binary

__all__ = ["require"]

PACKAGES = {
    "prometheus": "prometheus",
    "alertmanager": "prometheus-alertmanager",
    "pushgateway": "prometheus-pushgateway",
    "promtool": "prometheus",
}


def require(tool: str) -> str:
    """The path of `tool`, or a failure that says how to install it."""
    path = find_binary(tool)
    if path is None:
        pytest.fail(
            f"{tool} is not installed and this test runs the real one: apt-get install {PACKAGES.get(tool, tool)} "
            "(Debian/Ubuntu; .ci/run does it), or put its binary on PATH",
            pytrace=False,
        )
    return path
