"""The pieces both environments share: the model's math, its scikit-learn form, the data and the events."""

from __future__ import annotations

import numpy as np
import pytest

from services.federated import data, model
from services.federated.events import Finished, RoundReport, Started, from_line, to_line
from services.federated.spec import DataSpec

SPEC = DataSpec(samples=2_000, features=5, classes=3, classes_per_device=2, separation=2.0, seed=1)


@pytest.fixture(scope="module")
def pool():
    return data.generate(SPEC)


def test_the_data_is_the_same_for_the_same_seed_and_the_digest_says_so(pool):
    again = data.generate(SPEC)
    np.testing.assert_array_equal(pool.train_x, again.train_x)
    assert pool.digest() == again.digest() != data.generate(DataSpec(**{**SPEC.__dict__, "seed": 2})).digest()
    assert len(pool.train_y) == 2_000 and len(pool.test_y) == 500


def test_local_training_learns_and_the_proximal_term_holds_it_near_the_global_model(pool):
    start = model.initial(SPEC.features, SPEC.classes)
    kwargs = {"epochs": 3, "batch_size": 32, "learning_rate": 0.1, "seed": 0}
    free = model.local_train(start, pool.train_x, pool.train_y, proximal_mu=0.0, **kwargs)
    held = model.local_train(start, pool.train_x, pool.train_y, proximal_mu=5.0, **kwargs)
    assert model.evaluate(free, pool.test_x, pool.test_y)[1] > 0.8
    assert model.update_norm(held, start) < model.update_norm(free, start)
    again = model.local_train(start, pool.train_x, pool.train_y, proximal_mu=0.0, **kwargs)
    np.testing.assert_array_equal(free[0], again[0])  # deterministic for a seed: a test can recompute it


def test_the_scikit_learn_model_predicts_exactly_what_the_arrays_do(pool):
    params = model.local_train(
        model.initial(SPEC.features, SPEC.classes),
        pool.train_x,
        pool.train_y,
        epochs=2,
        batch_size=32,
        learning_rate=0.1,
        proximal_mu=0.0,
        seed=0,
    )
    estimator = model.to_sklearn(params, data.feature_names(SPEC))
    logits = pool.test_x @ params[0] + params[1]
    np.testing.assert_array_equal(estimator.predict(pool.test_x), logits.argmax(axis=1))
    accuracy = model.evaluate(params, pool.test_x, pool.test_y)[1]
    assert estimator.score(pool.test_x, pool.test_y) == pytest.approx(accuracy)


def test_events_survive_a_line_and_stray_output_is_ignored():
    events = [
        Started(10, 3, 2, "fedavg", 0.1, 1.5, 3, 2),
        RoundReport(1, 3, 2, 1, True, 0.8, 0.5, 0.2, 100, 200, 12, 1.5, 1e-5),
        Finished(2, 0.9, 0.3, 4.0, "/tmp/model.npz", "sha256:x", 123),
    ]
    assert [from_line(to_line(e)) for e in events] == events
    assert from_line("INFO: something Flower printed") is None and from_line('{"kind": "other"}') is None
