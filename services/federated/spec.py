"""One federated training run, as plain data: what the blueprint declares, resolved for a run.

`RunSpec` is the contract between the platform side (services/federated/job.py, in the platform's
environment) and the Flower side (services/federated/flower/, in the federated environment: ADR
0023). It travels as JSON: on the command line in standalone, in a ConfigMap in the cluster, so both
run exactly the same job.

The one decision that is not a copy of the blueprint, how many neighbours each device shares its
keys with under SecAgg+, is blueprints/secure_aggregation.py's, shared with the blueprint validator.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any

from blueprints.schema.federated import FederatedTraining
from blueprints.secure_aggregation import (
    SecureAggregation,
    SecureAggregationError,
    dropped_per_round,
    sampled_per_round,
    secure_aggregation_parameters,
)

__all__ = [
    "DataSpec",
    "LocalTraining",
    "Privacy",
    "RunSpec",
    "SecureAggregation",
    "SecureAggregationError",
    "dropped_per_round",
    "sampled_per_round",
    "secure_aggregation_parameters",
]


@dataclass(frozen=True)
class DataSpec:
    """The generated population: `samples` labelled rows of `features` numbers in `classes` classes,
    spread over the devices with label skew (each device holds `classes_per_device` classes)."""

    samples: int
    features: int
    classes: int
    classes_per_device: int
    separation: float  # spread of the class centres: 0.9 puts a linear model near 94% accurate
    seed: int


@dataclass(frozen=True)
class LocalTraining:
    """What a device does with the global model: a few epochs of mini-batch SGD on its own rows."""

    epochs: int
    batch_size: int
    learning_rate: float


@dataclass(frozen=True)
class Privacy:
    """Central differential privacy: devices clip their update to `clipping_norm`, the server adds
    Gaussian noise of `noise_multiplier` x clipping_norm / sampled devices to the mean."""

    noise_multiplier: float
    clipping_norm: float
    delta: float


@dataclass(frozen=True)
class RunSpec:
    """A run, resolved: build it with `from_blueprint` (the schema holds every default)."""

    tenant: str
    model: str
    devices: int
    fraction_per_round: float
    rounds: int
    strategy: str  # "fedavg" or "fedprox"
    proximal_mu: float
    dropout_rate: float
    secure_aggregation: bool
    privacy: Privacy | None
    local: LocalTraining
    data: DataSpec

    @classmethod
    def from_blueprint(cls, tenant: str, model: str, spec: FederatedTraining) -> RunSpec:
        data, local = spec.data, spec.local_training
        return cls(
            tenant=tenant,
            model=model,
            devices=spec.devices,
            fraction_per_round=spec.fraction_per_round,
            rounds=spec.rounds,
            strategy=spec.strategy,
            proximal_mu=spec.proximal_mu,
            dropout_rate=spec.dropout_rate,
            secure_aggregation=spec.secure_aggregation,
            privacy=(
                Privacy(spec.privacy.noise_multiplier, spec.privacy.clipping_norm, spec.privacy.delta)
                if spec.privacy
                else None
            ),
            local=LocalTraining(local.epochs, local.batch_size, local.learning_rate),
            data=DataSpec(
                data.samples, data.features, data.classes, data.classes_per_device, data.separation, data.seed
            ),
        )

    @property
    def sampled(self) -> int:
        return sampled_per_round(self.devices, self.fraction_per_round)

    @property
    def weight_cap(self) -> int:
        """The most a device's update may weigh in the mean: its row count, capped at twice the
        average device's. SecAgg+ must know a bound to quantise weighted updates without overflow,
        and a tight one keeps the quantisation fine."""
        return 2 * -(-self.data.samples // self.devices)

    def secagg(self) -> SecureAggregation | None:
        if not self.secure_aggregation:
            return None
        return secure_aggregation_parameters(self.sampled, self.dropout_rate)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> RunSpec:
        raw: dict[str, Any] = json.loads(text)
        privacy = raw.pop("privacy", None)
        return cls(
            **{k: v for k, v in raw.items() if k not in ("local", "data")},
            privacy=Privacy(**privacy) if privacy else None,
            local=LocalTraining(**raw["local"]),
            data=DataSpec(**raw["data"]),
        )

    def digest(self) -> str:
        """Identifies the run's recipe (the code version is tagged separately)."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()[:16]
