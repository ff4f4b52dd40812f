"""Request bytes -> a validated 2-D batch in signature column order; predictions -> response bytes.

Every client mistake becomes a `ClientError` with an HTTP status and the field it concerns, never a
500. The fast path is numeric: one `np.asarray(..., float64)` over the rows; only when that fails
does the slow path walk the rows to name the offending field.

Accepted bodies (the formats of `mlflow models serve`, so its clients work unchanged):
    {"dataframe_split": {"columns": [...], "data": [[...], ...]}}
    {"dataframe_records": [{"col": value, ...}, ...]}
    {"instances": [[...], ...] | [{...}, ...]}
    {"inputs": [[...], ...] | [{...}, ...] | {"col": [values], ...}}
and the Open Inference Protocol V2 body {"inputs": [{"name", "shape", "datatype", "data"}, ...]}.

The rules a value must meet (a number of the column's type, finite, present when required, whole in
integer columns) and their wording live here once: batch scoring (services/batch/) applies the same
`value_problems`, `not_a_number` and `wrong_width` to every row of a file and rejects rows instead of
requests.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

import numpy as np
import orjson

__all__ = [
    "ClientError",
    "Signature",
    "ValueProblem",
    "value_problems",
    "not_a_number",
    "wrong_width",
    "decode_json",
    "decode_invocations",
    "decode_v2",
    "encode_predictions",
]


class ClientError(Exception):
    def __init__(self, status: int, message: str, field: str | None = None):
        super().__init__(message)
        self.status, self.message, self.field = status, message, field

    def body(self, request_id: str) -> bytes:
        payload: dict[str, Any] = {"error": self.message, "request_id": request_id}
        if self.field is not None:
            payload["field"] = self.field
        return orjson.dumps(payload)


_NUMERIC = {"double", "float", "long", "integer", "boolean"}
_V2_NUMERIC = {"FP64", "FP32", "FP16", "INT64", "INT32", "INT16", "INT8", "UINT64", "UINT32", "UINT16", "UINT8", "BOOL"}


@dataclass(frozen=True)
class Signature:
    """The model's input columns, their MLflow types and whether a value is required (no NaN/null)."""

    columns: tuple[str, ...]
    types: tuple[str, ...]
    required: tuple[bool, ...]

    @property
    def numeric(self) -> bool:
        return all(t in _NUMERIC for t in self.types)

    @cached_property
    def integer_columns(self) -> tuple[int, ...]:
        """Positions of the columns whose values must be whole numbers."""
        return tuple(i for i, kind in enumerate(self.types) if kind in ("long", "integer"))

    @classmethod
    def from_mlmodel(cls, mlmodel: dict[str, Any]) -> Signature | None:
        """From an MLmodel file's `signature` (a JSON column spec as text); None when the model has none
        or a tensor-based one. Reads the file format directly, so a caller need not import MLflow."""
        import json

        inputs = (mlmodel.get("signature") or {}).get("inputs")
        columns = json.loads(inputs) if isinstance(inputs, str) else None
        if not columns or any(c.get("type") == "tensor" or not c.get("name") for c in columns):
            return None
        return cls(
            tuple(str(c["name"]) for c in columns),
            tuple(str(c["type"]) for c in columns),
            tuple(bool(c.get("required", True)) for c in columns),
        )

    @classmethod
    def from_mlflow(cls, signature) -> Signature | None:
        """From an MLflow ModelSignature; None when the model has none or a tensor-based one."""
        schema = getattr(signature, "inputs", None)
        if schema is None or schema.is_tensor_spec() or not schema.has_input_names():
            return None
        cols = schema.inputs
        return cls(
            tuple(c.name for c in cols),
            tuple(getattr(c.type, "name", str(c.type)) for c in cols),
            tuple(bool(getattr(c, "required", True)) for c in cols),
        )


@dataclass(frozen=True)
class ValueProblem:
    """A value that breaks the signature: its row (0-based in the batch), column and what is wrong."""

    row: int
    column: str
    value: float
    kind: Literal["infinite", "missing", "fraction"]

    def reason(self) -> str:
        """What is wrong, without the row (a batch rejects file gives the row a column of its own)."""
        if self.kind == "infinite":
            return f"{self.column!r} must be finite, got {self.value!r}"
        if self.kind == "missing":
            return f"{self.column!r} is required but has no value (NaN/null)"
        return f"{self.column!r} must be an integer, got {self.value!r}"

    def message(self, field: str) -> str:
        """The model server's answer: names the request field and the row."""
        if self.kind == "infinite":
            return f"{field}: {self.column!r} must be finite, row {self.row} is {self.value!r}"
        if self.kind == "missing":
            return f"{field}: {self.column!r} is required but row {self.row} has no value (NaN/null)"
        return f"{field}: {self.column!r} must be an integer, row {self.row} has {self.value!r}"


def value_problems(batch: np.ndarray, signature: Signature | None) -> list[ValueProblem]:
    """Every value of a float64 batch that breaks the signature, grouped by rule in the order they are
    checked (infinity, then missing required values, then fractions in integer columns), rows ascending
    within each. Empty in the common case, which costs one `isfinite` pass."""
    integer_columns = signature.integer_columns if signature else ()
    if not integer_columns and np.isfinite(batch).all():
        return []

    def name(col: int) -> str:
        return signature.columns[col] if signature else str(col)

    problems = [
        ValueProblem(int(row), name(int(col)), float(batch[row, col]), "infinite")
        for row, col in zip(*np.nonzero(np.isinf(batch)), strict=True)
    ]
    if signature is None:
        return problems
    nan_rows, nan_cols = np.nonzero(np.isnan(batch))
    problems += [
        ValueProblem(int(row), name(int(col)), math.nan, "missing")
        for row, col in zip(nan_rows, nan_cols, strict=True)
        if signature.required[col]
    ]
    for col in integer_columns:
        values = batch[:, col]
        problems += [
            ValueProblem(int(row), name(col), float(values[row]), "fraction")
            for row in np.nonzero(~np.isnan(values) & ~np.isinf(values) & (values != np.floor(values)))[0]
        ]
    return problems


def not_a_number(column: str, kind: str, value: Any) -> str:
    """A value that is not a number at all (a string, a list...) in a numeric column."""
    return f"{column!r} must be a number ({kind}), got {value!r}"


def wrong_width(count: int, signature: Signature) -> str:
    """A row with more or fewer values than the signature has columns."""
    return f"has {count} values, the model expects {len(signature.columns)} ({', '.join(signature.columns)})"


def decode_json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ClientError(400, f"the body is not valid JSON: {exc}") from None


def _matrix(rows: Any, field: str, signature: Signature | None) -> np.ndarray:
    """Rows (lists) in signature column order -> float64 matrix; names the bad field on failure."""
    if not isinstance(rows, list) or not rows:
        raise ClientError(400, f"{field} must be a non-empty list of rows", field)
    try:
        batch = np.asarray(rows, dtype=np.float64)
    except (ValueError, TypeError):
        batch = None
    width = len(signature.columns) if signature else None
    if batch is None or batch.ndim != 2:
        for index, row in enumerate(rows):
            if not isinstance(row, list):
                raise ClientError(400, f"{field}[{index}] must be a list of values", f"{field}[{index}]")
            if signature is not None and len(row) != width:
                raise ClientError(422, f"{field}[{index}] {wrong_width(len(row), signature)}", f"{field}[{index}]")
            for column, value in enumerate(row):
                kind = signature.types[column] if signature and column < len(signature.types) else "double"
                if value is None or (isinstance(value, bool) and kind == "boolean"):
                    continue
                if isinstance(value, bool) or not isinstance(value, int | float):
                    name = signature.columns[column] if signature else str(column)
                    raise ClientError(422, f"{field}[{index}]: {not_a_number(name, kind, value)}", name)
        if width is None:
            raise ClientError(422, f"{field}: rows have different lengths", field)
        batch = np.asarray([[math.nan if v is None else v for v in row] for row in rows], dtype=np.float64)
    if width is not None and batch.shape[1] != width:
        raise ClientError(
            422,
            f"{field}: rows have {batch.shape[1]} values, the model expects {width} ({', '.join(signature.columns)})",
            field,
        )
    return batch


def _reorder(columns: Sequence[str], signature: Signature | None, field: str) -> list[int] | None:
    """Index map from the request's column order to the signature's; None when already in order."""
    if signature is None:
        return None
    given, expected = list(columns), list(signature.columns)
    if given == expected:
        return None
    missing = [c for c in expected if c not in given]
    extra = [c for c in given if c not in expected]
    if missing:
        raise ClientError(422, f"{field}: missing column(s) {missing}; the model expects {expected}", missing[0])
    if extra:
        raise ClientError(422, f"{field}: unknown column(s) {extra}; the model expects {expected}", extra[0])
    if len(set(given)) != len(given):
        raise ClientError(422, f"{field}: duplicate column names", field)
    return [given.index(c) for c in expected]


def _records(records: Any, field: str, signature: Signature | None) -> np.ndarray:
    if not isinstance(records, list) or not records or not all(isinstance(r, dict) for r in records):
        raise ClientError(400, f"{field} must be a non-empty list of objects", field)
    columns = list(signature.columns) if signature else list(records[0])
    for index, record in enumerate(records):
        if set(record) != set(columns):
            missing = [c for c in columns if c not in record]
            extra = [c for c in record if c not in columns]
            which = f"missing {missing}" if missing else f"unknown {extra}"
            raise ClientError(
                422, f"{field}[{index}]: {which} column(s); the model expects {columns}", (missing or extra)[0]
            )
    return _matrix([[r[c] for c in columns] for r in records], field, signature)


def _validate_values(batch: np.ndarray, signature: Signature | None, field: str) -> np.ndarray:
    problems = value_problems(batch, signature)
    if problems:
        raise ClientError(422, problems[0].message(field), problems[0].column)
    return batch


def decode_invocations(document: Any, signature: Signature | None) -> np.ndarray:
    if not isinstance(document, dict):
        raise ClientError(
            400, "the body must be a JSON object with one of dataframe_split, dataframe_records, instances or inputs"
        )
    keys = [k for k in ("dataframe_split", "dataframe_records", "instances", "inputs") if k in document]
    unknown = [
        k for k in document if k not in ("dataframe_split", "dataframe_records", "instances", "inputs", "params")
    ]
    if len(keys) != 1 or unknown:
        raise ClientError(
            400,
            "the body needs exactly one of dataframe_split, dataframe_records, instances or "
            f"inputs (got {sorted(document)})",
            unknown[0] if unknown else None,
        )
    key = keys[0]
    value = document[key]
    if key == "dataframe_split":
        if not isinstance(value, dict) or "data" not in value:
            raise ClientError(400, "dataframe_split must be an object with columns and data", key)
        columns = value.get("columns")
        if columns is not None and (not isinstance(columns, list) or not all(isinstance(c, str) for c in columns)):
            raise ClientError(400, f"{key}.columns must be a list of column names", f"{key}.columns")
        if columns is not None:
            order = _reorder(columns, signature, key)
            batch = _matrix(value["data"], f"{key}.data", None if order else signature)
            if order is not None:
                if batch.shape[1] != len(columns):
                    raise ClientError(422, f"{key}.data rows do not match the {len(columns)} columns", key)
                batch = batch[:, order]
        else:
            batch = _matrix(value["data"], f"{key}.data", signature)
    elif key == "dataframe_records":
        batch = _records(value, key, signature)
    elif isinstance(value, dict):  # {"col": [values]}
        order = _reorder(list(value), signature, key)
        columns = list(value) if order is None else [list(value)[i] for i in order]
        lengths = {len(v) if isinstance(v, list) else -1 for v in value.values()}
        if len(lengths) != 1 or -1 in lengths:
            raise ClientError(400, f"{key}: every column must be a list of the same length", key)
        batch = _matrix([list(row) for row in zip(*(value[c] for c in columns), strict=True)], key, signature)
    elif isinstance(value, list) and value and isinstance(value[0], dict):
        batch = _records(value, key, signature)
    else:
        batch = _matrix(value, key, signature)
    return _validate_values(batch, signature, key)


def decode_v2(document: Any, signature: Signature | None) -> tuple[np.ndarray, str | None]:
    """An Open Inference Protocol V2 request -> (batch, request id)."""
    fast = _v2_single_matrix(document, signature)
    if fast is not None:
        return fast, document.get("id")
    if not isinstance(document, dict) or not isinstance(document.get("inputs"), list) or not document["inputs"]:
        raise ClientError(400, "a V2 request is an object with a non-empty `inputs` list", "inputs")
    tensors = document["inputs"]
    for index, tensor in enumerate(tensors):
        where = f"inputs[{index}]"
        if not isinstance(tensor, dict) or not {"name", "shape", "datatype", "data"} <= set(tensor):
            raise ClientError(400, f"{where} needs name, shape, datatype and data", where)
        for key, kind, described in (
            ("name", str, "a string"),
            ("datatype", str, "a string"),
            ("shape", list, "a list of integers"),
            ("data", (list, np.ndarray), "a list"),  # an array: given as raw bytes (tensors.py)
        ):
            if not isinstance(tensor[key], kind):
                raise ClientError(400, f"{where}.{key} must be {described}", f"{where}.{key}")
        if tensor["datatype"] not in _V2_NUMERIC:
            raise ClientError(
                422,
                f"{where}: datatype {tensor['datatype']!r} is not supported here; use FP64, FP32 or an INT type",
                f"{where}.datatype",
            )
    if len(set(t["name"] for t in tensors)) != len(tensors):
        raise ClientError(400, "inputs: tensor names must be unique", "inputs")
    if len(tensors) == 1 and len(tensors[0]["shape"]) == 2:
        tensor = tensors[0]
        batch = _v2_array(tensor, "inputs[0]")
        width = len(signature.columns) if signature else batch.shape[1]
        if batch.shape[1] != width:
            raise ClientError(
                422,
                f"inputs[0]: shape {tensor['shape']} has {batch.shape[1]} columns, the model "
                f"expects {width} ({', '.join(signature.columns)})",
                "inputs[0].shape",
            )
    else:  # one 1-D tensor per column, named after it
        by_name = {t["name"]: t for t in tensors}
        columns = list(signature.columns) if signature else list(by_name)
        _reorder(list(by_name), signature, "inputs")
        arrays = [_v2_array(by_name[c], f"inputs[{c}]").reshape(-1) for c in columns]
        if len({a.size for a in arrays}) != 1:
            raise ClientError(422, "inputs: every column tensor must have the same length", "inputs")
        batch = np.column_stack(arrays)
    return _validate_values(batch, signature, "inputs"), document.get("id")


def _v2_single_matrix(document: Any, signature: Signature | None) -> np.ndarray | None:
    """The common request in a few checks: one [rows, columns] tensor of the signature's width whose
    flat data (a JSON list, or an array read from raw bytes) are all finite numbers (and no integer
    column to check). Anything else returns None and takes the general path below, which also words
    every error, so this shortcut never decides what is wrong: it only accepts what that path would
    accept, with the same result."""
    if type(document) is not dict:
        return None
    tensors = document.get("inputs")
    if type(tensors) is not list or len(tensors) != 1:
        return None
    tensor = tensors[0]
    if type(tensor) is not dict or type(tensor.get("name")) is not str:
        return None
    shape, data = tensor.get("shape"), tensor.get("data")
    if type(shape) is not list or len(shape) != 2:
        return None
    if type(data) is np.ndarray:
        if data.ndim != 1:
            return None
    elif type(data) is not list:
        return None
    rows, width = shape
    if (
        type(rows) is not int
        or type(width) is not int
        or rows <= 0
        or width <= 0
        or (signature is not None and (width != len(signature.columns) or signature.integer_columns))
        or len(data) != rows * width
        or tensor.get("datatype") not in _V2_NUMERIC
    ):
        return None
    try:
        batch = np.array(data, dtype=np.float64)
    except (ValueError, TypeError):
        return None
    if batch.ndim != 1 or not np.isfinite(batch).all():
        return None
    return batch.reshape(rows, width)


def _v2_array(tensor: dict[str, Any], where: str) -> np.ndarray:
    shape = tensor["shape"]
    if not shape or len(shape) > 2 or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in shape):
        raise ClientError(400, f"{where}.shape must be [rows] or [rows, columns] of positive integers", where)
    try:
        array = np.asarray(tensor["data"], dtype=np.float64)
    except (ValueError, TypeError):
        raise ClientError(422, f"{where}.data must hold numbers only", f"{where}.data") from None
    if array.size != math.prod(shape):
        raise ClientError(422, f"{where}: {array.size} values do not fill shape {shape}", f"{where}.shape")
    return array.reshape(shape if len(shape) == 2 else (shape[0], 1))


def encode_predictions(predictions: np.ndarray) -> list[Any]:
    return predictions.tolist()
