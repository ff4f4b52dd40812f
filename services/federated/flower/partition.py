"""Which rows each simulated device holds: Flower Datasets' PathologicalPartitioner, label skew.

Flower Datasets usually downloads a data set from Hugging Face and partitions it; here nothing is
downloaded. The generated rows stay in numpy (services/federated/data.py) and the partitioner gets
an in-memory Hugging Face `Dataset` of two columns, each row's label and its position, which is all
a label-skew partitioner reads. A device's partition is then the positions it was given.

PathologicalPartitioner gives every device `classes_per_device` classes (McMahan et al.'s
"pathological non-IID" split: with 2 of 10 classes, no device has seen most of the problem), which
is the skew that makes FedAvg's devices drift and FedProx's proximal term worth its keep.

One shortcut, measured: `load_partition` returns each partition through `Dataset.select`, which
fingerprints the selected indices with dill (about 60 ms for a 300-row partition), so sampling 100
new devices cost 6 s a round, more than training them. The partitioner computes every device's
indices once, on its first `load_partition`, and keeps them; `rows()` reads that assignment
(`_partition_id_to_indices`, an attribute of flwr-datasets 0.6, pinned in constraints-federated.txt).
tests/federated/runtime/ checks it against `load_partition` for a sample of devices, so a release
that changes it fails there rather than here.
"""

from __future__ import annotations

import os

import numpy as np

from services.federated.data import Pool
from services.federated.spec import DataSpec

__all__ = ["DevicePartitions"]

os.environ.setdefault("HF_DATASETS_OFFLINE", "1")  # belt and braces: nothing here may reach the network


class DevicePartitions:
    """The rows of device `i` in [0, devices), by label skew, computed once per run."""

    def __init__(self, pool: Pool, devices: int, spec: DataSpec):
        import datasets
        from flwr_datasets.partitioner import PathologicalPartitioner

        datasets.disable_progress_bars()
        self._pool = pool
        self._partitioner = PathologicalPartitioner(
            num_partitions=devices,
            partition_by="label",
            num_classes_per_partition=spec.classes_per_device,
            class_assignment_mode="first-deterministic",
            shuffle=False,
            seed=spec.seed,
        )
        # numpy format: the partitioner reads the whole label column, which the default (Python
        # objects, row by row) makes 15 s of a 300,000-row population
        self._partitioner.dataset = datasets.Dataset.from_dict(
            {"label": pool.train_y, "row": np.arange(len(pool.train_y))}
        ).with_format("numpy")
        self._rows: dict[int, np.ndarray] = {}

    def rows(self, device: int) -> np.ndarray:
        """The positions of the device's rows in the pool's training rows."""
        if device not in self._rows:
            if not self._rows:
                self._partitioner.load_partition(device)  # the partitioner assigns every device now
            assignment = self._partitioner._partition_id_to_indices  # see the module docstring
            self._rows[device] = np.asarray(assignment[device], dtype=np.int64)
        return self._rows[device]

    def load_partition_rows(self, device: int) -> np.ndarray:
        """The same positions through the partitioner's public API (slow; for the tests)."""
        return np.asarray(self._partitioner.load_partition(device)["row"], dtype=np.int64)

    def data(self, device: int) -> tuple[np.ndarray, np.ndarray]:
        rows = self.rows(device)
        return self._pool.train_x[rows], self._pool.train_y[rows]
