"""The devices' rows: Flower Datasets' PathologicalPartitioner, on rows generated here."""

from __future__ import annotations

import numpy as np
import pytest

from services.federated import data
from services.federated.flower.partition import DevicePartitions
from tests.federated.runtime.conftest import small_spec


@pytest.fixture(scope="module")
def partitions():
    spec = small_spec(devices=50, data={"samples": 5_000, "classes_per_device": 2})
    pool = data.generate(spec.data)
    return spec, pool, DevicePartitions(pool, spec.devices, spec.data)


def test_the_fast_path_reads_exactly_what_the_partitioner_returns(partitions):
    """rows() reads the partitioner's assignment directly; load_partition() is its public API."""
    spec, _, devices = partitions
    for device in (0, 1, 17, spec.devices - 1):
        np.testing.assert_array_equal(devices.rows(device), devices.load_partition_rows(device))


def test_every_device_holds_exactly_its_two_classes_and_no_row_is_shared(partitions):
    spec, pool, devices = partitions
    seen = np.concatenate([devices.rows(d) for d in range(spec.devices)])
    assert len(seen) == len(np.unique(seen))
    for device in range(spec.devices):
        _, labels = devices.data(device)
        assert len(np.unique(labels)) == 2
