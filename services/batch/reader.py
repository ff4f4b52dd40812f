"""The batch input in chunks: CSV or Parquet in, Arrow record batches with their row numbers out.

Memory stays flat however large the file: CSV is read block by block by pyarrow's streaming reader,
Parquet batch by batch with buffered column reads. Each chunk carries the input row number of every
row (1-based, the CSV header not counted), because a rejected row must be named.

CSV values are read as text and converted per chunk by `rows.py`: pyarrow's typed CSV reader stops
the whole file at the first value that is not a number, and one bad row must reject that row only.
Rows with too many or too few fields never reach a chunk: the parser hands them to
`invalid_row_handler`, and they come back as `malformed` with their row number. The reader parses on
one thread because only then does pyarrow know that number; parsing is not the bottleneck (measured
here: 10 million iris rows in about a second either way).

A header that lacks a signature column, or names one the model does not take (and the caller did not
ask to `keep`), is an `InputError` before any row is read: every row would be rejected.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from services.model_server.codec import Signature, wrong_width

__all__ = ["Chunk", "InputError", "FORMATS", "file_format", "read_chunks", "CHUNK_BYTES", "CHUNK_ROWS"]

FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
CHUNK_BYTES = 1 << 20  # CSV block: about 45,000 iris rows
CHUNK_ROWS = 65_536  # Parquet batch


class InputError(ValueError):
    """The input file cannot be scored at all; the message names the file and the fix."""


@dataclass
class Chunk:
    rows: np.ndarray  # int64 input row numbers of `batch`'s rows
    batch: pa.RecordBatch  # the signature columns (and kept columns) of the rows that parsed
    malformed: list[tuple[int, str]] = field(default_factory=list)  # (row, reason) dropped by the parser


def file_format(path: Path) -> str:
    """'csv' or 'parquet' from the file name, or an InputError naming the supported extensions."""
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise InputError(f"{path}: unsupported extension {path.suffix or '(none)'!r}; use .csv or .parquet")
    return kind


def read_chunks(path: Path, signature: Signature, keep: Sequence[str] = ()) -> Iterator[Chunk]:
    """The file's rows in chunks, the signature's columns (plus `keep`) in each."""
    if not path.is_file():
        raise InputError(f"{path}: no such file; give the path of a .csv or .parquet file to score")
    if file_format(path) == "parquet":
        yield from _parquet_chunks(path, signature, keep)
    else:
        yield from _csv_chunks(path, signature, keep)


def _check_header(path: Path, names: Sequence[str], signature: Signature, keep: Sequence[str]) -> None:
    expected = ", ".join(signature.columns)
    missing = [c for c in signature.columns if c not in names]
    if missing:
        raise InputError(
            f"{path}: column(s) {', '.join(missing)} missing; the model expects {expected} "
            f"(the file has {', '.join(names) or 'no columns'})"
        )
    absent_keep = [c for c in keep if c not in names]
    if absent_keep:
        raise InputError(f"{path}: --keep column(s) {', '.join(absent_keep)} are not in the file")
    extra = [c for c in names if c not in signature.columns and c not in keep]
    if extra:
        raise InputError(
            f"{path}: column(s) {', '.join(extra)} are not inputs of the model (it expects {expected}); "
            "remove them, or pass them through to the output with --keep COLUMN"
        )
    if len(set(names)) != len(names):
        raise InputError(f"{path}: the header names a column twice; column names must be unique")


def _csv_header(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        try:
            return next(csv.reader(handle))
        except StopIteration:
            raise InputError(f"{path}: the file is empty; a CSV input starts with a header line") from None
        except (csv.Error, UnicodeDecodeError) as exc:
            raise InputError(f"{path}: the header line is not readable CSV ({exc})") from None


def _csv_chunks(path: Path, signature: Signature, keep: Sequence[str]) -> Iterator[Chunk]:
    header = _csv_header(path)
    _check_header(path, header, signature, keep)
    dropped: list[tuple[int, str]] = []  # filled by the parser, in file order

    def invalid_row(row: pa_csv.InvalidRow) -> str:
        number = row.number - 1 if row.number is not None else -1  # the header is line 1
        if keep:
            reason = f"has {row.actual_columns} values, the header names {row.expected_columns} columns"
        else:
            reason = wrong_width(row.actual_columns, signature)
        dropped.append((number, reason))
        return "skip"

    reader = pa_csv.open_csv(
        path,
        read_options=pa_csv.ReadOptions(block_size=CHUNK_BYTES, use_threads=False),
        parse_options=pa_csv.ParseOptions(invalid_row_handler=invalid_row),
        convert_options=pa_csv.ConvertOptions(
            column_types={name: pa.string() for name in header},
            include_columns=[*signature.columns, *keep],
            strings_can_be_null=True,  # "", "NA", "null"... become missing values, not text
        ),
    )
    numbering = _RowNumbers()
    for batch in reader:
        rows = numbering.take(batch.num_rows, dropped)
        malformed = [d for d in dropped if d[0] < numbering.next]
        del dropped[: len(malformed)]
        yield Chunk(rows, batch, malformed)
    if dropped:  # malformed rows after the last good one
        yield Chunk(np.empty(0, np.int64), pa.RecordBatch.from_pylist([], schema=reader.schema), list(dropped))


class _RowNumbers:
    """Row numbers of the rows the parser kept: consecutive, except where it dropped malformed ones."""

    def __init__(self) -> None:
        self.next = 1

    def take(self, count: int, dropped: list[tuple[int, str]]) -> np.ndarray:
        skipped = sorted(number for number, _ in dropped if number >= self.next)
        end = self.next + count
        within = 0
        while within < len(skipped) and skipped[within] < end + within:
            within += 1
        numbers = np.arange(self.next, end + within, dtype=np.int64)
        if within:
            numbers = numbers[~np.isin(numbers, skipped[:within])]
        self.next = end + within
        return numbers


def _parquet_chunks(path: Path, signature: Signature, keep: Sequence[str]) -> Iterator[Chunk]:
    try:
        parquet = pq.ParquetFile(path, buffer_size=CHUNK_BYTES)  # buffered: column chunks stream in pages
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"{path}: not a readable Parquet file ({exc})") from None
    schema = parquet.schema_arrow
    _check_header(path, schema.names, signature, keep)
    for name, kind in zip(signature.columns, signature.types, strict=True):
        column_type = schema.field(name).type
        if not (
            pa.types.is_integer(column_type)
            or pa.types.is_floating(column_type)
            or pa.types.is_boolean(column_type)
            or pa.types.is_string(column_type)
            or pa.types.is_large_string(column_type)
            or pa.types.is_null(column_type)
        ):
            raise InputError(f"{path}: column {name!r} is {column_type}; the model expects {kind} numbers")
    first = 1
    for batch in parquet.iter_batches(batch_size=CHUNK_ROWS, columns=[*signature.columns, *keep]):
        yield Chunk(np.arange(first, first + batch.num_rows, dtype=np.int64), batch)
        first += batch.num_rows
