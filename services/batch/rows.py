"""A chunk of input rows -> the float64 matrix of its valid rows, and a reject for each invalid one.

Pure: Arrow arrays in, numpy and plain tuples out, no files. The rules are the model server's
(`services/model_server/codec.py`): a value must be a number of its column's type, finite, present
when the column is required, and whole in an integer column; the reasons use the server's wording,
so a row rejected here is exactly a request the server would refuse.

The common case costs one cast per column and one `isfinite` pass. Only a column whose text does not
all parse as numbers takes the slow path, value by value, to name the rows that do not.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from services.model_server.codec import Signature, not_a_number, value_problems

__all__ = ["Reject", "ValidRows", "validate_chunk"]


@dataclass(frozen=True)
class Reject:
    row: int
    column: str  # "" when the row as a whole is wrong (too many or too few values)
    reason: str


@dataclass(frozen=True)
class ValidRows:
    matrix: np.ndarray  # float64, rows x signature columns, in signature order
    rows: np.ndarray  # int64 row numbers of the matrix's rows
    keep: np.ndarray  # int indexes into the chunk of the valid rows (for kept columns)
    rejects: list[Reject]


def validate_chunk(batch: pa.RecordBatch, rows: np.ndarray, signature: Signature) -> ValidRows:
    count = batch.num_rows
    matrix = np.empty((count, len(signature.columns)), dtype=np.float64)
    reasons: dict[int, Reject] = {}  # position in the chunk -> the row's first problem
    for index, (name, kind) in enumerate(zip(signature.columns, signature.types, strict=True)):
        values, unparsed = _numbers(batch.column(name), kind)
        matrix[:, index] = values
        for position, text in unparsed:
            reasons.setdefault(position, Reject(int(rows[position]), name, not_a_number(name, kind, text)))
    for problem in value_problems(matrix, signature):
        reasons.setdefault(problem.row, Reject(int(rows[problem.row]), problem.column, problem.reason()))
    if not reasons:
        return ValidRows(matrix, rows, np.arange(count), [])
    bad = np.fromiter(reasons, dtype=np.int64, count=len(reasons))
    good = np.ones(count, dtype=bool)
    good[bad] = False
    return ValidRows(matrix[good], rows[good], np.nonzero(good)[0], sorted(reasons.values(), key=lambda r: r.row))


def _numbers(column: pa.Array, kind: str) -> tuple[np.ndarray, list[tuple[int, str]]]:
    """A column as float64 (missing values NaN) and the (position, text) of values that are not numbers."""
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        target = pa.bool_() if kind == "boolean" else pa.float64()
        try:
            return _floats(pc.cast(column, target)), []
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return _parse_each(column, kind)
    return _floats(column), []


def _floats(column: pa.Array) -> np.ndarray:
    if not pa.types.is_floating(column.type):
        column = pc.cast(column, pa.float64())
    return column.to_numpy(zero_copy_only=False).astype(np.float64, copy=False)


_BOOLEANS = {"true": 1.0, "false": 0.0, "1": 1.0, "0": 0.0}


def _parse_each(column: pa.Array, kind: str) -> tuple[np.ndarray, list[tuple[int, str]]]:
    """The slow path, for a column with at least one value that is not a number: one value at a time."""
    values = np.full(len(column), np.nan)
    unparsed = []
    for position, text in enumerate(column.to_pylist()):
        if text is None:
            continue
        try:
            values[position] = _BOOLEANS[text.strip().lower()] if kind == "boolean" else float(text)
        except (KeyError, ValueError):
            unparsed.append((position, text))
    return values, unparsed
