"""The device: a Flower ClientApp that trains the global model on the device's own rows.

The training itself is services/federated/model.py; this module is what Flower needs around it:
a `NumPyClient` (the legacy client API, which is what Flower's SecAgg+ workflow speaks) and the
mods that run around every training message, outermost first:

- `secaggplus_mod` (secure aggregation on): answers the SecAgg+ key-setup and unmasking stages
  itself, and when the training stage comes, lets the device train, then quantises and masks the
  result; the plain parameters never leave the device.
- `fixedclipping_mod` (differential privacy on): clips the update (new minus global) to the
  clipping norm before SecAgg+ masks it, so the noise the server adds covers any one device.

Under differential privacy every device reports a weight of 1: Flower's noise is calibrated for a
plain mean of clipped updates, and a device with more rows must not count for more than one clip.
"""

from __future__ import annotations

import numpy as np
from flwr.client import ClientApp, NumPyClient
from flwr.client.mod import fixedclipping_mod, secaggplus_mod
from flwr.common import Context

from services.federated import model
from services.federated.flower.partition import DevicePartitions
from services.federated.spec import RunSpec

__all__ = ["build_client_app", "Device", "device_of", "training_seed"]

PARTITION_KEY = "partition-id"  # what Flower's engines put in each node's config


def training_seed(data_seed: int, server_round: int, device: int) -> int:
    """The seed of one device's shuffling in one round: reproducible, different everywhere."""
    return int(np.random.SeedSequence([data_seed, server_round, device]).generate_state(1)[0])


def device_of(context: Context) -> int:
    return int(context.node_config[PARTITION_KEY])


class Device(NumPyClient):
    def __init__(self, device: int, spec: RunSpec, partitions: DevicePartitions):
        self.device, self.spec, self.partitions = device, spec, partitions

    def fit(self, parameters, config):
        x, y = self.partitions.data(self.device)
        local = self.spec.local
        trained = model.local_train(
            parameters,
            x,
            y,
            epochs=local.epochs,
            batch_size=local.batch_size,
            learning_rate=local.learning_rate,
            proximal_mu=float(config.get("proximal_mu", 0.0)),  # FedProx's strategy sends it; FedAvg does not
            seed=training_seed(self.spec.data.seed, int(config["round"]), self.device),
        )
        weight = 1 if self.spec.privacy else min(len(y), self.spec.weight_cap)
        return trained, weight, {}


def build_client_app(spec: RunSpec, partitions: DevicePartitions) -> ClientApp:
    def client_fn(context: Context):
        return Device(device_of(context), spec, partitions).to_client()

    mods = []
    if spec.secure_aggregation:
        mods.append(secaggplus_mod)
    if spec.privacy is not None:
        mods.append(fixedclipping_mod)
    return ClientApp(client_fn=client_fn, mods=mods)
