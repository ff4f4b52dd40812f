"""The Open Inference Protocol, REST and gRPC, against the real server and a real registry.

Written against the protocol's own definitions (the spec's REST document, its .proto, the binary
tensor data extension); the unmodified client libraries users have are run in
tests/services/test_oip_clients.py. Every answer is compared with the registered model's own
`predict`; every bad request must get the protocol's error, never a 5xx.
"""

from __future__ import annotations

import gzip
import struct
import zlib

import grpc
import httpx
import numpy as np
import orjson
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.model_server.grpc_api import health_pb2 as health
from services.model_server.grpc_api import open_inference_grpc_pb2 as pb
from tests.services.mlflow_fixtures import IRIS_COLUMNS, register_iris, register_raising, start_model_server

ROWS = np.array([[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3], [5.9, 3.0, 4.2, 1.5]])


@pytest.fixture(scope="module")
def versions(mlflow_server):
    uri = mlflow_server.uri
    found = {
        "champion": register_iris(uri, "oip", "champion"),
        "challenger": register_iris(uri, "oip", "challenger", C=0.05),
        "shadow": register_iris(uri, "oip", "shadow", C=0.01),
    }
    register_raising(uri, "oip-boom")
    return found


@pytest.fixture(scope="module")
def server(mlflow_server, versions, tmp_path_factory):
    proc = start_model_server(
        mlflow_server.uri,
        [
            "models:/oip@champion",
            "models:/oip-boom@champion",
            "--challenger",
            "models:/oip@challenger",
            "--challenger-weight",
            "oip=30",
            "--shadow",
            "models:/oip@shadow",
            "--max-body-bytes",
            "400000",
        ],
        tmp_path_factory.mktemp("oip"),
    )
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def http(server):
    with httpx.Client(base_url=server.url, timeout=10) as client:
        yield client


@pytest.fixture(scope="module")
def channel(server):
    with grpc.insecure_channel(server.grpc) as opened:
        yield opened


@pytest.fixture(scope="module")
def local(mlflow_server, versions):
    """The registered versions loaded in-process: what every answer must equal, by variant."""
    import mlflow.sklearn

    mlflow.set_tracking_uri(mlflow_server.uri)
    return {variant: mlflow.sklearn.load_model(f"models:/oip/{version}") for variant, version in versions.items()}


def expected(local, variant: str, rows: np.ndarray = ROWS) -> list:
    return local[variant].predict(pd.DataFrame(rows, columns=IRIS_COLUMNS)).tolist()


def v2_json(rows: np.ndarray = ROWS, **extra) -> dict:
    return {
        "inputs": [{"name": "x", "shape": list(rows.shape), "datatype": "FP64", "data": rows.ravel().tolist()}],
        **extra,
    }


def binary_body(header: dict, *tensors: bytes) -> tuple[bytes, dict[str, str]]:
    head = orjson.dumps(header)
    return head + b"".join(tensors), {"inference-header-content-length": str(len(head))}


def split_binary(response: httpx.Response) -> tuple[dict, bytes]:
    length = int(response.headers["inference-header-content-length"])
    return orjson.loads(response.content[:length]), response.content[length:]


# --- REST: content types and codings -----------------------------------------------------------------


@pytest.mark.parametrize("path", ["/v2/models/oip/infer", "/invocations"])
def test_a_json_body_without_content_type_is_read_as_json(http, local, path):
    body = v2_json() if path.startswith("/v2") else {"instances": ROWS.tolist()}
    response = http.post(path, content=orjson.dumps(body))  # httpx sets no Content-Type for raw content
    assert "content-type" not in response.request.headers
    assert response.status_code == 200, response.text
    answer = response.json()
    data = answer["outputs"][0]["data"] if path.startswith("/v2") else answer["predictions"]
    assert data == expected(local, response.headers["x-model-variant"])


@pytest.mark.parametrize(
    ("path", "content_type", "says"),
    [
        ("/v2/models/oip/infer", "text/plain", "application/octet-stream with Inference-Header-Content-Length"),
        ("/v2/models/oip/infer", "application/octet-stream", "binary tensor data extension"),
        ("/invocations", "application/octet-stream", "binary tensor data extension"),
        ("/invocations", "text/csv", "application/json (or no Content-Type)"),
    ],
)
def test_a_wrong_content_type_is_415_saying_what_to_send(http, path, content_type, says):
    response = http.post(path, content=orjson.dumps(v2_json()), headers={"content-type": content_type})
    assert response.status_code == 415, response.text
    assert says in response.json()["error"]


@pytest.mark.parametrize("coding", ["gzip", "deflate"])
def test_compressed_bodies_are_inflated(http, local, coding):
    body = orjson.dumps(v2_json())
    packed = gzip.compress(body) if coding == "gzip" else zlib.compress(body)
    response = http.post("/v2/models/oip/infer", content=packed, headers={"content-encoding": coding})
    assert response.status_code == 200, response.text
    assert response.json()["outputs"][0]["data"] == expected(local, response.headers["x-model-variant"])


@pytest.mark.parametrize(
    ("body", "coding", "status", "says"),
    [
        (b"not gzip at all", "gzip", 400, "does not inflate"),
        (gzip.compress(b"{}", mtime=0)[:-6], "gzip", 400, "cut off"),
        (gzip.compress(b" " * 1_000_000), "gzip", 413, "inflates past the 400000-byte limit"),
        (b"{}", "br", 415, "Content-Encoding 'br' is not supported"),
    ],
)
def test_bad_content_codings_are_client_errors(http, body, coding, status, says):
    response = http.post("/v2/models/oip/infer", content=body, headers={"content-encoding": coding})
    assert response.status_code == status, response.text
    assert says in response.json()["error"]


# --- REST: versions, metadata, datatypes -----------------------------------------------------------


def test_versioned_infer_answers_from_that_version_whatever_the_canary_split(http, local, versions):
    for variant in ("champion", "challenger"):
        for _ in range(10):
            response = http.post(f"/v2/models/oip/versions/{versions[variant]}/infer", json=v2_json())
            assert response.status_code == 200, response.text
            assert response.headers["x-model-variant"] == variant
            answer = response.json()
            assert answer["model_version"] == versions[variant]
            assert answer["parameters"]["model_variant"] == variant
            assert answer["outputs"][0]["data"] == expected(local, variant)


@pytest.mark.parametrize("which", ["shadow", "unknown"])
def test_a_version_not_served_is_404_naming_the_versions_served(http, versions, which):
    version = versions["shadow"] if which == "shadow" else "999"
    served = sorted([versions["champion"], versions["challenger"]], key=int)
    for response in (
        http.post(f"/v2/models/oip/versions/{version}/infer", json=v2_json()),
        http.get(f"/v2/models/oip/versions/{version}"),
        http.get(f"/v2/models/oip/versions/{version}/ready"),
    ):
        assert response.status_code == 404, response.text
        assert f"has no version '{version}' here; it serves versions {served}" in response.json()["error"]
        assert response.json()["field"] == "version"


def test_metadata_declares_what_the_answers_carry(http, versions):
    meta = http.get("/v2/models/oip").json()
    assert meta["versions"] == sorted([versions["champion"], versions["challenger"]], key=int)
    assert meta["inputs"] == [{"name": c, "datatype": "FP64", "shape": [-1]} for c in IRIS_COLUMNS]
    assert meta["outputs"] == [{"name": "predict", "datatype": "INT64", "shape": [-1]}]
    answer = http.post("/v2/models/oip/infer", json=v2_json()).json()
    assert answer["outputs"][0]["datatype"] == "INT64" and answer["outputs"][0]["shape"] == [3]
    assert all(isinstance(v, int) for v in answer["outputs"][0]["data"])
    boom = http.get("/v2/models/oip-boom").json()  # a pyfunc regressor: measured or declared FP64
    assert boom["outputs"] == [{"name": "predict", "datatype": "FP64", "shape": [-1]}]
    versioned = http.get(f"/v2/models/oip/versions/{versions['challenger']}").json()
    assert versioned["outputs"] == meta["outputs"] and versioned["name"] == "oip"
    assert http.get(f"/v2/models/oip/versions/{versions['challenger']}/ready").json() == {"name": "oip", "ready": True}


def test_server_metadata_names_the_binary_extension(http):
    assert "binary_tensor_data" in http.get("/v2").json()["extensions"]


# --- REST: the binary tensor data extension ------------------------------------------------------


def test_binary_inputs_and_binary_outputs(http, local):
    header = {
        "inputs": [{"name": "x", "shape": [3, 4], "datatype": "FP32", "parameters": {"binary_data_size": 48}}],
        "outputs": [{"name": "predict", "parameters": {"binary_data": True}}],
        "id": "bin-1",
    }
    body, headers = binary_body(header, ROWS.astype("<f4").tobytes())
    response = http.post("/v2/models/oip/infer", content=body, headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/octet-stream"
    answer, raw = split_binary(response)
    output = answer["outputs"][0]
    assert answer["id"] == "bin-1" and "data" not in output
    assert output["parameters"]["binary_data_size"] == len(raw) == 24
    rows32 = ROWS.astype(np.float32).astype(np.float64)
    assert np.frombuffer(raw, "<i8").tolist() == expected(local, response.headers["x-model-variant"], rows32)


def test_binary_and_json_inputs_mix_and_outputs_default_to_json(http, local):
    columns = ROWS.T
    inputs = [
        {"name": c, "shape": [3], "datatype": "FP64", "parameters": {"binary_data_size": 24}} for c in IRIS_COLUMNS[:2]
    ] + [
        {"name": c, "shape": [3], "datatype": "FP64", "data": columns[i].tolist()}
        for i, c in enumerate(IRIS_COLUMNS)
        if i >= 2
    ]
    body, headers = binary_body({"inputs": inputs}, columns[0].tobytes(), columns[1].tobytes())
    response = http.post(
        "/v2/models/oip/infer", content=body, headers={**headers, "content-type": "application/octet-stream"}
    )
    assert response.status_code == 200, response.text
    assert "inference-header-content-length" not in response.headers
    assert response.json()["outputs"][0]["data"] == expected(local, response.headers["x-model-variant"])


def test_binary_output_for_a_json_request(http, local):
    response = http.post("/v2/models/oip/infer", json=v2_json(parameters={"binary_data_output": True}))
    answer, raw = split_binary(response)
    assert np.frombuffer(raw, "<i8").tolist() == expected(local, response.headers["x-model-variant"])


def _tensor(size, datatype="FP64", **extra) -> dict:
    tensor = {"name": "x", "shape": [3, 4], "datatype": datatype, "parameters": {"binary_data_size": size}, **extra}
    return {"inputs": [tensor]}


def _binary(header: dict, *tensors: bytes) -> tuple[bytes, str]:
    body, headers = binary_body(header, *tensors)
    return body, headers["inference-header-content-length"]


BAD_BINARY = {
    "header longer than the body": (b"{}", "100", 400, "must be the JSON header's size"),
    "header length not a number": (b"{}", "ten", 400, "must be the JSON header's size"),
    "sizes do not add up": (*_binary(_tensor(96), ROWS.tobytes() + b"\0" * 8), 400, "add up to 96"),
    "size past the end": (*_binary(_tensor(200), ROWS.tobytes()), 400, "runs past the 96 bytes"),
    "not whole values": (*_binary(_tensor(95), ROWS.tobytes()[:95]), 400, "not a whole number of FP64"),
    "data and binary": (*_binary(_tensor(96, data=[1]), ROWS.tobytes()), 400, "both data and binary"),
    "bool not 0 or 1": (*_binary(_tensor(12, "BOOL"), b"\x02" * 12), 400, "0 or 1"),
    "size not a count": (*_binary(_tensor("96"), ROWS.tobytes()), 400, "must be a byte count"),
    "bf16": (*_binary(_tensor(24, "BF16"), b"\0" * 24), 422, "'BF16' is not supported"),
    "json header broken": (b"{not json" + ROWS.tobytes(), "9", 400, "not valid JSON"),
}


@pytest.mark.parametrize("case", sorted(BAD_BINARY))
def test_bad_binary_bodies_are_client_errors(http, case):
    body, length, status, says = BAD_BINARY[case]
    response = http.post("/v2/models/oip/infer", content=body, headers={"inference-header-content-length": length})
    assert response.status_code == status, response.text
    assert says in response.json()["error"]


# --- REST: requested outputs and parameters -------------------------------------------------------


BAD_OPTIONS = {
    "unknown output": ({"outputs": [{"name": "proba"}]}, "unknown output 'proba'", "outputs[0].name"),
    "twice": ({"outputs": [{"name": "predict"}, {"name": "predict"}]}, "requested twice", "outputs[1].name"),
    "classification": (
        {"outputs": [{"name": "predict", "parameters": {"classification": 2}}]},
        "classification extension is not supported",
        "outputs[0].parameters.classification",
    ),
    "shared memory": (
        {"outputs": [{"name": "predict", "parameters": {"shared_memory_region": "r"}}]},
        "shared-memory extension",
        "outputs[0].parameters.shared_memory_region",
    ),
    "binary_data not a bool": (
        {"outputs": [{"name": "predict", "parameters": {"binary_data": "yes"}}]},
        "must be true or false",
        "outputs[0].parameters.binary_data",
    ),
    "parameters not an object": ({"parameters": [1]}, "parameters must be an object", "parameters"),
    "outputs not a list": ({"outputs": "predict"}, "outputs must be a list", "outputs"),
    "id not a string": ({"id": 7}, "id must be a string", "id"),
}


@pytest.mark.parametrize("case", sorted(BAD_OPTIONS))
def test_bad_outputs_and_parameters_are_400_naming_the_field(http, case):
    extra, says, field = BAD_OPTIONS[case]
    response = http.post("/v2/models/oip/infer", json=v2_json(**extra))
    assert response.status_code == 400, response.text
    assert says in response.json()["error"] and response.json()["field"] == field


def test_the_predict_output_and_unknown_parameters_are_accepted(http):
    body = v2_json(outputs=[{"name": "predict", "parameters": {"binary_data": False}}], parameters={"priority": 1})
    response = http.post("/v2/models/oip/infer", json=body)
    assert response.status_code == 200, response.text
    assert [o["name"] for o in response.json()["outputs"]] == ["predict"]


# --- MLflow's own client ---------------------------------------------------------------------


def test_mlflow_scoring_server_client_works_unchanged(server, local):
    from mlflow.pyfunc.scoring_server.client import ScoringServerClient

    host, port = server.url.removeprefix("http://").split(":")
    client = ScoringServerClient(host, int(port))
    client.wait_server_ready(timeout=10)
    answer = client.invoke(pd.DataFrame(ROWS, columns=IRIS_COLUMNS))
    assert answer.get_predictions(predictions_format="ndarray").tolist() in (
        expected(local, "champion"),
        expected(local, "challenger"),
    )


# --- gRPC ----------------------------------------------------------------------------------------


def rpc(channel, method: str, request, response_type, service="inference.GRPCInferenceService", **kwargs):
    call = channel.unary_unary(
        f"/{service}/{method}",
        request_serializer=lambda message: message if isinstance(message, bytes) else message.SerializeToString(),
        response_deserializer=response_type.FromString,
    )
    return call.with_call(request, timeout=10, **kwargs)


def infer_request(rows: np.ndarray = ROWS, raw: bool = True, **fields) -> pb.ModelInferRequest:
    request = pb.ModelInferRequest(**{"model_name": "oip", **fields})
    tensor = request.inputs.add(name="x", datatype="FP64", shape=rows.shape)
    if raw:
        request.raw_input_contents.append(rows.astype("<f8").tobytes())
    else:
        tensor.contents.fp64_contents.extend(rows.ravel().tolist())
    return request


def rpc_error(channel, method, request, response_type=pb.ModelInferResponse, **kwargs) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as raised:
        rpc(channel, method, request, response_type, **kwargs)
    return raised.value


def test_grpc_health_and_metadata(channel, versions):
    assert rpc(channel, "ServerLive", pb.ServerLiveRequest(), pb.ServerLiveResponse)[0].live
    assert rpc(channel, "ServerReady", pb.ServerReadyRequest(), pb.ServerReadyResponse)[0].ready
    assert rpc(channel, "ModelReady", pb.ModelReadyRequest(name="oip"), pb.ModelReadyResponse)[0].ready
    ready = pb.ModelReadyRequest(name="oip", version=versions["challenger"])
    assert rpc(channel, "ModelReady", ready, pb.ModelReadyResponse)[0].ready
    server_meta = rpc(channel, "ServerMetadata", pb.ServerMetadataRequest(), pb.ServerMetadataResponse)[0]
    assert server_meta.name == "mlops-platform-model-server" and "binary_tensor_data" in server_meta.extensions
    meta = rpc(channel, "ModelMetadata", pb.ModelMetadataRequest(name="oip"), pb.ModelMetadataResponse)[0]
    assert list(meta.versions) == sorted([versions["champion"], versions["challenger"]], key=int)
    assert [(t.name, t.datatype, list(t.shape)) for t in meta.inputs] == [(c, "FP64", [-1]) for c in IRIS_COLUMNS]
    assert [(t.name, t.datatype, list(t.shape)) for t in meta.outputs] == [("predict", "INT64", [-1])]
    assert meta.properties["challenger_version"] == versions["challenger"]
    assert meta.properties["challenger_weight"] == "0.3"
    check = rpc(
        channel, "Check", health.HealthCheckRequest(), health.HealthCheckResponse, service="grpc.health.v1.Health"
    )
    assert check[0].status == health.HealthCheckResponse.SERVING


@pytest.mark.parametrize("raw", [True, False], ids=["raw", "contents"])
def test_grpc_infer_answers_like_the_model_and_mirrors_the_request_form(channel, local, raw):
    response, call = rpc(channel, "ModelInfer", infer_request(raw=raw, id="g-1"), pb.ModelInferResponse)
    variant = response.parameters["model_variant"].string_param
    trailing = dict(call.trailing_metadata())
    assert trailing["x-model-variant"] == variant and trailing["x-model-version"] == response.model_version
    output = response.outputs[0]
    assert (response.id, output.name, output.datatype, list(output.shape)) == ("g-1", "predict", "INT64", [3])
    if raw:
        assert not output.HasField("contents")
        values = np.frombuffer(response.raw_output_contents[0], "<i8").tolist()
    else:
        assert not response.raw_output_contents
        values = list(output.contents.int64_contents)
    assert values == expected(local, variant)


def test_grpc_versioned_infer_and_canary_split_share_the_rest_routes(channel, local, versions):
    challenger = infer_request(model_version=versions["challenger"])
    response = rpc(channel, "ModelInfer", challenger, pb.ModelInferResponse)[0]
    assert response.parameters["model_variant"].string_param == "challenger"
    assert np.frombuffer(response.raw_output_contents[0], "<i8").tolist() == expected(local, "challenger")
    variants = [
        rpc(channel, "ModelInfer", infer_request(ROWS[:1]), pb.ModelInferResponse)[0]
        .parameters["model_variant"]
        .string_param
        for _ in range(600)
    ]
    assert abs(variants.count("challenger") / len(variants) - 0.30) <= 0.07
    assert set(variants) == {"champion", "challenger"}  # the shadow never answers


def test_grpc_requests_are_counted_in_the_shared_metrics(http, channel):
    def served() -> float:
        lines = [
            line
            for line in http.get("/metrics").text.splitlines()
            if line.startswith("mlplat_requests_total{") and 'model="oip-boom"' in line and 'code="200"' in line
        ]
        return sum(float(line.rsplit(" ", 1)[1]) for line in lines)

    before = served()
    request = infer_request(model_name="oip-boom")
    for _ in range(5):
        rpc(channel, "ModelInfer", request, pb.ModelInferResponse)
    assert served() == before + 5


GRPC_ERRORS = {
    "not a protobuf": (b"\xff\xff\xff", grpc.StatusCode.INVALID_ARGUMENT, "not a valid protobuf message"),
    "unknown model": (pb.ModelInferRequest(model_name="nope"), grpc.StatusCode.NOT_FOUND, "unknown model 'nope'"),
    "unknown version": (infer_request(model_version="999"), grpc.StatusCode.NOT_FOUND, "has no version '999' here"),
    "shape does not fit": (
        infer_request(ROWS.ravel()[:10].reshape(2, 5)),
        grpc.StatusCode.INVALID_ARGUMENT,
        "has 5 columns",
    ),
    "raw count": (
        pb.ModelInferRequest(model_name="oip", raw_input_contents=[b"", b""]),
        grpc.StatusCode.INVALID_ARGUMENT,
        "2 entries for 0 inputs",
    ),
    "wrong contents field": (
        pb.ModelInferRequest(
            model_name="oip",
            inputs=[{"name": "x", "datatype": "FP64", "shape": [1, 4], "contents": {"fp32_contents": [1, 2, 3, 4]}}],
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "FP64 values go in contents.fp64_contents",
    ),
    "unknown output": (infer_request(outputs=[{"name": "proba"}]), grpc.StatusCode.INVALID_ARGUMENT, "unknown output"),
    "model raises": (
        infer_request(np.array([[-1.0, 2, 3, 4]]), model_name="oip-boom"),
        grpc.StatusCode.INTERNAL,
        "the model raised while predicting",
    ),
}


@pytest.mark.parametrize("case", sorted(GRPC_ERRORS))
def test_grpc_errors_carry_the_protocol_status(channel, case):
    request, code, says = GRPC_ERRORS[case]
    error = rpc_error(channel, "ModelInfer", request, metadata=(("x-request-id", "grpc-err"),))
    assert error.code() == code, error.details()
    assert says in error.details()
    if code == grpc.StatusCode.INTERNAL:  # the model's own failure: the request id to quote
        assert "grpc-err" in error.details()
    assert rpc(channel, "ServerLive", pb.ServerLiveRequest(), pb.ServerLiveResponse)[0].live  # still up


def test_grpc_metadata_errors(channel):
    assert rpc_error(
        channel, "ModelMetadata", pb.ModelMetadataRequest(name="nope"), pb.ModelMetadataResponse
    ).code() == (grpc.StatusCode.NOT_FOUND)
    error = rpc_error(channel, "ModelReady", pb.ModelReadyRequest(name="oip", version="999"), pb.ModelReadyResponse)
    assert error.code() == grpc.StatusCode.NOT_FOUND and "it serves versions" in error.details()
    error = rpc_error(
        channel,
        "Check",
        health.HealthCheckRequest(service="other"),
        health.HealthCheckResponse,
        service="grpc.health.v1.Health",
    )
    assert error.code() == grpc.StatusCode.NOT_FOUND


def test_a_grpc_message_over_the_size_limit_is_resource_exhausted(channel):
    big = np.zeros((20000, 4))  # 640 KB against the 400 KB limit
    assert rpc_error(channel, "ModelInfer", infer_request(big)).code() == grpc.StatusCode.RESOURCE_EXHAUSTED


_DATATYPES = st.sampled_from(["FP64", "FP32", "FP16", "INT64", "INT32", "UINT8", "BOOL", "BYTES", "BF16", "", "x"])


@st.composite
def _mangled_requests(draw) -> bytes:
    """ModelInferRequests with arbitrary names, datatypes, shapes and data, raw or typed; or random bytes."""
    if draw(st.integers(0, 4)) == 0:
        return draw(st.binary(max_size=64))
    # (not oip-boom: random rows may make that model raise, a 500 that is the model's, not the request's)
    request = pb.ModelInferRequest(model_name=draw(st.sampled_from(["oip", "oip", "", "nope"])))
    request.model_version = draw(st.sampled_from(["", "", "1", "999"]))
    raw = draw(st.booleans())
    for _ in range(draw(st.integers(0, 3))):
        tensor = request.inputs.add(name=draw(st.sampled_from(["x", *IRIS_COLUMNS, ""])), datatype=draw(_DATATYPES))
        tensor.shape.extend(draw(st.lists(st.integers(-2, 5), max_size=3)))
        if raw:
            request.raw_input_contents.append(draw(st.binary(max_size=80)))
        else:
            tensor.contents.fp64_contents.extend(draw(st.lists(st.floats(), max_size=12)))
            if draw(st.booleans()):
                tensor.contents.bytes_contents.append(draw(st.binary(max_size=8)))
    if draw(st.booleans()):
        request.outputs.add(name=draw(st.sampled_from(["predict", "proba"])))
    if draw(st.booleans()):
        request.parameters["binary_data_output"].string_param = "yes"
    data = request.SerializeToString()
    if data and draw(st.integers(0, 3)) == 0:  # flip a byte of a valid message
        index = draw(st.integers(0, len(data) - 1))
        data = data[:index] + bytes([data[index] ^ draw(st.integers(1, 255))]) + data[index + 1 :]
    return data


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=_mangled_requests())
def test_no_grpc_message_gets_a_server_error(channel, data):
    try:
        rpc(channel, "ModelInfer", data, pb.ModelInferResponse)
    except grpc.RpcError as error:
        assert error.code() in (
            grpc.StatusCode.INVALID_ARGUMENT,
            grpc.StatusCode.NOT_FOUND,
        ), f"{error.code()}: {error.details()}"


def test_bytes_tensors_are_length_prefixed_text():
    from services.model_server.tensors import from_raw, to_raw

    raw = to_raw(np.array(["setosa", "virginica"]), "BYTES")
    assert raw == struct.pack("<I", 6) + b"setosa" + struct.pack("<I", 9) + b"virginica"
    assert from_raw(raw, "BYTES", "inputs[0]") == ["setosa", "virginica"]
