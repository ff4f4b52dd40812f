"""The privacy budget a run spends: Flower's RDP accountant, fed one event per released round.

The accounting model is the one Flower's own fixed-clipping strategy uses with its accountant: no
amplification by sampling, add-or-remove-one neighbouring populations. It does not rely on the
server sampling devices honestly at random, which a device cannot check; the price is an epsilon
that grows with every round (sampling amplification would shrink it by about the sampled share,
and is one line to change here when the sampling can be trusted).

One correction Flower's wrapper leaves to the caller: its noise is calibrated for the configured
number of sampled devices, `sigma x C / sampled`, but the mean it is added to is over the devices
that answered, so one device moves it by up to `C / answered`. The noise multiplier actually
achieved in a round with dropouts is therefore `sigma x answered / sampled`, and that is what is
composed: dropouts cost privacy, and the ledger shows how much.
"""

from __future__ import annotations

from flwr.serverapp import GaussianPrivacyEvent, NeighboringRelation, PrivacyConfig, RdpAccountant, SamplingMethod

from services.federated.spec import Privacy

__all__ = ["PrivacyLedger"]


class PrivacyLedger:
    def __init__(self, privacy: Privacy, population: int, sampled: int):
        self._privacy = privacy
        self._population = population
        self._sampled = sampled
        self._accountant = RdpAccountant(
            PrivacyConfig(
                target_delta=privacy.delta,
                population_size=population,
                neighboring_relation=NeighboringRelation.ADD_OR_REMOVE_ONE,
                sampling_method=SamplingMethod.NO_AMPLIFICATION,
            )
        )

    def effective_noise_multiplier(self, answered: int) -> float:
        return self._privacy.noise_multiplier * answered / self._sampled

    def release(self, answered: int) -> None:
        """One noisy aggregate of `answered` clipped updates left the server."""
        if answered == 0:
            return
        self._accountant.compose(
            GaussianPrivacyEvent(
                noise_multiplier=self.effective_noise_multiplier(answered),
                sample_size=self._sampled,
                population_size=self._population,
            )
        )

    def spent(self) -> tuple[float, float]:
        """(epsilon, delta) spent so far; epsilon 0 before the first release."""
        if self._accountant.num_releases == 0:
            return 0.0, self._privacy.delta
        spent = self._accountant.get_privacy_spent()
        return spent.epsilon, spent.delta
