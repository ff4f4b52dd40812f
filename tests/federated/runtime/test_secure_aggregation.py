"""SecAgg+ holds: the server only ever receives masked vectors, never a device's update, and still
computes exactly the mean of the updates of the devices that did not drop.

Every message the server received is kept by the network's tap. Each device's real update is
recomputed here, independently, from what the device was sent (the global model and its round) and
its own rows: local training is deterministic (services/federated/model.py). The same run without
secure aggregation is the control: there, the tap does find every surviving device's update, so
this test can tell the difference.
"""

from __future__ import annotations

import numpy as np
import pytest
from flwr.common import bytes_to_ndarray, parameters_to_ndarrays
from flwr.common.secure_aggregation.secaggplus_constants import RECORD_KEY_CONFIGS, Key
from flwr.common.serde import message_to_proto
from flwr.compat.common.recorddict_compat import recorddict_to_fitins

from services.federated import data, model
from services.federated.flower.client_app import training_seed
from services.federated.flower.engine import device_of_node
from services.federated.flower.network import Tap
from services.federated.flower.partition import DevicePartitions
from services.federated.flower.runtime import run
from tests.federated.runtime.conftest import small_spec

MOD_RANGE = 2**32  # Flower's default modulus for SecAgg+'s masks


def _run(spec):
    tap, events = Tap(), []
    result = run(spec, events.append, tap=tap)
    return tap, events, result


def _sent_models(tap: Tap, server_round: int) -> dict[int, tuple[list[np.ndarray], dict]]:
    """node id -> (global model, config) of the training instructions the server sent in a round."""
    sent = {}
    for message in tap.sent:
        if message.metadata.group_id == str(server_round) and message.content.array_records:
            fit = recorddict_to_fitins(message.content, keep_input=True)
            sent[message.metadata.dst_node_id] = (parameters_to_ndarrays(fit.parameters), fit.config)
    return sent


def _true_updates(spec, tap: Tap, server_round: int) -> dict[int, list[np.ndarray]]:
    """What each device that was sent the model computed, recomputed from its own rows."""
    partitions = DevicePartitions(data.generate(spec.data), spec.devices, spec.data)
    updates = {}
    for node, (global_model, config) in _sent_models(tap, server_round).items():
        device = device_of_node(node)
        x, y = partitions.data(device)
        updates[node] = model.local_train(
            global_model,
            x,
            y,
            epochs=spec.local.epochs,
            batch_size=spec.local.batch_size,
            learning_rate=spec.local.learning_rate,
            proximal_mu=float(config.get("proximal_mu", 0.0)),
            seed=training_seed(spec.data.seed, server_round, device),
        )
    return updates


def _arrays_in(message) -> list[np.ndarray]:
    """Every array a received message carries: its ArrayRecords, and byte strings in its ConfigRecords
    that decode as arrays (SecAgg+'s masked vectors travel that way)."""
    found = [a.numpy() for record in message.content.array_records.values() for a in record.values()]
    for record in message.content.config_records.values():
        for value in record.values():
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, bytes):
                    try:
                        found.append(bytes_to_ndarray(item))
                    except Exception:  # keys, shares, ciphertexts: not arrays
                        continue
    return found


def _masked_vectors(tap: Tap, server_round: int) -> dict[int, list[np.ndarray]]:
    masked = {}
    for reply in tap.received:
        config = reply.content.config_records.get(RECORD_KEY_CONFIGS) if reply.has_content() else None
        if reply.metadata.group_id == str(server_round) and config is not None and Key.MASKED_PARAMETERS in config:
            masked[reply.metadata.src_node_id] = [bytes_to_ndarray(b) for b in config[Key.MASKED_PARAMETERS]]
    return masked


def _contains(arrays: list[np.ndarray], update: list[np.ndarray]) -> bool:
    return any(a.shape == u.shape and np.allclose(a, u, atol=1e-6) for a in arrays for u in update)


@pytest.fixture(scope="module")
def secure_run():
    spec = small_spec(rounds=2, dropout_rate=0.3)
    return spec, *_run(spec)


def test_no_message_the_server_receives_carries_a_device_update(secure_run):
    spec, tap, _, _ = secure_run
    updates = _true_updates(spec, tap, 1) | _true_updates(spec, tap, 2)
    assert len(updates) == spec.devices  # every device trained in round 1 or round 2
    for reply in tap.received:
        assert all(len(record) == 0 for record in reply.content.array_records.values())  # no model arrays at all
        arrays = _arrays_in(reply)
        raw = message_to_proto(reply).SerializeToString()
        for update in updates.values():
            assert not _contains(arrays, update)
            assert update[0].astype(np.float32).tobytes()[:32] not in raw  # not even a stretch of its bytes


def test_what_the_server_receives_instead_is_masked_noise(secure_run):
    """A device's quantised update lies in [0, 2^22); masked, its entries spread over [0, 2^32)."""
    spec, tap, _, _ = secure_run
    masked = _masked_vectors(tap, 1)
    assert len(masked) == spec.sampled - 3  # the three that dropped sent nothing
    for vectors in masked.values():
        values = np.concatenate([v.ravel() for v in vectors]).astype(np.float64)
        assert 0.3 < np.mean(values > MOD_RANGE / 2) < 0.7
        assert values.max() > 2**31


def test_the_server_still_computes_the_mean_of_the_survivors_updates(secure_run):
    spec, tap, _, _ = secure_run
    survivors = set(_masked_vectors(tap, 1))
    updates = _true_updates(spec, tap, 1)
    partitions = DevicePartitions(data.generate(spec.data), spec.devices, spec.data)
    weights = {n: min(len(partitions.rows(device_of_node(n))), spec.weight_cap) for n in survivors}
    expected = [
        sum(weights[n] * updates[n][i].astype(np.float64) for n in survivors) / sum(weights.values()) for i in range(2)
    ]
    global_after_round_1 = next(iter(_sent_models(tap, 2).values()))[0]
    for got, want in zip(global_after_round_1, expected, strict=True):
        np.testing.assert_allclose(got, want, atol=1e-4)  # SecAgg+'s quantisation, nothing else


def test_without_secure_aggregation_the_same_tap_sees_every_update():
    """The control: proof that the checks above can fail."""
    spec = small_spec(rounds=1, dropout_rate=0.3, secure_aggregation=False)
    tap, _, _ = _run(spec)
    updates = _true_updates(spec, tap, 1)
    leaked = {n for n, update in updates.items() if any(_contains(_arrays_in(r), update) for r in tap.received)}
    assert len(leaked) == spec.sampled - 3  # every device that reported back, in the clear
