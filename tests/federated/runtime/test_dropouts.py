"""Dropouts: up to the declared share of a round's devices vanish mid-round, after SecAgg+'s key
exchange, and every round still aggregates, to the same model plain FedAvg reaches without secure
aggregation on the same survivors. The neighbourhood size is what makes it hold: a smaller one, as a
control, stalls the round."""

from __future__ import annotations

import numpy as np

from blueprints.secure_aggregation import SecureAggregation
from services.federated.events import RoundReport
from services.federated.flower.runtime import run
from services.federated.spec import RunSpec
from tests.federated.runtime.conftest import small_spec


def _rounds(events) -> list[RoundReport]:
    return [e for e in events if isinstance(e, RoundReport)]


def test_every_round_aggregates_with_30_percent_of_the_devices_gone():
    spec = small_spec(rounds=3, dropout_rate=0.3)
    events = []
    run(spec, events.append)
    rounds = _rounds(events)
    assert [r.round for r in rounds] == [1, 2, 3]
    for report in rounds:
        assert (report.sampled, report.dropped, report.answered) == (10, 3, 7)
        assert report.aggregated
    assert rounds[-1].accuracy > 0.8  # ten classes: chance is 0.1


def test_secure_aggregation_loses_nothing_against_plain_fedavg():
    """Same seed, same sampled devices, same dropouts: the two global models agree to SecAgg+'s
    quantisation step."""
    secure = run(small_spec(rounds=3, dropout_rate=0.3), lambda e: None)
    plain = run(small_spec(rounds=3, dropout_rate=0.3, secure_aggregation=False), lambda e: None)
    for a, b in zip(secure.params, plain.params, strict=True):
        np.testing.assert_allclose(a, b, atol=5e-4)
    assert abs(secure.accuracy - plain.accuracy) < 0.005


def test_a_neighbourhood_too_small_for_the_dropout_stalls_the_round(monkeypatch):
    """The control for the sizing: 3 shares (threshold 2) cannot lose 3 of 10 devices."""
    monkeypatch.setattr(RunSpec, "secagg", lambda self: SecureAggregation(num_shares=3, threshold=2))
    events = []
    run(small_spec(rounds=2, dropout_rate=0.3), events.append)
    assert not any(r.aggregated for r in _rounds(events))
