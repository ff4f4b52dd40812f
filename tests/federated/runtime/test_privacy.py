"""Central differential privacy: the budget spent is reported every round and at the end, and it is
what Flower's accountant gives for the noise actually achieved (dropouts raise it)."""

from __future__ import annotations

import pytest
from flwr.serverapp import GaussianPrivacyEvent, NeighboringRelation, PrivacyConfig, RdpAccountant, SamplingMethod

from services.federated.events import RoundReport
from services.federated.flower.runtime import run
from tests.federated.runtime.conftest import small_spec

PRIVACY = {"noise_multiplier": 1.0, "clipping_norm": 1.0, "delta": 1e-3}


@pytest.fixture(scope="module")
def private_run():
    spec = small_spec(rounds=3, dropout_rate=0.3, privacy=PRIVACY)
    events = []
    result = run(spec, events.append)
    return spec, [e for e in events if isinstance(e, RoundReport)], result


def test_epsilon_is_reported_every_round_and_only_grows(private_run):
    _, rounds, result = private_run
    epsilons = [r.epsilon for r in rounds]
    assert all(e is not None and e > 0 for e in epsilons)
    assert epsilons == sorted(epsilons) and len(set(epsilons)) == 3
    assert all(r.delta == PRIVACY["delta"] for r in rounds)
    assert result.epsilon == epsilons[-1] and result.delta == PRIVACY["delta"]


def test_epsilon_is_the_accountants_for_the_noise_the_survivors_got(private_run):
    """7 of 10 answered: the mean over 7 moves by C/7 per device, the noise is sigma C/10."""
    spec, rounds, result = private_run
    accountant = RdpAccountant(
        PrivacyConfig(
            target_delta=PRIVACY["delta"],
            population_size=spec.devices,
            neighboring_relation=NeighboringRelation.ADD_OR_REMOVE_ONE,
            sampling_method=SamplingMethod.NO_AMPLIFICATION,
        )
    )
    for report in rounds:
        accountant.compose(GaussianPrivacyEvent(1.0 * report.answered / report.sampled, report.sampled, spec.devices))
    assert result.epsilon == pytest.approx(accountant.get_privacy_spent().epsilon)
    dropout_free = RdpAccountant(accountant.config)
    dropout_free.compose(GaussianPrivacyEvent(1.0, spec.sampled, spec.devices), count=3)
    assert result.epsilon > dropout_free.get_privacy_spent().epsilon  # the dropouts cost privacy


def test_privacy_works_with_secure_aggregation_and_still_learns(private_run):
    _, rounds, _ = private_run
    assert all(r.aggregated for r in rounds)
    assert rounds[-1].accuracy > 0.3  # noisy, ten classes: far above chance (0.1)


def test_a_private_run_is_reproducible_noise_included(private_run):
    spec, _, result = private_run
    again = run(spec, lambda event: None)
    for a, b in zip(result.params, again.params, strict=True):
        assert (a == b).all()
