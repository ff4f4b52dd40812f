"""Every test starts from the environment the one before it started from.

Code under test changes os.environ as a side effect, and every subprocess a later test starts inherits
it: `mlflow.set_experiment` sets MLFLOW_EXPERIMENT_ID "so that subprocess can inherit it", the CLIs set
MLFLOW_TRACKING_URI for their process, and importing Feast sets PROMETHEUS_MULTIPROC_DIR. A test then
depended on which tests ran before it in the same process, which pytest-xdist's workers reorder
(a benchmark run inherited another test's experiment id and failed on a registry that lacked it).
So the environment is put back after every test, and after every module, for what a module's fixtures
set (a fixture that registers a model calls `mlflow.set_experiment`). What a module-scoped fixture sets
on purpose stays for that module's tests: it is in place before each test's snapshot.
"""

from __future__ import annotations

import os

import pytest


def _restored(before: dict[str, str]) -> None:
    if os.environ != before:
        os.environ.clear()
        os.environ.update(before)


@pytest.fixture(autouse=True, scope="module")
def _environment_as_the_module_found_it():
    before = dict(os.environ)
    yield
    _restored(before)


@pytest.fixture(autouse=True)
def _environment_as_the_test_found_it():
    before = dict(os.environ)
    yield
    _restored(before)
