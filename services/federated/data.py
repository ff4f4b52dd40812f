"""The data the simulated devices hold: generated, never downloaded.

Ten (by default) classes of Gaussian clusters in a handful of dimensions: class centres are drawn
once from the seed, and every row is its class centre plus unit noise. A linear model is close to
the best possible classifier on such data, so the federated model and the centrally trained one
can be compared on the quality of training alone, not on model capacity. The generator is numpy
only, so the platform side (which logs the model's signature and reference distribution) and the
Flower side (which partitions the rows over the devices) rebuild the very same rows from the spec.

The split:
- `train`: the rows the devices hold, pooled. Flower Datasets' partitioner spreads them over the
  devices with label skew (services/federated/flower/partition.py); centralised training, the
  benchmark's baseline, fits the same rows in one place.
- `test`: rows the server keeps for itself (an evaluation set the platform owns). Every round's
  accuracy is measured on it, and the registered model's signature, input example and reference
  distribution come from it: the server never sees a device's rows.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from services.federated.spec import DataSpec

__all__ = ["Pool", "generate", "feature_names", "TEST_SHARE"]

TEST_SHARE = 0.2  # of all generated rows, kept by the server


@dataclass(frozen=True)
class Pool:
    train_x: np.ndarray  # float32 [rows, features]
    train_y: np.ndarray  # int64 [rows]
    test_x: np.ndarray
    test_y: np.ndarray

    def digest(self) -> str:
        """sha256 of the training rows and labels: the version's `training_data_digest`."""
        h = hashlib.sha256()
        for array in (self.train_x, self.train_y):
            h.update(np.ascontiguousarray(array).tobytes())
        return f"sha256:{h.hexdigest()}"


def feature_names(spec: DataSpec) -> list[str]:
    return [f"x{i:02d}" for i in range(spec.features)]


def generate(spec: DataSpec) -> Pool:
    rng = np.random.default_rng(spec.seed)
    centres = rng.normal(0.0, spec.separation, size=(spec.classes, spec.features))
    total = round(spec.samples / (1 - TEST_SHARE))
    labels = rng.integers(0, spec.classes, size=total)
    rows = (centres[labels] + rng.standard_normal((total, spec.features))).astype(np.float32)
    cut = spec.samples
    return Pool(rows[:cut], labels[:cut], rows[cut:], labels[cut:])
