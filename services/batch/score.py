"""Score a file with a loaded model: read a chunk, validate it, predict, write; then decide.

The loop holds a few chunks at a time (about a megabyte of input each), so memory does not grow with
the file. A reader thread parses and validates the next chunks while the main thread predicts and
writes the current one: pyarrow parses and casts, and numpy and the Parquet writer compute, with
Python's lock released, so on two cores the two halves (each about half the work) overlap.

The model is the model server's `LoadedModel` (services/model_server/loading.py): for scikit-learn
the native estimator, or a compiled linear predict, on a float64 matrix; no pandas and no pyfunc on
the hot path.

Drift: the valid rows are counted into the bins of the model's training reference distribution, and
the run reports PSI per feature for the batch. Every row of the first `DRIFT_EXACT_ROWS` is counted,
then one row in `DRIFT_SAMPLE_EVERY`: PSI from over a million rows is as good as exact, and binning
every row of the benchmark's 10 million took a second, a fifth of the whole run.

The run fails, and publishes no output, when the share of rejected rows is above `max_reject_ratio`;
the rejects file is still written so the failure can be read. Otherwise the output and the rejects
are renamed into place, rejects first, the output last: an output file always has its rejects beside it.
"""

from __future__ import annotations

import queue
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import numpy as np

from services.batch.output import RejectsWriter, ScoresWriter, default_rejects_path
from services.batch.reader import Chunk, read_chunks
from services.batch.rows import Reject, ValidRows, validate_chunk
from services.model_server.loading import LoadedModel
from services.model_server.reference import bin_counts, psi

__all__ = ["BatchOptions", "BatchResult", "RejectRatioExceeded", "Progress", "score_file"]

DRIFT_EXACT_ROWS = 1_000_000
DRIFT_SAMPLE_EVERY = 10


@dataclass(frozen=True)
class BatchOptions:
    max_reject_ratio: float = 0.01
    keep: tuple[str, ...] = ()
    rejects: Path | None = None  # default: beside the output, `<stem>.rejects.csv`


@dataclass
class BatchResult:
    model: str
    version: str
    run_id: str | None
    input: Path
    output: Path
    rejects: Path
    rows_scored: int = 0
    rows_rejected: int = 0
    seconds: float = 0.0
    psi: dict[str, float] = field(default_factory=dict)
    published: bool = False

    @property
    def rows(self) -> int:
        return self.rows_scored + self.rows_rejected

    @property
    def reject_ratio(self) -> float:
        return self.rows_rejected / self.rows if self.rows else 0.0


class RejectRatioExceeded(Exception):
    def __init__(self, result: BatchResult, limit: float):
        self.result, self.limit = result, limit
        super().__init__(
            f"rejected {result.rows_rejected:,} of {result.rows:,} rows ({result.reject_ratio:.2%}), above the "
            f"maximum reject ratio {limit:g}: no output written; the reasons are in {result.rejects}"
        )


class Progress:
    """Rows and rows/s: one updating line on a terminal, a plain log line every few seconds otherwise."""

    def __init__(self, stream: TextIO = sys.stderr, clock: Callable[[], float] = time.monotonic, every: float = 5.0):
        self.stream, self.clock = stream, clock
        self.tty = stream.isatty()
        self.every = 0.2 if self.tty else every
        self.started = self._last = clock()

    def update(self, scored: int, rejected: int) -> None:
        now = self.clock()
        if now - self._last < self.every:
            return
        self._last = now
        line = f"scored {scored:,} rows, rejected {rejected:,} ({self._rate(scored + rejected, now):,.0f} rows/s)"
        if self.tty:
            self.stream.write(f"\r  {line}   ")
        else:
            self.stream.write(f"batch: {line}\n")
        self.stream.flush()

    def done(self, result: BatchResult) -> None:
        if self.tty:
            self.stream.write("\r" + " " * 80 + "\r")
        self.stream.write(
            f"batch: {result.rows_scored:,} rows scored, {result.rows_rejected:,} rejected in {result.seconds:.1f}s "
            f"({self._rate(result.rows, self.clock()):,.0f} rows/s) by {result.model} version {result.version}\n"
        )
        self.stream.flush()

    def _rate(self, rows: int, now: float) -> float:
        return rows / max(now - self.started, 1e-9)


def score_file(
    model: LoadedModel, source: Path, output: Path, options: BatchOptions, progress: Progress | None = None
) -> BatchResult:
    if model.signature is None:
        raise ValueError(
            f"{model.name} version {model.version} has no signature: batch scoring needs its input columns "
            "(log the model with a signature; the promotion gate requires one too)"
        )
    started = time.monotonic()
    signature = model.signature
    rejects_path = options.rejects or default_rejects_path(output)
    result = BatchResult(model.name, model.version, model.run_id, source, output, rejects_path)
    drift = _DriftCounts(model)
    scores = ScoresWriter(output, model=model.name, version=model.version, run_id=model.run_id, keep=options.keep)
    rejects = RejectsWriter(rejects_path)
    last_batch = None
    try:
        for chunk, valid in _read_ahead(_validated(read_chunks(source, signature, options.keep), signature)):
            rejects.write([Reject(row, "", reason) for row, reason in chunk.malformed])
            result.rows_rejected += len(chunk.malformed)
            last_batch = chunk.batch
            if valid is None:
                continue
            rejects.write(valid.rejects)
            result.rows_rejected += len(valid.rejects)
            if len(valid.rows):
                kept = chunk.batch.select(list(options.keep)) if options.keep else None
                if kept is not None and valid.rejects:
                    kept = kept.take(valid.keep)
                scores.write(valid.rows, model.predict(valid.matrix), kept)
                drift.add(valid.matrix)
                result.rows_scored += len(valid.rows)
            if progress is not None:
                progress.update(result.rows_scored, result.rows_rejected)
        result.seconds = time.monotonic() - started
        result.psi = drift.psi()
        rejects.commit()
        if result.reject_ratio > options.max_reject_ratio:
            scores.discard()
            raise RejectRatioExceeded(result, options.max_reject_ratio)
        scores.commit(last_batch.select(list(options.keep)) if options.keep and last_batch is not None else None)
        result.published = True
    except BaseException:
        scores.discard()
        rejects.discard()
        raise
    if progress is not None:
        progress.done(result)
    return result


class _DriftCounts:
    """The batch's rows counted into the reference bins of each feature, for one PSI per feature."""

    def __init__(self, model: LoadedModel):
        columns = model.signature.columns if model.signature else ()
        self._features = [(i, name, model.reference[name]) for i, name in enumerate(columns) if name in model.reference]
        self._counts = {name: np.zeros(ref.proportions.size, dtype=np.int64) for _, name, ref in self._features}
        self._seen = 0

    def add(self, matrix: np.ndarray) -> None:
        sample = matrix if self._seen < DRIFT_EXACT_ROWS else matrix[::DRIFT_SAMPLE_EVERY]
        self._seen += len(matrix)
        for index, name, ref in self._features:
            self._counts[name] += bin_counts(ref, sample[:, index])

    def psi(self) -> dict[str, float]:
        return {name: psi(ref.proportions, self._counts[name]) for _, name, ref in self._features}


def _validated(chunks: Iterator[Chunk], signature) -> Iterator[tuple[Chunk, ValidRows | None]]:
    for chunk in chunks:
        yield chunk, validate_chunk(chunk.batch, chunk.rows, signature) if chunk.batch.num_rows else None


def _read_ahead(chunks: Iterator, depth: int = 2) -> Iterator:
    """Run `chunks` on a thread, at most `depth` items ahead; its exceptions are raised here."""
    items: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def produce() -> None:
        try:
            for item in chunks:
                while not stop.is_set():
                    try:
                        items.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            items.put(done)
        except BaseException as exc:  # handed to the consumer, which raises it
            items.put(exc)

    thread = threading.Thread(target=produce, name="batch-reader", daemon=True)
    thread.start()
    try:
        while (item := items.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join(timeout=5)
