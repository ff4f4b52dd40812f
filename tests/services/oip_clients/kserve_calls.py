"""KServe's Python clients (`InferenceRESTClient` with the v2 protocol, `InferenceGRPCClient`), unmodified.

Run in the clients' own virtualenv by tests/services/test_oip_clients.py (a separate process from
tritonclient's: both register protobuf messages of package `inference` under other file names, which
one process's descriptor pool refuses). Prints one JSON object: each call's outcome by name.

    python kserve_calls.py --http 127.0.0.1:8080 --grpc 127.0.0.1:8081 --model iris --challenger 2
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections import Counter
from typing import Any

import grpc
import httpx
import numpy as np


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--http", required=True)
    parser.add_argument("--grpc", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--challenger", required=True)
    parser.add_argument("--canary-calls", type=int, default=300)
    return parser.parse_args()


# Read before kserve is imported: importing it parses the process's command line for its own model
# server's flags, and refuses ours.
ARGS = _arguments()
sys.argv = sys.argv[:1]

from kserve import InferenceGRPCClient, InferenceRESTClient, InferInput, InferRequest, RESTConfig  # noqa: E402
from kserve.protocol.infer_type import RequestedOutput  # noqa: E402

ROWS = np.array([[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3], [5.9, 3.0, 4.2, 1.5]])


async def outcome(call) -> dict[str, Any]:
    try:
        return {"ok": True, "value": await call}
    except httpx.HTTPStatusError as error:
        return {"ok": False, "status": error.response.status_code, "message": str(error)}
    except grpc.RpcError as error:
        return {"ok": False, "status": str(error.code()), "message": error.details()}


def request(model: str, *, binary: bool, version: str | None = None, outputs=None) -> InferRequest:
    tensor = InferInput("input-0", list(ROWS.shape), "FP64")
    tensor.set_data_from_numpy(ROWS, binary_data=binary)
    return InferRequest(model, [tensor], request_id="k-1", model_version=version, request_outputs=outputs)


def answer(response) -> dict[str, Any]:
    output = response.outputs[0]
    values = output.as_numpy()
    parameters = response.parameters or {}
    variant = parameters.get("model_variant")
    variant = getattr(variant, "string_param", variant)  # gRPC: an InferParameter message
    return {
        "predict": values.tolist(),
        "datatype": output.datatype,
        "variant": variant,
        "model_version": getattr(response, "model_version", None),
        "id": response.id,
    }


async def rest_calls(url: str, model: str, canary_calls: int) -> dict[str, Any]:
    base = f"http://{url}"
    client = InferenceRESTClient(RESTConfig(protocol="v2", retries=0))
    headers: dict[str, str] = {}
    results = {
        "is_server_live": await outcome(client.is_server_live(base)),
        "is_server_ready": await outcome(client.is_server_ready(base)),
        "is_model_ready": await outcome(client.is_model_ready(base, model)),
        "infer_json": await outcome(_answer(client.infer(base, request(model, binary=False), model))),
        "infer_binary": await outcome(_answer(client.infer(base, request(model, binary=True), model))),
        "infer_headers": await outcome(
            _headers(client.infer(base, request(model, binary=False), model, response_headers=headers), headers)
        ),
        "error_unknown_model": await outcome(
            client.infer(base, request("no-such-model", binary=False), "no-such-model")
        ),
        "error_unknown_output": await outcome(
            client.infer(base, request(model, binary=False, outputs=[RequestedOutput("proba")]), model)
        ),
    }
    variants: Counter = Counter()
    for _ in range(canary_calls):
        seen: dict[str, str] = {}
        await client.infer(base, request(model, binary=True), model, response_headers=seen)
        variants[seen["x-model-variant"]] += 1
    results["canary_variants"] = dict(variants)
    await client.close()
    return results


async def grpc_calls(url: str, model: str, challenger: str, canary_calls: int) -> dict[str, Any]:
    client = InferenceGRPCClient(url, retries=0)
    results = {
        "is_server_live": await outcome(client.is_server_live()),
        "is_server_ready": await outcome(client.is_server_ready()),
        "is_model_ready": await outcome(client.is_model_ready(model)),
        "infer_raw": await outcome(_answer(client.infer(request(model, binary=True)))),
        "infer_contents": await outcome(_answer(client.infer(request(model, binary=False)))),
        "infer_version_challenger": await outcome(
            _answer(client.infer(request(model, binary=True, version=challenger)))
        ),
        "error_unknown_model": await outcome(client.infer(request("no-such-model", binary=True))),
        "error_unknown_version": await outcome(client.infer(request(model, binary=True, version="999"))),
    }
    variants: Counter = Counter()
    for _ in range(canary_calls):
        variants[answer(await client.infer(request(model, binary=True)))["variant"]] += 1
    results["canary_variants"] = dict(variants)
    await client.close()
    return results


async def _answer(call) -> dict[str, Any]:
    return answer(await call)


async def _headers(call, headers: dict[str, str]) -> dict[str, str]:
    await call
    return {k: v for k, v in headers.items() if k.startswith("x-model-")}


async def main() -> None:
    rest = await rest_calls(ARGS.http, ARGS.model, ARGS.canary_calls)
    print(
        json.dumps({"rest": rest, "grpc": await grpc_calls(ARGS.grpc, ARGS.model, ARGS.challenger, ARGS.canary_calls)})
    )


if __name__ == "__main__":
    asyncio.run(main())
