"""A model trained by federated learning: simulated devices, secure aggregation, differential privacy.

Declared on a model (`models[].federated`), in place of `training`: the model's versions come from
federated rounds instead of a central training run, then go through the same promotion gate and
are served the same way. A run is `mlplat fl run --tenant T` (standalone, or by hand in the
cluster), and, when `schedule` is set, a CronJob in the cluster and a scheduled process in
standalone. docs/federated.md, ADR 0023.

    federated:
      devices: 10000              # simulated devices, each holding its own rows
      fractionPerRound: 0.01      # 100 devices are asked to train each round
      rounds: 40
      strategy: fedprox           # fedavg | fedprox
      proximalMu: 0.01            # fedprox's pull toward the global model
      dropoutRate: 0.3            # share of the sampled devices that vanish mid-round
      secureAggregation: true     # SecAgg+: the server sees only the sum of the updates
      privacy: {noiseMultiplier: 1.0, clippingNorm: 1.0, delta: 1.0e-5}   # optional, central DP
      data: {samples: 300000, features: 20, classes: 10, classesPerDevice: 2}
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from blueprints.schema.fields import CronSchedule, ResourceList, Resources, Spec
from blueprints.secure_aggregation import SecureAggregationError, sampled_per_round, secure_aggregation_parameters

__all__ = ["FederatedData", "FederatedTraining", "LocalTrainingSpec", "PrivacySpec", "federated_job_name"]


def federated_job_name(model: str) -> str:
    """The CronJob of a model's federated runs in the cluster (infra/components/federated_learning.py)."""
    return f"{model}-federated"


class PrivacySpec(Spec):
    """Central differential privacy: each device clips its update to `clippingNorm`; the server adds
    Gaussian noise of noiseMultiplier x clippingNorm / sampled devices to the mean. The budget spent
    (epsilon at `delta`) is reported every round and at the end."""

    noise_multiplier: float = Field(gt=0, le=100)
    clipping_norm: float = Field(gt=0)
    delta: float = Field(default=1e-5, gt=0, lt=1)


class LocalTrainingSpec(Spec):
    """What a device does with the global model each round it is sampled."""

    epochs: int = Field(default=2, ge=1, le=100)
    batch_size: int = Field(default=32, ge=1, le=4096)
    learning_rate: float = Field(default=0.1, gt=0, le=10)


class FederatedData(Spec):
    """The population's rows, generated from `seed` (nothing is downloaded): Gaussian clusters, one
    per class, spread over the devices with label skew by Flower Datasets' PathologicalPartitioner."""

    samples: int = Field(default=300_000, ge=100, le=10_000_000, description="labelled rows over all devices")
    features: int = Field(default=20, ge=2, le=1000)
    classes: int = Field(default=10, ge=2, le=100)
    classes_per_device: int = Field(default=2, ge=1, description="label skew: classes each device holds")
    separation: float = Field(default=0.9, gt=0, le=10, description="spread of the class centres")
    seed: int = Field(default=7, ge=0)

    @model_validator(mode="after")
    def _classes_per_device_fit(self) -> FederatedData:
        if self.classes_per_device > self.classes:
            raise ValueError(
                f"classesPerDevice ({self.classes_per_device}) exceeds classes ({self.classes}): "
                "a device cannot hold more classes than there are"
            )
        return self


class FederatedTraining(Spec):
    devices: int = Field(ge=2, le=1_000_000, description="simulated devices")
    fraction_per_round: float = Field(gt=0, le=1, description="share of the devices sampled each round")
    rounds: int = Field(ge=1, le=10_000)
    strategy: Literal["fedavg", "fedprox"] = "fedavg"
    proximal_mu: float = Field(default=0.0, ge=0, le=100, description="FedProx's proximal term")
    dropout_rate: float = Field(default=0.0, ge=0, lt=1, description="share of sampled devices lost mid-round")
    secure_aggregation: bool = True
    privacy: PrivacySpec | None = None
    local_training: LocalTrainingSpec = LocalTrainingSpec()
    data: FederatedData = FederatedData()
    schedule: CronSchedule | None = Field(default=None, description="run on a schedule too (cron)")
    resources: Resources = Resources(
        requests=ResourceList(cpu="500m", memory="1Gi"),
        limits=ResourceList(cpu="2", memory="2Gi"),
    )
    timeout_minutes: int = Field(default=60, ge=1, le=24 * 60, description="a run still going is stopped")

    @model_validator(mode="after")
    def _consistent(self) -> FederatedTraining:
        if self.strategy == "fedprox" and self.proximal_mu == 0:
            raise ValueError("strategy fedprox needs proximalMu > 0 (e.g. 0.01); with 0 it is fedavg")
        if self.strategy == "fedavg" and self.proximal_mu:
            raise ValueError("proximalMu is FedProx's: set strategy: fedprox, or remove proximalMu")
        sampled = sampled_per_round(self.devices, self.fraction_per_round)
        if self.data.samples < self.devices * self.data.classes_per_device:
            raise ValueError(
                f"data.samples ({self.data.samples}) gives some of the {self.devices} devices fewer rows than "
                f"classesPerDevice ({self.data.classes_per_device}): raise data.samples to at least "
                f"{self.devices * self.data.classes_per_device}"
            )
        if self.secure_aggregation:
            try:
                secure_aggregation_parameters(sampled, self.dropout_rate)
            except SecureAggregationError as exc:
                field = "fractionPerRound" if sampled < 3 else "dropoutRate"
                raise ValueError(f"{field}: {exc}") from None
        if self.privacy is not None and self.privacy.delta >= 1 / self.devices:
            raise ValueError(
                f"privacy.delta {self.privacy.delta:g} is not below 1/devices ({1 / self.devices:g}): a delta that "
                f"large allows the data of some device to leak outright; use e.g. {0.1 / self.devices:.0e}"
            )
        return self
