"""Session-wide real MLflow server for the service tests (SQLite backend, temporary folder)."""

from __future__ import annotations

import pytest

from tests.services.mlflow_fixtures import MlflowServer, start_mlflow


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory) -> MlflowServer:
    server = start_mlflow(tmp_path_factory.mktemp("mlflow"))
    yield server
    server.stop()
