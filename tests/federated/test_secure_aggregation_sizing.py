"""SecAgg+'s neighbourhood size for a dropout rate (blueprints/secure_aggregation.py): the smallest
that keeps every device's majority of live neighbours, checked against a simulation of Flower's own
ring of neighbours with random dropouts."""

from __future__ import annotations

import random

import pytest

from blueprints.secure_aggregation import (
    FAILURE_BUDGET,
    SecureAggregation,
    SecureAggregationError,
    _stall_probability,
    secure_aggregation_parameters,
)


def _stall_rate(sampled: int, dropped: int, shares: int, threshold: int, trials: int, seed: int = 0) -> float:
    """How often Flower's check fails: a ring of `shares` neighbours around each shuffled device
    (SecAggPlusWorkflow.setup_stage), `dropped` devices gone, some device under `threshold` alive."""
    rng, half, stalls = random.Random(seed), shares // 2, 0
    for _ in range(trials):
        order = list(range(sampled))
        rng.shuffle(order)
        dead = set(rng.sample(range(sampled), dropped))
        for index in range(sampled):
            ring = {order[(index + offset) % sampled] for offset in range(-half, half + 1)}
            if len(ring - dead) < threshold:
                stalls += 1
                break
    return stalls / trials


@pytest.mark.parametrize(
    ("sampled", "rate", "expected"),
    [(100, 0.0, (3, 2)), (100, 0.1, (17, 9)), (100, 0.3, (53, 27)), (10, 0.3, (7, 4)), (4, 0.25, (3, 2))],
)
def test_the_neighbourhood_grows_with_the_dropout_it_must_survive(sampled, rate, expected):
    assert secure_aggregation_parameters(sampled, rate) == SecureAggregation(*expected)


@pytest.mark.parametrize(("sampled", "rate"), [(100, 0.1), (100, 0.3), (10, 0.3)])
def test_it_is_the_smallest_size_within_the_failure_budget(sampled, rate):
    chosen = secure_aggregation_parameters(sampled, rate)
    dropped = int(sampled * rate)
    smaller = chosen.num_shares - 2
    if smaller >= 3:
        assert _stall_probability(sampled, dropped, smaller, smaller // 2 + 1) > FAILURE_BUDGET


def test_the_chosen_size_survives_in_simulation_and_a_smaller_one_does_not():
    chosen = secure_aggregation_parameters(100, 0.3)
    assert _stall_rate(100, 30, chosen.num_shares, chosen.threshold, trials=300) == 0
    assert _stall_rate(100, 30, 11, 6, trials=300) > 0.5  # Flower's example sizing would stall most rounds


def test_half_the_devices_dropping_is_refused_with_the_reason():
    with pytest.raises(SecureAggregationError, match="majority"):
        secure_aggregation_parameters(100, 0.5)
