"""The batch output and rejects files: written under a temporary name, renamed when complete.

`os.replace` within one directory is atomic: a reader sees the previous file or the whole new one,
never a half-written one. A run that fails, is stopped (SIGTERM, SIGINT) or crashes removes its
temporary file; one that is killed outright (SIGKILL, OOM) cannot, so the next run of the same output
removes temporary files whose process is gone. A killed run therefore never leaves an output file,
and re-running the same input with the same model version writes the same bytes again (no timestamps
in the rows or the Parquet metadata), so a retried job is idempotent.

Output columns: `row` (the input row number), any kept input columns, `prediction`, and the model's
`model_name`, `model_version` and `model_run_id`, dictionary-encoded (one value per file, so they cost
almost nothing in Parquet).
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from services.batch.reader import file_format
from services.batch.rows import Reject

__all__ = ["AtomicPath", "ScoresWriter", "RejectsWriter", "default_rejects_path", "REJECT_COLUMNS"]

REJECT_COLUMNS = ("row", "column", "reason")


def default_rejects_path(output: Path) -> Path:
    """`scored/iris.parquet` -> `scored/iris.rejects.csv`."""
    return output.with_name(f"{output.stem}.rejects.csv")


class AtomicPath:
    """A temporary sibling of `final` to write into; `commit()` renames it, `discard()` removes it."""

    def __init__(self, final: Path):
        self.final = final
        self.partial = final.with_name(f".{final.name}.partial-{os.getpid()}")
        final.parent.mkdir(parents=True, exist_ok=True)
        _remove_abandoned(final)

    def commit(self) -> None:
        with open(self.partial, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(self.partial, self.final)

    def discard(self) -> None:
        self.partial.unlink(missing_ok=True)


def _remove_abandoned(final: Path) -> None:
    """Temporary files of earlier runs of this output whose process no longer exists (killed runs)."""
    for path in final.parent.glob(f".{final.name}.partial-*"):
        pid = path.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not _alive(int(pid)):
            path.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class ScoresWriter:
    """Writes scored chunks to the output's temporary file, Parquet or CSV by the output's extension."""

    def __init__(self, output: Path, *, model: str, version: str, run_id: str | None, keep: Sequence[str] = ()):
        self.target = AtomicPath(output)
        self.format = file_format(output)
        self.keep = list(keep)
        self._identity = {"model_name": model, "model_version": version, "model_run_id": run_id or ""}
        self._writer: pq.ParquetWriter | pa_csv.CSVWriter | None = None
        self.rows = 0

    def write(self, rows: np.ndarray, predictions: np.ndarray, kept: pa.RecordBatch | None = None) -> None:
        batch = self._batch(rows, predictions, kept)
        if self._writer is None:
            self._writer = self._open(batch.schema)
        self._writer.write_batch(batch)
        self.rows += batch.num_rows

    def commit(self, empty_schema_for: pa.RecordBatch | None = None) -> None:
        """Close and rename into place; an input without a single scored row gives a file with no rows."""
        if self._writer is None:
            self._writer = self._open(self._batch(np.empty(0, np.int64), np.empty(0), empty_schema_for).schema)
        self._writer.close()
        self.target.commit()

    def discard(self) -> None:
        if self._writer is not None:
            with contextlib.suppress(Exception):
                self._writer.close()
        self.target.discard()

    def _open(self, schema: pa.Schema):
        if self.format == "parquet":
            # Dictionary-encode the few-valued columns only; `row` counts up, which delta encoding stores
            # in a few bits per row with no compression pass (measured: 62 MB -> 3 MB, 1.6 s -> 0.75 s
            # for 10 million rows).
            few_valued = [f.name for f in schema if f.name != "row" and f.name not in self.keep]
            return pq.ParquetWriter(
                self.target.partial,
                schema,
                use_dictionary=few_valued,
                column_encoding={"row": "DELTA_BINARY_PACKED"},
                compression={f.name: "none" if f.name == "row" else "snappy" for f in schema},
            )
        if any(pa.types.is_fixed_size_list(f.type) for f in schema):
            raise ValueError(
                f"{self.target.final}: the model returns several values per row, which CSV cannot hold; "
                "write the output as .parquet"
            )
        return pa_csv.CSVWriter(self.target.partial, schema)

    def _batch(self, rows: np.ndarray, predictions: np.ndarray, kept: pa.RecordBatch | None) -> pa.RecordBatch:
        count = len(rows)
        columns: dict[str, pa.Array] = {"row": pa.array(rows, pa.int64())}
        for name in self.keep:
            columns[name] = kept.column(name) if kept is not None else pa.array([], pa.string())
        columns["prediction"] = _prediction_array(predictions)
        zeros = pa.array(np.zeros(count, dtype=np.int8))
        for name, value in self._identity.items():
            columns[name] = pa.DictionaryArray.from_arrays(zeros, pa.array([value], pa.string()))
        return pa.RecordBatch.from_pydict(columns)


def _prediction_array(predictions: np.ndarray) -> pa.Array:
    predictions = np.asarray(predictions)
    if predictions.ndim == 2 and predictions.shape[1] == 1:
        predictions = predictions[:, 0]
    if predictions.ndim == 2:  # several outputs per row (multi-output regressors, probabilities)
        flat = pa.array(np.ascontiguousarray(predictions).reshape(-1))
        return pa.FixedSizeListArray.from_arrays(flat, predictions.shape[1])
    if predictions.dtype == object:
        return pa.array(predictions.tolist())
    return pa.array(predictions)


class RejectsWriter:
    """row, column, reason per rejected row, as CSV (rejects are few; the csv module is plenty)."""

    def __init__(self, path: Path):
        self.target = AtomicPath(path)
        self._handle = open(self.target.partial, "w", newline="", encoding="utf-8")  # noqa: SIM115 - closed by commit/discard
        self._csv = csv.writer(self._handle)
        self._csv.writerow(REJECT_COLUMNS)
        self.rows = 0

    def write(self, rejects: Sequence[Reject]) -> None:
        for reject in rejects:
            self._csv.writerow((reject.row, reject.column, reject.reason))
        self.rows += len(rejects)

    def commit(self) -> None:
        self._handle.close()
        self.target.commit()

    def discard(self) -> None:
        with contextlib.suppress(Exception):
            self._handle.close()
        self.target.discard()


def read_rejects(path: Path) -> list[dict[str, str]]:
    """The rejects file as dicts (for tests and the demo)."""
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
