"""The Open Inference Protocol's requests and answers, the same for REST and gRPC.

What a V2 request may ask beyond its inputs (`request_options`):
- `id`: a string, echoed in the answer.
- `outputs`: a served model has one output, `predict` (its predictions, batch first). Asking for it
  is the same as asking for nothing; any other name is a 400 naming the outputs there are. Per
  output, `binary_data` (REST: this output as raw bytes after the JSON) is honoured;
  `classification` (Triton's classification extension) and `shared_memory_region` (its
  shared-memory extension) are refused with 400: this server implements neither, and ignoring them
  would answer something other than what the client asked for.
- `parameters`: `binary_data_output` (REST: every output as raw bytes). The protocol leaves other
  parameters to each server; unknown ones are ignored (Triton's `priority`, `timeout` and
  `sequence_*` have nothing to act on here: no scheduler queue, no sequences).

The answer (`rest_answer`, and grpc_server.py for gRPC) is one output tensor `predict` in exactly the
datatype and shape the model's metadata declares (`conform`; the spec is measured on a real
prediction when the version loads, loading.py), with `model_name`, `model_version`, the request's
`id`, and the variant that answered in `parameters.model_variant` (the canary split is visible to
every client, also those that expose no response headers).

`model_metadata` serves `GET /v2/models/{name}[/versions/{version}]` and gRPC ModelMetadata.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from services.model_server.codec import ClientError
from services.model_server.routing import Route, Slot
from services.model_server.tensors import DATATYPES, MLFLOW_DATATYPES, OUTPUT, TensorSpec, to_raw

__all__ = [
    "OUTPUT",
    "SERVER",
    "Options",
    "request_options",
    "conform",
    "rest_answer",
    "served_versions",
    "model_metadata",
]

# Server metadata (GET /v2, gRPC ServerMetadata). `binary_tensor_data` is the extension's name in
# Triton and KServe; `mlflow-invocations` is MLflow's scoring format on /invocations.
SERVER = {
    "name": "mlops-platform-model-server",
    "version": "0.1.0",
    "extensions": ["binary_tensor_data", "mlflow-invocations"],
}
_UNSUPPORTED = {
    "classification": "Triton's classification extension is not supported here: ask for `predict` without it",
    "shared_memory_region": "the shared-memory extension is not supported here: send the tensor in the request",
}


@dataclass(frozen=True)
class Options:
    id: str | None = None
    binary_output: bool = False  # REST: the output as raw bytes after the JSON


_PLAIN = Options()


def request_options(document: Any) -> Options:
    """The request's id, requested outputs and parameters, validated. A body that is not an object
    is left to the decoder, which words that error."""
    if type(document) is not dict:
        return _PLAIN
    request_id = document.get("id")
    if request_id is not None and type(request_id) is not str:
        raise ClientError(400, f"id must be a string, got {request_id!r}", "id")
    outputs, parameters = document.get("outputs"), document.get("parameters")
    if outputs is None and parameters is None:  # the common request: nothing more to check
        return Options(request_id) if request_id is not None else _PLAIN
    binary = False
    if parameters is not None:
        if not isinstance(parameters, dict):
            raise ClientError(400, "parameters must be an object of name: value", "parameters")
        binary = _flag(parameters, "binary_data_output", "parameters", False)
    if outputs is not None:
        binary = _outputs(outputs, binary)
    return Options(request_id, binary)


def _outputs(outputs: Any, binary: bool) -> bool:
    if not isinstance(outputs, list):
        raise ClientError(400, "outputs must be a list of {name, parameters} objects", "outputs")
    for index, output in enumerate(outputs):
        where = f"outputs[{index}]"
        if not isinstance(output, dict) or not isinstance(output.get("name"), str):
            raise ClientError(400, f"{where} must be an object with a name", where)
        if output["name"] != OUTPUT:
            raise ClientError(
                400, f"{where}: unknown output {output['name']!r}; the model's outputs are {[OUTPUT]}", f"{where}.name"
            )
        if index:
            raise ClientError(400, f"{where}: output {OUTPUT!r} is requested twice", f"{where}.name")
        parameters = output.get("parameters")
        if parameters is None:
            continue
        if not isinstance(parameters, dict):
            raise ClientError(400, f"{where}.parameters must be an object of name: value", f"{where}.parameters")
        for name, reason in _UNSUPPORTED.items():
            if name in parameters:
                raise ClientError(400, f"{where}: {reason}", f"{where}.parameters.{name}")
        binary = _flag(parameters, "binary_data", f"{where}.parameters", binary)
    return binary


def _flag(parameters: dict, name: str, where: str, default: bool) -> bool:
    value = parameters.get(name, default)
    if type(value) is not bool:
        raise ClientError(400, f"{where}.{name} must be true or false, got {value!r}", f"{where}.{name}")
    return value


def conform(predictions: np.ndarray, spec: TensorSpec) -> np.ndarray:
    """The predictions in the datatype the metadata declares. Raises ValueError when they cannot be
    (a model whose answers changed type since it was loaded: a bug to surface, never to hide)."""
    wanted = DATATYPES.get(spec.datatype)
    if wanted is None:  # BYTES: text
        return predictions if predictions.dtype.kind in "USO" else predictions.astype(str)
    if predictions.dtype == wanted:
        return predictions
    if predictions.dtype.kind in "biuf":
        converted = predictions.astype(wanted)
        if np.array_equal(converted, predictions):
            return converted
    raise ValueError(f"the model answered {predictions.dtype} values where its metadata declares {spec.datatype}")


def rest_answer(
    name: str, version: str, variant: str, options: Options, output: np.ndarray, spec: TensorSpec
) -> tuple[bytes, int | None]:
    """The V2 response body, and the JSON header's length when the output follows it as raw bytes."""
    tensor: dict[str, Any] = {"name": spec.name, "shape": list(output.shape), "datatype": spec.datatype}
    body: dict[str, Any] = {
        "model_name": name,
        "model_version": version,
        "outputs": [tensor],
        "parameters": {"model_variant": variant},
    }
    if options.id is not None:
        body["id"] = options.id
    if options.binary_output:
        raw = to_raw(output, spec.datatype)
        tensor["parameters"] = {"binary_data_size": len(raw)}
        head = orjson.dumps(body)
        return head + raw, len(head)
    if spec.datatype == "BYTES":
        tensor["data"] = output.reshape(-1).tolist()
        return orjson.dumps(body), None
    tensor["data"] = np.ascontiguousarray(output).reshape(-1)
    return orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY), None


def served_versions(route: Route) -> list[str]:
    """The versions a request may ask for by number: what the champion and challenger serve now."""
    slots = (route.champion, route.challenger)
    return sorted({s.model.version for s in slots if s is not None and s.model is not None}, key=_version_order)


def _version_order(version: str) -> tuple[int, str]:
    return (int(version), "") if version.isdigit() else (0, version)


def model_metadata(route: Route, slot: Slot) -> dict[str, Any]:
    """The model's metadata as the served version `slot` holds it (the champion's, unless a version
    was asked for): inputs from its signature, its measured output, the versions and variants."""
    model = slot.model
    signature = model.signature if model else None
    if signature is not None:
        inputs = [
            {"name": column, "datatype": MLFLOW_DATATYPES.get(kind, "BYTES"), "shape": [-1]}
            for column, kind in zip(signature.columns, signature.types, strict=True)
        ]
    else:  # no signature: one [rows, columns] matrix
        inputs = [{"name": "input-0", "datatype": "FP64", "shape": [-1, -1]}]
    variants = {
        s.variant: {
            "uri": s.ref.uri,
            "version": s.model.version if s.model else None,
            "flavor": s.model.flavor if s.model else None,
        }
        for s in route.slots()
    }
    return {
        "name": route.name,
        "versions": served_versions(route),
        "platform": "mlflow",
        "inputs": inputs,
        "outputs": [model.output.as_json()] if model else [],
        "parameters": {"variants": variants, "challenger_weight": route.weight},
    }
