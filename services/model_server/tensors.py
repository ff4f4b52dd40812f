"""Open Inference Protocol tensors: the datatypes, and a tensor's raw bytes <-> numpy.

Two places carry a tensor as raw bytes rather than as a list of numbers: the REST binary tensor data
extension (a JSON header, then each binary tensor's bytes in input order: body.py) and gRPC's
`raw_input_contents` / `raw_output_contents` (grpc_server.py). Both use the one layout the protocol
writes down: little-endian, row-major, no padding between elements; BOOL is one byte (0 or 1); a
BYTES element is a 4-byte little-endian length followed by that many bytes. This module is that
layout, once, for both.

`TensorSpec` is what the model metadata says about a tensor (name, datatype, shape with -1 for a
variable dimension); `TensorSpec.of(predictions)` measures it on a real prediction when a model
version is loaded (loading.py), so the metadata declares what the answers carry.

Decoding a numeric tensor is `np.frombuffer`: no copy of the request body, which is where the
binary form gets its speed over JSON for large tensors (benchmarks/README.md).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

from services.model_server.codec import ClientError

__all__ = ["OUTPUT", "DATATYPES", "TensorSpec", "datatype_of", "from_raw", "to_raw", "MLFLOW_DATATYPES"]

OUTPUT = "predict"  # the one output of a served model: its predictions, batch first

# The fixed-width datatypes and their little-endian numpy types. BYTES has no fixed width; BF16 has no
# numpy type, so it is refused by name.
DATATYPES: dict[str, np.dtype] = {
    name: np.dtype(code)
    for name, code in (
        ("BOOL", "?"),
        ("UINT8", "u1"),
        ("UINT16", "<u2"),
        ("UINT32", "<u4"),
        ("UINT64", "<u8"),
        ("INT8", "i1"),
        ("INT16", "<i2"),
        ("INT32", "<i4"),
        ("INT64", "<i8"),
        ("FP16", "<f2"),
        ("FP32", "<f4"),
        ("FP64", "<f8"),
    )
}

# An MLflow column type -> the V2 datatype the metadata declares for it.
MLFLOW_DATATYPES = {
    "double": "FP64",
    "float": "FP32",
    "long": "INT64",
    "integer": "INT32",
    "boolean": "BOOL",
    "string": "BYTES",
    "binary": "BYTES",
}

_LENGTH = struct.Struct("<I")


@dataclass(frozen=True)
class TensorSpec:
    """A tensor as the model metadata describes it."""

    name: str
    datatype: str
    shape: tuple[int, ...]

    @classmethod
    def of(cls, name: str, predictions: np.ndarray) -> TensorSpec:
        """The spec of a batch-first output, from one real prediction: its datatype, any row count."""
        return cls(name, datatype_of(predictions.dtype), (-1, *predictions.shape[1:]))

    def as_json(self) -> dict:
        return {"name": self.name, "datatype": self.datatype, "shape": list(self.shape)}


def datatype_of(dtype: np.dtype) -> str:
    """The V2 datatype of a numpy dtype; text and objects are BYTES."""
    kind, bits = dtype.kind, dtype.itemsize * 8
    if kind == "b":
        return "BOOL"
    if kind == "i":
        return f"INT{bits}"
    if kind == "u":
        return f"UINT{bits}"
    if kind == "f" and bits in (16, 32, 64):
        return f"FP{bits}"
    return "BYTES"


def from_raw(raw: bytes | memoryview, datatype: str, where: str) -> np.ndarray | list[str]:
    """A tensor's raw bytes -> a flat numpy array (or, for BYTES, a list of texts). `where` names the
    tensor in errors (`inputs[0]`)."""
    if datatype == "BYTES":
        return _texts(memoryview(raw), where)
    dtype = DATATYPES.get(datatype)
    if dtype is None:
        raise ClientError(
            422,
            f"{where}: datatype {datatype!r} is not supported here; use one of {', '.join(DATATYPES)} or BYTES",
            f"{where}.datatype",
        )
    if len(raw) % dtype.itemsize:
        raise ClientError(
            400,
            f"{where}: {len(raw)} bytes is not a whole number of {datatype} values ({dtype.itemsize} bytes each)",
            where,
        )
    array = np.frombuffer(raw, dtype=dtype)
    if datatype == "BOOL" and array.size and array.view(np.uint8).max() > 1:
        raise ClientError(400, f"{where}: a BOOL value is one byte, 0 or 1", where)
    return array


def to_raw(values: np.ndarray, datatype: str) -> bytes:
    """A tensor's values -> its raw bytes (row-major, little-endian; BYTES length-prefixed UTF-8)."""
    if datatype == "BYTES":
        parts = []
        for value in values.reshape(-1).tolist():
            data = value if isinstance(value, bytes) else str(value).encode()
            parts += (_LENGTH.pack(len(data)), data)
        return b"".join(parts)
    return np.ascontiguousarray(values, dtype=DATATYPES[datatype]).tobytes()


def _texts(raw: memoryview, where: str) -> list[str]:
    """BYTES elements as text: the server reads BYTES only where text is meant (string entity keys)."""
    texts, offset = [], 0
    while offset < len(raw):
        if offset + 4 > len(raw):
            raise ClientError(400, f"{where}: a BYTES element's 4-byte length is cut off at byte {offset}", where)
        (size,) = _LENGTH.unpack_from(raw, offset)
        offset += 4
        if offset + size > len(raw):
            raise ClientError(400, f"{where}: a BYTES element of {size} bytes runs past the tensor's data", where)
        try:
            texts.append(bytes(raw[offset : offset + size]).decode())
        except UnicodeDecodeError:
            raise ClientError(422, f"{where}: BYTES element {len(texts)} is not UTF-8 text", where) from None
        offset += size
    return texts
