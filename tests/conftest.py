"""Every test starts from the environment the one before it started from.

Code under test changes os.environ as a side effect, and every subprocess a later test starts inherits
it: `mlflow.set_experiment` sets MLFLOW_EXPERIMENT_ID "so that subprocess can inherit it", the CLIs set
MLFLOW_TRACKING_URI for their process, and importing Feast sets PROMETHEUS_MULTIPROC_DIR. A test then
depended on which tests ran before it in the same process, which pytest-xdist's workers reorder
(a benchmark run inherited another test's experiment id and failed on a registry that lacked it).
Variables a module-scoped fixture sets on purpose are kept: they are in place before this snapshot.
"""

from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True)
def _environment_as_it_was():
    before = dict(os.environ)
    yield
    if os.environ != before:
        os.environ.clear()
        os.environ.update(before)
