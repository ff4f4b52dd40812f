"""The simulated fleet: thousands of devices as Flower ClientApp calls in this one process.

Flower's own simulation runtime (`flwr.simulation.run_simulation`) runs every ClientApp call in a
Ray actor and passes messages through its in-memory SuperLink state. Measured on the 2-core target
(ADR 0023): about 40 ms of overhead per device call, and a link state that, every 0.1 s, scans every
queued message once per registered node; 100 devices a round cost 4 s at 1,000 devices and 12 s at
10,000 with plain FedAvg, 28 s with SecAgg+ (4 message exchanges a round). So this module replaces
only that transport, behind Flower's own `Grid` interface; everything that makes federated learning
what it is stays Flower's: the ServerApp and its workflows (FedAvg, FedProx, SecAgg+), the
ClientApp and its mods, the differential-privacy wrapper, the privacy accountant.

`InProcessGrid` delivers each message the way a SuperLink and a SuperNode would: the message is
turned into the protobuf Flower sends on the wire, given its id there, rebuilt on the device side
from that protobuf, handed to the ClientApp with the device's own persistent `Context` (SecAgg+
keeps its per-round secrets there), and the reply makes the same trip back. Server and devices
share no Python object, only what the wire format carries. Devices run one after another: the
run is deterministic for a seed, and on two cores the ServerApp's own work runs in between.

Memory: a device costs nothing until it is first sampled (its Context is created then), so 10,000
devices cost little more than 1,000.
"""

from __future__ import annotations

import traceback
from collections.abc import Iterable
from uuid import uuid4

from flwr.app import Context, Error, Message, RecordDict
from flwr.clientapp import ClientApp
from flwr.common.constant import SUPERLINK_NODE_ID, ErrorCode
from flwr.common.serde import message_from_proto, message_to_proto
from flwr.proto.message_pb2 import Message as WireMessage  # pylint: disable=no-name-in-module
from flwr.serverapp import ServerApp
from flwr.serverapp.grid import Grid
from flwr.supercore.run import Run
from flwr.supercore.task_identity import TaskIdentity

from services.federated.flower.client_app import PARTITION_KEY

__all__ = ["InProcessGrid", "run_federation", "node_id_of", "device_of_node"]

NUM_PARTITIONS_KEY = "num-partitions"


def node_id_of(device: int) -> int:
    """Devices are numbered from 0; Flower's node ids must not collide with the SuperLink's (0)."""
    return device + 1


def device_of_node(node_id: int) -> int:
    return node_id - 1


class InProcessGrid(Grid):
    def __init__(self, client_app: ClientApp, devices: int, run: Run):
        self._app = client_app
        self._devices = devices
        self._run = run
        self._contexts: dict[int, Context] = {}
        self._replies: dict[str, WireMessage] = {}

    def set_run(self, run: Run) -> None:
        self._run = run

    @property
    def run(self) -> Run:
        return self._run

    def create_message(self, content: RecordDict, message_type, dst_node_id, group_id, ttl=None) -> Message:
        return Message(content, dst_node_id, message_type, ttl=ttl, group_id=group_id)

    def get_node_ids(self) -> Iterable[int]:
        return [node_id_of(device) for device in range(self._devices)]

    def push_messages(self, messages: Iterable[Message]) -> Iterable[str]:
        ids = []
        for message in messages:
            wire = message_to_proto(message)
            wire.metadata.message_id = uuid4().hex
            self._replies[wire.metadata.message_id] = self._deliver(wire)
            ids.append(wire.metadata.message_id)
        return ids

    def pull_messages(self, message_ids: Iterable[str]) -> Iterable[Message]:
        return [message_from_proto(self._replies.pop(i)) for i in message_ids if i in self._replies]

    def send_and_receive(self, messages: Iterable[Message], *, timeout: float | None = None) -> Iterable[Message]:
        return self.pull_messages(self.push_messages(messages))

    def _deliver(self, wire: WireMessage) -> WireMessage:
        """One device receives one message and answers it (or reports the error it raised)."""
        message = message_from_proto(wire)
        context = self._context(message.metadata.dst_node_id)
        try:
            reply = self._app(message, context)
        except Exception as exc:  # a device's failure is its reply, as on a SuperNode
            reason = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=3)}"
            reply = Message(Error(code=ErrorCode.CLIENT_APP_RAISED_EXCEPTION, reason=reason), reply_to=message)
        out = message_to_proto(reply)
        out.metadata.message_id = uuid4().hex
        return out

    def _context(self, node_id: int) -> Context:
        if node_id not in self._contexts:
            self._contexts[node_id] = Context(
                run_id=self._run.run_id,
                node_id=node_id,
                node_config={PARTITION_KEY: device_of_node(node_id), NUM_PARTITIONS_KEY: self._devices},
                state=RecordDict(),
                run_config={},
            )
        return self._contexts[node_id]


def run_federation(server_app: ServerApp, client_app: ClientApp, devices: int, run_id: int) -> None:
    """Run the ServerApp to completion against `devices` simulated devices.

    Messages a ServerApp creates take their run and sender from the process's task identity; Flower's
    simulation runtime sets it the same way before it starts a ServerApp.
    """
    run = Run.create_empty(run_id=run_id)
    TaskIdentity.task_id = 1
    TaskIdentity.run_id = run_id
    TaskIdentity.node_id = SUPERLINK_NODE_ID
    grid = InProcessGrid(client_app, devices, run)
    context = Context(run_id=run_id, node_id=SUPERLINK_NODE_ID, node_config={}, state=RecordDict(), run_config={})
    server_app(grid, context)
