"""SecAgg+'s neighbourhood size for a declared dropout rate: the one number secure aggregation's
cost and robustness hinge on, as a pure function.

It lives beside the schema (like cron.py and quantity.py) because the blueprint validator uses it to
refuse a dropout rate no configuration survives, and the federated runtime
(services/federated/spec.py) uses it to configure Flower's SecAgg+ workflow: one answer for both.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import comb, floor

__all__ = [
    "FAILURE_BUDGET",
    "SecureAggregation",
    "SecureAggregationError",
    "dropped_per_round",
    "sampled_per_round",
    "secure_aggregation_parameters",
]

# The chance, per round, that some device has fewer live neighbours than the threshold and SecAgg+
# halts the round. 1e-4 per round is one stalled round in ten thousand.
FAILURE_BUDGET = 1e-4


class SecureAggregationError(ValueError):
    """No SecAgg+ configuration survives the declared dropout; the message says what to change."""


@dataclass(frozen=True)
class SecureAggregation:
    """SecAgg+ for one round: each device shares its keys with `num_shares` neighbours (itself
    included); `threshold` of them must survive to unmask the sum."""

    num_shares: int
    threshold: int


def sampled_per_round(devices: int, fraction: float) -> int:
    """Devices asked to train each round: the fraction of the population, at least two."""
    return max(2, min(devices, round(devices * fraction)))


def dropped_per_round(sampled: int, dropout_rate: float) -> int:
    """Sampled devices that vanish mid-round: the declared share, rounded down."""
    return floor(sampled * dropout_rate + 1e-9)


def secure_aggregation_parameters(
    sampled: int, dropout_rate: float, failure_budget: float = FAILURE_BUDGET
) -> SecureAggregation:
    """The smallest SecAgg+ neighbourhood that survives `dropout_rate` of `sampled` devices.

    SecAgg+ (Bell et al., 2020) does not make every device share its keys with every other, as the
    original SecAgg does: each shares with a ring of `k` neighbours (itself included), which is what
    keeps a round of thousands of devices affordable. A device's masks can be removed only if at
    least `t` of its neighbours are still there at the end; Flower's workflow halts the round the
    moment any sampled device falls below `t`.

    `t` is a majority of the neighbourhood (k // 2 + 1): an honest device reveals, for each
    neighbour, either the share that unmasks its update (it survived) or the share that cancels its
    pairwise masks (it dropped), never both; with a majority threshold the server cannot collect
    enough of both kinds to see a single update. That is also why no configuration tolerates half
    of the devices dropping: the survivors would be fewer than any majority.

    With d = floor(rate x sampled) devices gone, the dead among one device's k - 1 neighbours are
    hypergeometric; `k` is the smallest odd size for which the chance that any device is left with
    fewer than `t` live neighbours stays under `failure_budget` per round (a union bound over the
    sampled devices). Larger `k` costs more key agreements and shares per device, so the dropout
    you must tolerate sets the price of secure aggregation.
    """
    if sampled < 3:
        raise SecureAggregationError(
            f"secure aggregation needs at least 3 devices a round, and {sampled} are sampled: "
            "raise fractionPerRound or devices"
        )
    if not 0 <= dropout_rate < 1:
        raise SecureAggregationError(f"dropout rate {dropout_rate} must be in [0, 1)")
    dropped = dropped_per_round(sampled, dropout_rate)
    largest = sampled if sampled % 2 else sampled - 1
    for shares in range(3, largest + 1, 2):
        threshold = shares // 2 + 1
        if _stall_probability(sampled, dropped, shares, threshold) <= failure_budget:
            return SecureAggregation(num_shares=shares, threshold=threshold)
    raise SecureAggregationError(
        f"secure aggregation cannot survive {dropped} of {sampled} devices dropping ({dropout_rate:.0%}): even "
        f"sharing keys with all {largest} neighbours leaves some device without a majority of live ones. "
        "A majority is what stops the server from unmasking one device's update; lower dropoutRate below "
        "0.5 (or raise fractionPerRound, which helps only far below 0.5)"
    )


def _stall_probability(sampled: int, dropped: int, shares: int, threshold: int) -> float:
    """Union bound: the chance that any sampled device has fewer than `threshold` live neighbours."""
    others = shares - 1  # the neighbours drawn from the other sampled - 1 devices

    def tail(dead_pool: int, self_dead: int) -> float:
        # the device's live neighbourhood: shares - self_dead - (dead among the others)
        too_many = shares - self_dead - threshold + 1  # this many dead others stall the round
        total = comb(sampled - 1, others)
        bad = sum(
            comb(dead_pool, x) * comb(sampled - 1 - dead_pool, others - x)
            for x in range(max(too_many, 0), min(dead_pool, others) + 1)
        )
        return bad / total

    alive_fails = tail(dropped, 0) if dropped < sampled else 0.0
    dead_fails = tail(dropped - 1, 1) if dropped else 0.0
    return (sampled - dropped) * alive_fails + dropped * dead_fails
