"""Fuzz every operation of the model server's OpenAPI document (schemathesis): no input may give a 5xx.

The schema is the same document the server publishes at /openapi.json; generated bodies go to a
real server. Bounded to a few dozen examples per operation so the test stays short.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from services.model_server.openapi import openapi_document
from tests.services.mlflow_fixtures import register_iris, start_model_server

schema = schemathesis.openapi.from_dict(openapi_document(["iris"]))


@pytest.fixture(scope="module")
def fuzz_server(mlflow_server, tmp_path_factory):
    register_iris(mlflow_server.uri, "iris-fuzz", "champion")
    # Served under the name the schema enumerates; a pinned version of its own model.
    proc = start_model_server(mlflow_server.uri, ["models:/iris-fuzz@champion"], tmp_path_factory.mktemp("fuzz"))
    yield proc
    proc.stop()


def test_published_schema_is_the_tested_schema(fuzz_server):
    import httpx

    published = httpx.get(f"{fuzz_server.url}/openapi.json").json()
    assert published == openapi_document(["iris-fuzz"])


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_generated_request_causes_a_server_error(case, fuzz_server):
    if case.path_parameters and "name" in case.path_parameters:
        case.path_parameters["name"] = "iris-fuzz"
    response = case.call(base_url=fuzz_server.url)
    assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.status_code} {response.text}"
