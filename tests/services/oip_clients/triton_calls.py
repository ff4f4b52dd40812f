"""Triton's `tritonclient` (HTTP and gRPC), unmodified, calling the model server the way its users do.

Run in the clients' own virtualenv (tests/services/oip_clients/requirements.txt: their pins conflict
with the platform's), by tests/services/test_oip_clients.py, which asserts on what it prints: one
JSON object, each call's outcome by name, `{"ok": true, "value": ...}` or
`{"ok": false, "status": ..., "message": ...}` as the client reported it.

    python triton_calls.py --http 127.0.0.1:8080 --grpc 127.0.0.1:8081 --model iris \\
        --champion 1 --challenger 2 --canary-calls 300
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

ROWS = np.array([[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3], [5.9, 3.0, 4.2, 1.5]])


def outcome(call: Callable[[], Any]) -> dict[str, Any]:
    try:
        return {"ok": True, "value": call()}
    except InferenceServerException as error:
        return {"ok": False, "status": error.status(), "message": error.message()}


def column_inputs(client, metadata: dict, binary: bool) -> list:
    """One input per column, named and typed from the model's metadata (what a user writes)."""
    inputs = []
    for index, spec in enumerate(metadata["inputs"]):
        tensor = client.InferInput(spec["name"], [len(ROWS)], spec["datatype"])
        column = ROWS[:, index].astype(np.float64 if spec["datatype"] == "FP64" else np.float32)
        if client is httpclient:
            tensor.set_data_from_numpy(column, binary_data=binary)
        else:
            tensor.set_data_from_numpy(column)
        inputs.append(tensor)
    return inputs


def matrix_input(client, datatype: str = "FP32") -> list:
    tensor = client.InferInput("input-0", list(ROWS.shape), datatype)
    tensor.set_data_from_numpy(ROWS.astype(np.float32 if datatype == "FP32" else np.float64))
    return [tensor]


def answer(result, client) -> dict[str, Any]:
    """The prediction, its dtype, and the version and variant that answered."""
    response = result.get_response() if client is httpclient else result.get_response(as_json=True)
    values = result.as_numpy("predict")
    variant = response.get("parameters", {}).get("model_variant")
    if isinstance(variant, dict):  # gRPC's JSON form of an InferParameter
        variant = variant.get("string_param")
    return {
        "predict": values.tolist(),
        "dtype": str(values.dtype),
        "model_version": response.get("model_version"),
        "variant": variant,
        "id": response.get("id"),
    }


def http_calls(url: str, model: str, champion: str, challenger: str, canary_calls: int) -> dict[str, Any]:
    client = httpclient.InferenceServerClient(url)
    results: dict[str, Any] = {
        "is_server_live": outcome(client.is_server_live),
        "is_server_ready": outcome(client.is_server_ready),
        "is_model_ready": outcome(lambda: client.is_model_ready(model)),
        "is_model_ready_versioned": outcome(lambda: client.is_model_ready(model, challenger)),
        "get_server_metadata": outcome(client.get_server_metadata),
        "get_model_metadata": outcome(lambda: client.get_model_metadata(model)),
        "get_model_metadata_versioned": outcome(lambda: client.get_model_metadata(model, challenger)),
        "get_model_metadata_unknown_version": outcome(lambda: client.get_model_metadata(model, "999")),
    }
    metadata = client.get_model_metadata(model)
    json_out = [httpclient.InferRequestedOutput("predict", binary_data=False)]
    results["infer_json"] = outcome(
        lambda: answer(client.infer(model, column_inputs(httpclient, metadata, False), outputs=json_out), httpclient)
    )
    results["infer_binary"] = outcome(  # tritonclient's defaults: binary inputs, binary outputs
        lambda: answer(client.infer(model, column_inputs(httpclient, metadata, True), request_id="t-1"), httpclient)
    )
    results["infer_matrix_fp32"] = outcome(lambda: answer(client.infer(model, matrix_input(httpclient)), httpclient))
    results["infer_gzip"] = outcome(
        lambda: answer(client.infer(model, matrix_input(httpclient), request_compression_algorithm="gzip"), httpclient)
    )
    for name, version in (("champion", champion), ("challenger", challenger)):
        results[f"infer_version_{name}"] = outcome(
            lambda version=version: answer(
                client.infer(model, matrix_input(httpclient), model_version=version), httpclient
            )
        )
    results.update(_errors(client, httpclient, model))
    results["canary_variants"] = dict(
        Counter(
            answer(client.infer(model, matrix_input(httpclient)), httpclient)["variant"] for _ in range(canary_calls)
        )
    )
    client.close()
    return results


def grpc_calls(url: str, model: str, champion: str, challenger: str, canary_calls: int) -> dict[str, Any]:
    client = grpcclient.InferenceServerClient(url)
    results: dict[str, Any] = {
        "is_server_live": outcome(client.is_server_live),
        "is_server_ready": outcome(client.is_server_ready),
        "is_model_ready": outcome(lambda: client.is_model_ready(model)),
        "is_model_ready_versioned": outcome(lambda: client.is_model_ready(model, challenger)),
        "get_server_metadata": outcome(lambda: client.get_server_metadata(as_json=True)),
        "get_model_metadata": outcome(lambda: client.get_model_metadata(model, as_json=True)),
        "get_model_metadata_versioned": outcome(lambda: client.get_model_metadata(model, challenger, as_json=True)),
        "get_model_metadata_unknown_version": outcome(lambda: client.get_model_metadata(model, "999", as_json=True)),
    }
    metadata = client.get_model_metadata(model, as_json=True)
    results["infer_columns"] = outcome(
        lambda: answer(client.infer(model, column_inputs(grpcclient, metadata, True), request_id="t-1"), grpcclient)
    )
    results["infer_matrix_fp32"] = outcome(lambda: answer(client.infer(model, matrix_input(grpcclient)), grpcclient))
    results["infer_gzip"] = outcome(
        lambda: answer(client.infer(model, matrix_input(grpcclient), compression_algorithm="gzip"), grpcclient)
    )
    for name, version in (("champion", champion), ("challenger", challenger)):
        results[f"infer_version_{name}"] = outcome(
            lambda version=version: answer(
                client.infer(model, matrix_input(grpcclient), model_version=version), grpcclient
            )
        )
    results.update(_errors(client, grpcclient, model))
    results["canary_variants"] = dict(
        Counter(
            answer(client.infer(model, matrix_input(grpcclient)), grpcclient)["variant"] for _ in range(canary_calls)
        )
    )
    client.close()
    return results


def _errors(client, module, model: str) -> dict[str, Any]:
    """Calls the protocol must refuse, each with its status."""
    wrong_width = module.InferInput("input-0", [3, 2], "FP64")
    wrong_width.set_data_from_numpy(ROWS[:, :2].copy())
    return {
        "error_unknown_model": outcome(lambda: client.infer("no-such-model", matrix_input(module))),
        "error_unknown_version": outcome(lambda: client.infer(model, matrix_input(module), model_version="999")),
        "error_wrong_width": outcome(lambda: client.infer(model, [wrong_width])),
        "error_unknown_output": outcome(
            lambda: client.infer(model, matrix_input(module), outputs=[module.InferRequestedOutput("proba")])
        ),
        "error_classification": outcome(
            lambda: client.infer(
                model, matrix_input(module), outputs=[module.InferRequestedOutput("predict", class_count=2)]
            )
        ),
        "error_model_ready_unknown": outcome(lambda: client.is_model_ready("no-such-model")),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--http", required=True)
    parser.add_argument("--grpc", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--champion", required=True)
    parser.add_argument("--challenger", required=True)
    parser.add_argument("--canary-calls", type=int, default=300)
    args = parser.parse_args()
    calls = (args.model, args.champion, args.challenger, args.canary_calls)
    print(json.dumps({"http": http_calls(args.http, *calls), "grpc": grpc_calls(args.grpc, *calls)}))


if __name__ == "__main__":
    main()
