"""Adaptive micro-batching: requests that arrive together are predicted in one call.

Contract: `await batcher.predict(batch)` returns what `predict(batch)` would have returned for
that request's rows alone, in order; an exception from the model reaches only the request whose
rows make the model raise.

When a batch runs (the "adaptive" part): at the end of the current event-loop turn, so every
request whose bytes arrived in the same turn shares one call and a lone request waits for no
timer; or at once when `max_rows` rows are queued; or, with `max_wait` > 0, after that many
seconds, which trades that much latency for larger batches at low load.

The trade-off, measured in benchmarks/README.md: a model call with a large fixed cost per call
(scikit-learn's own `predict` validates its input on every call; a pyfunc builds a DataFrame) is
paid once per batch instead of once per request, which multiplies throughput under concurrency.
For the compiled linear path (fastpath.py) a call costs a few microseconds and the queueing costs
about as much, so the server does not batch it. While a batch is computed the event loop is busy
for the whole batch, so a request's latency includes its neighbours' rows: `max_rows` bounds that.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import numpy as np

__all__ = ["MicroBatcher"]

Predict = Callable[[np.ndarray], np.ndarray]


class MicroBatcher:
    def __init__(self, predict: Predict, max_rows: int = 64, max_wait: float = 0.0):
        if max_rows < 1:
            raise ValueError(f"max_rows must be at least 1, got {max_rows}")
        self._predict = predict
        self.max_rows = max_rows
        self.max_wait = max_wait
        self._queue: list[tuple[np.ndarray, asyncio.Future]] = []
        self._rows = 0
        self._scheduled: asyncio.Handle | asyncio.TimerHandle | None = None

    async def predict(self, batch: np.ndarray) -> np.ndarray:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._queue.append((batch, future))
        self._rows += batch.shape[0]
        if self._rows >= self.max_rows:
            self._flush()
        elif self._scheduled is None:
            if self.max_wait > 0:
                self._scheduled = loop.call_later(self.max_wait, self._flush)
            else:
                self._scheduled = loop.call_soon(self._flush)
        return await future

    def _flush(self) -> None:
        if self._scheduled is not None:
            self._scheduled.cancel()
            self._scheduled = None
        queue, self._queue, self._rows = self._queue, [], 0
        if len(queue) == 1:
            _settle(self._predict, *queue[0])
            return
        if not queue:
            return
        try:
            combined = np.asarray(self._predict(np.concatenate([batch for batch, _ in queue])))
        except Exception:
            combined = None  # someone's rows make the model raise: find out whose, one by one
        if combined is None or combined.ndim == 0 or combined.shape[0] != self._count(queue):
            for batch, future in queue:
                _settle(self._predict, batch, future)
            return
        start = 0
        for batch, future in queue:
            end = start + batch.shape[0]
            if not future.done():  # a client that went away cancelled its future
                future.set_result(combined[start:end])
            start = end

    @staticmethod
    def _count(queue: list[tuple[np.ndarray, asyncio.Future]]) -> int:
        return sum(batch.shape[0] for batch, _ in queue)


def _settle(predict: Predict, batch: np.ndarray, future: asyncio.Future) -> None:
    if future.done():
        return
    try:
        future.set_result(np.asarray(predict(batch)))
    except Exception as exc:
        future.set_exception(exc)
