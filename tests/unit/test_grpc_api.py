"""The committed gRPC messages are the committed .proto files, and tensors decode the same whichever
form carries them (JSON lists, the REST binary extension, gRPC raw or typed contents)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.model_server.codec import ClientError, Signature, decode_v2
from services.model_server.grpc_api import health_pb2, open_inference_grpc_pb2
from services.model_server.grpc_server import request_document
from services.model_server.protocol import conform
from services.model_server.tensors import DATATYPES, TensorSpec, from_raw, to_raw

API = Path(open_inference_grpc_pb2.__file__).parent
_SCALARS = {"bool", "int32", "int64", "uint32", "uint64", "float", "double", "string", "bytes"}


def proto_fields(text: str) -> dict[str, set[tuple[str, int]]]:
    """Every message (nested ones as Outer.Inner) -> its (field name, number), read from .proto text."""
    text = re.sub(r"//[^\n]*", "", text)
    text = re.sub(r"\)\s*\{\s*\}", ")", text)  # the empty bodies of `rpc ... returns (...) {}`
    pattern = re.compile(
        r"(message|enum|service|oneof)\s+(\w+)\s*\{|\}|(?:repeated\s+)?([\w.]+(?:<[^>]*>)?)\s+(\w+)\s*=\s*(\d+)\s*;"
    )
    found: dict[str, set[tuple[str, int]]] = {}
    path: list[str | None] = []  # message names; "" for a oneof (its fields are the message's); None elsewhere
    for match in pattern.finditer(text):
        block, block_name, _, name, number = match.groups()
        if block:
            path.append(block_name if block == "message" else "" if block == "oneof" else None)
            if block == "message":
                found[".".join(p for p in path if p)] = set()
        elif match.group(0) == "}":
            path.pop()
        elif path and None not in path:
            found[".".join(p for p in path if p)].add((name, int(number)))
    return found


def descriptor_fields(module) -> dict[str, set[tuple[str, int]]]:
    found = {}

    def walk(descriptor, prefix: str) -> None:
        for nested in descriptor.nested_types:
            if not nested.GetOptions().map_entry:
                walk(nested, f"{prefix}{nested.name}.")
        found[prefix.rstrip(".")] = {(f.name, f.number) for f in descriptor.fields}

    for message in module.DESCRIPTOR.message_types_by_name.values():
        walk(message, f"{message.name}.")
    return found


@pytest.mark.parametrize(
    ("proto", "module"), [("open_inference_grpc.proto", open_inference_grpc_pb2), ("health.proto", health_pb2)]
)
def test_generated_messages_match_the_proto_file(proto, module):
    assert proto_fields((API / proto).read_text()) == descriptor_fields(module)


def test_the_service_has_the_six_rpcs_of_the_protocol():
    service = open_inference_grpc_pb2.DESCRIPTOR.services_by_name["GRPCInferenceService"]
    assert sorted(m.name for m in service.methods) == sorted(
        ["ServerLive", "ServerReady", "ModelReady", "ServerMetadata", "ModelMetadata", "ModelInfer"]
    )


_SIG = Signature(("a", "b", "c"), ("double", "double", "double"), (True, True, True))
_NUMERIC = ["FP64", "FP32", "FP16", "INT64", "INT32", "INT16", "INT8", "UINT8", "UINT32", "UINT64", "BOOL"]


@st.composite
def _tensors(draw):
    datatype = draw(st.sampled_from(_NUMERIC))
    rows = draw(st.integers(1, 5))
    dtype = DATATYPES[datatype]
    if dtype.kind == "b":
        values = draw(st.lists(st.booleans(), min_size=rows * 3, max_size=rows * 3))
    elif dtype.kind == "f":
        values = draw(st.lists(st.integers(-1000, 1000).map(lambda v: v / 4), min_size=rows * 3, max_size=rows * 3))
    else:
        info = np.iinfo(dtype)
        low, high = max(int(info.min), -(2**40)), min(int(info.max), 2**40)
        values = draw(st.lists(st.integers(low, high), min_size=rows * 3, max_size=rows * 3))
    return datatype, np.array(values, dtype=dtype).reshape(rows, 3)


@settings(max_examples=300, deadline=None)
@given(tensor=_tensors(), one_matrix=st.booleans())
def test_json_binary_and_grpc_forms_decode_to_the_same_batch(tensor, one_matrix):
    datatype, array = tensor

    def document(data_of):
        if one_matrix:
            return {"inputs": [{"name": "x", "shape": list(array.shape), "datatype": datatype, "data": data_of(array)}]}
        return {
            "inputs": [
                {"name": name, "shape": [len(array)], "datatype": datatype, "data": data_of(array[:, i])}
                for i, name in enumerate(_SIG.columns)
            ]
        }

    as_json = decode_v2(document(lambda a: a.ravel().tolist()), _SIG)[0]
    as_binary = decode_v2(document(lambda a: from_raw(to_raw(a, datatype), datatype, "x")), _SIG)[0]
    request = open_inference_grpc_pb2.ModelInferRequest(model_name="m")
    for tensor_json in document(lambda a: a)["inputs"]:
        request.inputs.add(name=tensor_json["name"], datatype=datatype, shape=tensor_json["shape"])
        request.raw_input_contents.append(to_raw(tensor_json["data"], datatype))
    as_grpc = decode_v2(request_document(request)[0], _SIG)[0]
    assert as_json.tobytes() == as_binary.tobytes() == as_grpc.tobytes()


@pytest.mark.parametrize(
    ("predictions", "spec", "result"),
    [
        (np.array([0, 2]), "INT64", [0, 2]),
        (np.array([0.0, 2.0]), "INT64", [0, 2]),  # whole floats of an integer output
        (np.array([1, 2], dtype=np.int32), "FP64", [1.0, 2.0]),
        (np.array(["setosa"]), "BYTES", ["setosa"]),
    ],
)
def test_answers_are_conformed_to_the_declared_datatype(predictions, spec, result):
    out = conform(predictions, TensorSpec("predict", spec, (-1,)))
    assert out.tolist() == result and (spec == "BYTES" or out.dtype == DATATYPES[spec])


@pytest.mark.parametrize(("predictions", "spec"), [(np.array([0.5]), "INT64"), (np.array(["a"]), "FP64")])
def test_answers_that_cannot_be_the_declared_datatype_are_refused(predictions, spec):
    with pytest.raises(ValueError, match=f"metadata declares {spec}"):
        conform(predictions, TensorSpec("predict", spec, (-1,)))


def test_grpc_typed_contents_must_use_the_datatype_field():
    request = open_inference_grpc_pb2.ModelInferRequest(model_name="m")
    request.inputs.add(name="x", datatype="INT32", shape=[1, 3]).contents.int_contents.extend([1, 2, 3])
    assert decode_v2(request_document(request)[0], _SIG)[0].tolist() == [[1.0, 2.0, 3.0]]
    request.inputs[0].datatype = "FP64"
    with pytest.raises(ClientError, match="FP64 values go in contents.fp64_contents"):
        request_document(request)
