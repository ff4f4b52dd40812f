"""The clients users already have, unmodified, against the real model server: Triton's `tritonclient`
(HTTP and gRPC) and KServe's `InferenceRESTClient` / `InferenceGRPCClient`.

They live in a virtualenv of their own (tests/services/oip_clients/requirements.txt, built once into
~/.cache/mlops-platform/oip-clients/): they need protobuf 6, the platform is pinned to 5.29. Each runs
a script of ordinary client calls (tests/services/oip_clients/*_calls.py) that prints every call's
outcome; this test asserts each one succeeded with the model's own answer, or failed with the
status the protocol gives. MLflow's ScoringServerClient is in test_model_server_oip.py.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.services.mlflow_fixtures import IRIS_COLUMNS, register_iris, start_model_server

CLIENTS = Path(__file__).parent / "oip_clients"
ROWS = np.array([[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3], [5.9, 3.0, 4.2, 1.5]])  # the scripts' rows
CANARY_CALLS = 300


def clients_python() -> Path:
    """The clients' interpreter, installing their pinned virtualenv on first use (a lock keeps two
    test runs from building it at once)."""
    requirements = CLIENTS / "requirements.txt"
    digest = hashlib.sha256(requirements.read_bytes()).hexdigest()[:12]
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "mlops-platform" / "oip-clients"
    venv = cache / digest
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / f"{digest}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (venv / ".installed").exists():
            subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
            subprocess.run(
                [
                    str(venv / "bin" / "pip"),
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    "-r",
                    str(requirements),
                ],
                check=True,
                timeout=1200,
            )
            (venv / ".installed").touch()
    return venv / "bin" / "python"


@pytest.fixture(scope="module")
def versions(mlflow_server):
    return {
        "champion": register_iris(mlflow_server.uri, "oipc", "champion"),
        "challenger": register_iris(mlflow_server.uri, "oipc", "challenger", C=0.05),
    }


@pytest.fixture(scope="module")
def server(mlflow_server, versions, tmp_path_factory):
    proc = start_model_server(
        mlflow_server.uri,
        ["models:/oipc@champion", "--challenger", "models:/oipc@challenger", "--challenger-weight", "30"],
        tmp_path_factory.mktemp("oip-clients"),
    )
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def local(mlflow_server, versions):
    import mlflow.sklearn

    mlflow.set_tracking_uri(mlflow_server.uri)
    return {variant: mlflow.sklearn.load_model(f"models:/oipc/{version}") for variant, version in versions.items()}


def expected(local, variant: str, rows: np.ndarray = ROWS) -> list:
    return local[variant].predict(pd.DataFrame(rows, columns=IRIS_COLUMNS)).tolist()


def run_calls(script: str, server, versions) -> dict:
    done = subprocess.run(
        [
            str(clients_python()),
            str(CLIENTS / script),
            "--http",
            server.url.removeprefix("http://"),
            "--grpc",
            server.grpc,
            "--model",
            "oipc",
            "--challenger",
            versions["challenger"],
            *(["--champion", versions["champion"]] if script.startswith("triton") else []),
            "--canary-calls",
            str(CANARY_CALLS),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def triton(server, versions):
    return run_calls("triton_calls.py", server, versions)


@pytest.fixture(scope="module")
def kserve(server, versions):
    return run_calls("kserve_calls.py", server, versions)


def ok(results: dict, call: str):
    outcome = results[call]
    assert outcome["ok"], f"{call}: {outcome}"
    return outcome["value"]


def failed(results: dict, call: str, status) -> str:
    outcome = results[call]
    assert not outcome["ok"] and outcome["status"] == status, f"{call}: {outcome}"
    return outcome["message"]


def assert_answer(value: dict, local, rows: np.ndarray = ROWS) -> None:
    assert value["variant"] in ("champion", "challenger"), value
    assert value["predict"] == expected(local, value["variant"], rows), value


def assert_canary_split(counts: dict) -> None:
    assert set(counts) == {"champion", "challenger"}, counts
    assert abs(counts["challenger"] / sum(counts.values()) - 0.30) <= 0.08, counts


FP32_ROWS = ROWS.astype(np.float32).astype(np.float64)


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_tritonclient_health_and_metadata(triton, versions, protocol):
    results = triton[protocol]
    for call in ("is_server_live", "is_server_ready", "is_model_ready", "is_model_ready_versioned"):
        assert ok(results, call) is True, call
    assert "binary_tensor_data" in ok(results, "get_server_metadata")["extensions"]
    for call in ("get_model_metadata", "get_model_metadata_versioned"):
        meta = ok(results, call)
        assert meta["versions"] == sorted(versions.values(), key=int)
        assert [(o["name"], o["datatype"]) for o in meta["outputs"]] == [("predict", "INT64")]
        assert [i["name"] for i in meta["inputs"]] == IRIS_COLUMNS
    status = "404" if protocol == "http" else "StatusCode.NOT_FOUND"
    assert "it serves versions" in failed(results, "get_model_metadata_unknown_version", status)


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_tritonclient_infers_json_binary_compressed_and_by_version(triton, local, versions, protocol):
    results = triton[protocol]
    for call in ("infer_json", "infer_binary") if protocol == "http" else ("infer_columns",):
        value = ok(results, call)
        assert_answer(value, local)
        assert value["dtype"] == "int64"
    assert ok(results, "infer_binary" if protocol == "http" else "infer_columns")["id"] == "t-1"
    for call in ("infer_matrix_fp32", "infer_gzip"):
        assert_answer(ok(results, call), local, FP32_ROWS)
    for variant in ("champion", "challenger"):
        value = ok(results, f"infer_version_{variant}")
        assert (value["variant"], value["model_version"]) == (variant, versions[variant])
        assert value["predict"] == expected(local, variant, FP32_ROWS)
    assert_canary_split(results["canary_variants"])


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_tritonclient_errors_carry_the_protocol_status(triton, protocol):
    results = triton[protocol]
    http = protocol == "http"
    not_found, invalid = ("404", "400") if http else ("StatusCode.NOT_FOUND", "StatusCode.INVALID_ARGUMENT")
    assert "unknown model 'no-such-model'" in failed(results, "error_unknown_model", not_found)
    assert "has no version '999'" in failed(results, "error_unknown_version", not_found)
    assert "the model expects 4" in failed(results, "error_wrong_width", "422" if http else invalid)
    assert "unknown output 'proba'" in failed(results, "error_unknown_output", invalid)
    assert "classification extension" in failed(results, "error_classification", invalid)
    if http:  # tritonclient's HTTP is_model_ready turns any non-200 into False
        assert ok(results, "error_model_ready_unknown") is False
    else:
        assert "unknown model" in failed(results, "error_model_ready_unknown", not_found)


def test_kserve_rest_client(kserve, local):
    results = kserve["rest"]
    for call in ("is_server_live", "is_server_ready", "is_model_ready"):
        assert ok(results, call) is True, call
    for call in ("infer_json", "infer_binary"):
        value = ok(results, call)
        assert_answer(value, local)
        assert (value["datatype"], value["id"]) == ("INT64", "k-1")
    headers = ok(results, "infer_headers")
    assert headers["x-model-variant"] in ("champion", "challenger") and headers["x-model-version"]
    assert "unknown model 'no-such-model'" in failed(results, "error_unknown_model", 404)
    assert "unknown output 'proba'" in failed(results, "error_unknown_output", 400)
    assert_canary_split(results["canary_variants"])  # read from the x-model-variant response header


def test_kserve_grpc_client(kserve, local, versions):
    results = kserve["grpc"]
    for call in ("is_server_live", "is_server_ready", "is_model_ready"):
        assert ok(results, call) is True, call
    for call in ("infer_raw", "infer_contents"):
        value = ok(results, call)
        assert_answer(value, local)
        assert (value["datatype"], value["id"]) == ("INT64", "k-1")
    value = ok(results, "infer_version_challenger")
    assert (value["variant"], value["model_version"]) == ("challenger", versions["challenger"])
    assert value["predict"] == expected(local, "challenger")
    assert "unknown model" in failed(results, "error_unknown_model", "StatusCode.NOT_FOUND")
    assert "has no version '999'" in failed(results, "error_unknown_version", "StatusCode.NOT_FOUND")
    assert_canary_split(results["canary_variants"])
