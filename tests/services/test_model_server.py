"""The model server against a real MLflow registry: formats, bad input, variants, alias moves."""

from __future__ import annotations

import threading
import time

import httpx
import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from tests.services.mlflow_fixtures import (
    IRIS_COLUMNS,
    iris_data,
    register_iris,
    register_raising,
    start_model_server,
)

ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3], [5.9, 3.0, 4.2, 1.5]]


@pytest.fixture(scope="module")
def registry(mlflow_server):
    uri = mlflow_server.uri
    versions = {
        "champion": register_iris(uri, "iris", "champion"),
        "challenger": register_iris(uri, "iris", "challenger", C=0.05),
        "shadow": register_iris(uri, "iris", "shadow", C=0.01),
    }
    register_iris(uri, "moving", "champion")
    register_raising(uri, "boom")
    return versions


@pytest.fixture(scope="module")
def server(mlflow_server, registry, tmp_path_factory):
    proc = start_model_server(
        mlflow_server.uri,
        [
            "models:/iris@champion",
            "models:/moving@champion",
            "models:/boom@champion",
            "--challenger",
            "models:/iris@challenger",
            "--challenger-weight",
            "iris=30",
            "--shadow",
            "models:/iris@shadow",
            "--poll-interval",
            "0.5",
            "--max-body-bytes",
            "20000",
            "--drift-window",
            "50",
        ],
        tmp_path_factory.mktemp("serving"),
    )
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def client(server):
    with httpx.Client(base_url=server.url, timeout=10) as http:
        yield http


@pytest.fixture(scope="module")
def local_models(mlflow_server, registry):
    """The same versions, loaded in-process: what every response must equal."""
    import mlflow.sklearn

    mlflow.set_tracking_uri(mlflow_server.uri)
    return {variant: mlflow.sklearn.load_model(f"models:/iris/{version}") for variant, version in registry.items()}


def expected(local_models, variant, rows=ROWS):
    return local_models[variant].predict(pd.DataFrame(rows, columns=IRIS_COLUMNS)).tolist()


FORMATS = {
    "dataframe_split": {"dataframe_split": {"columns": IRIS_COLUMNS, "data": ROWS}},
    "dataframe_split_reordered": {"dataframe_split": {"columns": IRIS_COLUMNS[::-1], "data": [r[::-1] for r in ROWS]}},
    "dataframe_records": {"dataframe_records": [dict(zip(IRIS_COLUMNS, r, strict=True)) for r in ROWS]},
    "instances_lists": {"instances": ROWS},
    "instances_records": {"instances": [dict(zip(IRIS_COLUMNS, r, strict=True)) for r in ROWS]},
    "inputs_lists": {"inputs": ROWS},
    "inputs_columns": {"inputs": {c: [r[i] for r in ROWS] for i, c in enumerate(IRIS_COLUMNS)}},
}


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_invocations_answer_equals_in_process_predict(client, local_models, fmt):
    response = client.post("/invocations", json=FORMATS[fmt])
    assert response.status_code == 200, response.text
    variant = response.headers["x-model-variant"]
    assert variant in ("champion", "challenger")
    assert response.json()["predictions"] == expected(local_models, variant)


def test_v2_single_tensor_answer_equals_in_process_predict(client, local_models, registry):
    body = {
        "id": "r-1",
        "inputs": [{"name": "x", "shape": [3, 4], "datatype": "FP64", "data": [v for r in ROWS for v in r]}],
    }
    response = client.post("/v2/models/iris/infer", json=body)
    assert response.status_code == 200, response.text
    out = response.json()
    variant = response.headers["x-model-variant"]
    assert out["id"] == "r-1" and out["model_name"] == "iris"
    assert out["model_version"] == registry[variant] == response.headers["x-model-version"]
    assert out["outputs"][0]["data"] == expected(local_models, variant)


def test_v2_one_tensor_per_column_answer_equals_in_process_predict(client, local_models):
    body = {
        "inputs": [
            {"name": c, "shape": [3], "datatype": "FP32", "data": [r[i] for r in ROWS]}
            for i, c in enumerate(IRIS_COLUMNS)
        ]
    }
    response = client.post("/v2/models/iris/infer", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["outputs"][0]["data"] == expected(local_models, response.headers["x-model-variant"])


BAD = {
    "malformed json": (b"{not json", "application/json", 400, "not valid JSON", None),
    "wrong content type": (b'{"inputs": [[1,2,3,4]]}', "text/plain", 415, "application/json", None),
    "no known key": (b'{"rows": [[1,2,3,4]]}', "application/json", 400, "exactly one of", "rows"),
    "wrong column names": (
        b'{"dataframe_split": {"columns": ["a","sepal_width","petal_length","petal_width"], "data": [[1,2,3,4]]}}',
        "application/json",
        422,
        "missing column(s) ['sepal_length']",
        "sepal_length",
    ),
    "wrong count": (
        b'{"instances": [[1,2,3]]}',
        "application/json",
        422,
        "rows have 3 values, the model expects 4",
        "instances",
    ),
    "ragged rows": (
        b'{"instances": [[1,2,3,4],[1,2,3]]}',
        "application/json",
        422,
        "instances[1] has 3 values, the model expects 4",
        "instances[1]",
    ),
    "wrong type": (
        b'{"instances": [[1,2,"x",4]]}',
        "application/json",
        422,
        "'petal_length' must be a number",
        "petal_length",
    ),
    "nan where required": (
        b'{"instances": [[1,2,null,4]]}',
        "application/json",
        422,
        "'petal_length' is required but row 0 has no value",
        "petal_length",
    ),
    "extra record key": (
        b'{"dataframe_records": [{"sepal_length":1,"sepal_width":2,"petal_length":3,"petal_width":4,"colour":5}]}',
        "application/json",
        422,
        "unknown ['colour']",
        "colour",
    ),
    "too large": (
        b'{"instances": [' + b",".join([b"[1,2,3,4]"] * 3000) + b"]}",
        "application/json",
        413,
        "limit is 20000",
        None,
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_is_a_client_error_naming_the_field(client, case):
    body, content_type, status, message, field = BAD[case]
    response = client.post("/invocations", content=body, headers={"content-type": content_type})
    assert response.status_code == status, response.text
    payload = response.json()
    assert message in payload["error"]
    assert payload.get("field") == field
    assert payload["request_id"]


def test_v2_bad_tensor_shape_is_422(client):
    body = {"inputs": [{"name": "x", "shape": [2, 4], "datatype": "FP64", "data": [1, 2, 3, 4]}]}
    response = client.post("/v2/models/iris/infer", json=body)
    assert response.status_code == 422
    assert "do not fill shape [2, 4]" in response.json()["error"]


def test_unknown_model_is_404(client):
    response = client.post("/v2/models/nope/infer", json={"inputs": []})
    assert response.status_code == 404
    assert "unknown model 'nope'" in response.json()["error"]
    assert client.get("/v2/models/nope").status_code == 404


def test_a_model_that_raises_gives_500_with_request_id_and_the_server_stays_up(client):
    bad = client.post(
        "/models/boom/invocations", json={"instances": [[-1.0, 2, 3, 4]]}, headers={"x-request-id": "trace-42"}
    )
    assert bad.status_code == 500
    assert bad.json()["request_id"] == "trace-42" and "trace-42" in bad.json()["error"]
    good = client.post("/models/boom/invocations", json={"instances": [[1.5, 2, 3, 4]]})
    assert good.status_code == 200 and good.json()["predictions"] == [3.0]
    assert good.headers["x-model-variant"] == "champion"


def test_health_metadata_and_openapi(client, registry):
    assert client.get("/v2/health/live").status_code == 200
    assert client.get("/v2/health/ready").json() == {"ready": True}
    meta = client.get("/v2/models/iris").json()
    assert [i["name"] for i in meta["inputs"]] == IRIS_COLUMNS
    assert meta["parameters"]["variants"]["challenger"]["version"] == registry["challenger"]
    assert meta["parameters"]["challenger_weight"] == 0.3
    spec = client.get("/openapi.json").json()
    assert "/v2/models/{name}/infer" in spec["paths"] and "/invocations" in spec["paths"]


def test_canary_split_is_within_5_points_of_its_weight_over_2000_requests(client):
    variants = [
        client.post("/invocations", json={"instances": ROWS[:1]}).headers["x-model-variant"] for _ in range(2000)
    ]
    share = variants.count("challenger") / len(variants)
    assert abs(share - 0.30) <= 0.05, share
    assert set(variants) == {"champion", "challenger"}  # the shadow never answers


def test_shadow_never_changes_responses_but_is_measured(client, local_models):
    x, _ = iris_data()
    rows = x[::3].tolist()
    shadow_differs = expected(local_models, "shadow", rows) != expected(local_models, "champion", rows)
    assert shadow_differs, "the shadow model must disagree somewhere for this test to mean anything"
    for _ in range(20):
        response = client.post("/invocations", json={"instances": rows})
        assert response.json()["predictions"] == expected(local_models, response.headers["x-model-variant"], rows)
    time.sleep(0.5)
    metrics = client.get("/metrics").text
    assert 'mlplat_requests_total{code="200",model="iris",variant="shadow"' in metrics
    assert 'mlplat_shadow_disagreements_total{model="iris"}' in metrics


def test_metrics_expose_requests_latency_in_flight_predictions_and_drift(client):
    x, _ = iris_data()
    drifted = (x[:60] * 3).tolist()  # every feature far outside its training range
    client.post("/models/moving/invocations", json={"instances": drifted})
    metrics = client.get("/metrics").text
    for name in (
        "mlplat_requests_total",
        "mlplat_request_duration_seconds_bucket",
        "mlplat_inference_duration_seconds_bucket",
        "mlplat_requests_in_flight",
        "mlplat_predictions_total",
        "mlplat_registry_up 1.0",
    ):
        assert name in metrics
    drift = [
        line
        for line in metrics.splitlines()
        if line.startswith("mlplat_feature_drift_psi") and 'model="moving"' in line
    ]
    assert len(drift) == 4
    assert all(float(line.rsplit(" ", 1)[1]) > 0.2 for line in drift), drift


def test_an_alias_move_during_steady_traffic_fails_no_request(client, mlflow_server):
    failures, versions, stop = [], set(), threading.Event()

    def traffic():
        with httpx.Client(base_url=str(client.base_url), timeout=10) as http:
            while not stop.is_set():
                response = http.post("/models/moving/invocations", json={"instances": ROWS})
                if response.status_code != 200:
                    failures.append(response.status_code)
                versions.add(response.headers.get("x-model-version"))

    workers = [threading.Thread(target=traffic) for _ in range(4)]
    for worker in workers:
        worker.start()
    try:
        new_version = register_iris(mlflow_server.uri, "moving", alias=None, C=0.5)
        MlflowClient(mlflow_server.uri).set_registered_model_alias("moving", "champion", new_version)
        deadline = time.monotonic() + 30
        while new_version not in versions and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(0.5)
    finally:
        stop.set()
        for worker in workers:
            worker.join()
    assert new_version in versions, versions
    assert failures == []


def test_codec_nan_check_is_not_fooled_by_optional_columns():
    from services.model_server.codec import Signature, decode_invocations

    signature = Signature(("a", "b"), ("double", "double"), (True, False))
    batch = decode_invocations({"instances": [[1.0, None]]}, signature)
    assert np.isnan(batch[0, 1])
