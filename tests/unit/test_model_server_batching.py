"""Micro-batching: concurrent requests share one model call, and each gets exactly its own answer."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from services.model_server.batching import MicroBatcher
from services.model_server.loading import LoadedModel
from services.model_server.routing import Slot
from services.model_server.uris import parse_model_uri


class CountingModel:
    """Sums each row; raises on any row holding a negative number; records every call's row count."""

    def __init__(self):
        self.calls: list[int] = []

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        self.calls.append(batch.shape[0])
        if (batch < 0).any():
            raise ValueError("negative input")
        return batch.sum(axis=1)


def _gather(batcher: MicroBatcher, batches: list[np.ndarray]) -> list:
    async def run():
        return await asyncio.gather(*(batcher.predict(b) for b in batches), return_exceptions=True)

    return asyncio.run(run())


def test_requests_arriving_together_share_one_call_and_get_their_own_rows():
    model = CountingModel()
    batches = [np.full((rows, 3), float(i)) for i, rows in enumerate((1, 2, 1, 3), start=1)]
    results = _gather(MicroBatcher(model, max_rows=64), batches)
    assert model.calls == [7]
    for batch, result in zip(batches, results, strict=True):
        np.testing.assert_array_equal(result, batch.sum(axis=1))


def test_a_full_batch_runs_at_once_without_waiting_for_the_rest():
    model = CountingModel()
    results = _gather(MicroBatcher(model, max_rows=2), [np.ones((1, 2))] * 5)
    assert model.calls == [2, 2, 1]
    assert [r.tolist() for r in results] == [[2.0]] * 5


def test_a_request_that_makes_the_model_raise_fails_alone():
    model = CountingModel()
    batches = [np.ones((1, 2)), -np.ones((1, 2)), 2 * np.ones((1, 2))]
    results = _gather(MicroBatcher(model), batches)
    assert results[0].tolist() == [2.0] and results[2].tolist() == [4.0]
    assert isinstance(results[1], ValueError)
    assert model.calls == [3, 1, 1, 1]  # the shared call failed; each request was retried alone


def test_a_lone_request_is_answered_on_its_own():
    model = CountingModel()
    assert _gather(MicroBatcher(model, max_wait=0.001), [np.ones((2, 2))])[0].tolist() == [2.0, 2.0]
    assert model.calls == [2]


def test_max_rows_must_be_positive():
    with pytest.raises(ValueError, match="max_rows"):
        MicroBatcher(CountingModel(), max_rows=0)


def _model(flavor: str) -> LoadedModel:
    return LoadedModel("iris", "1", None, flavor, CountingModel(), signature=None)


@pytest.mark.parametrize(
    ("flavor", "max_rows", "batched"),
    [("sklearn", 64, True), ("pyfunc", 64, True), ("sklearn-linear", 64, False), ("pyfunc", 0, False)],
)
def test_slots_batch_every_model_but_the_compiled_linear_ones(flavor, max_rows, batched):
    slot = Slot(parse_model_uri("models:/iris@champion"), "champion", max_batch_rows=max_rows)
    slot.swap(_model(flavor))
    assert (slot.model.batcher is not None) is batched
