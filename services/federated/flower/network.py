"""The network between the server and the devices, as the ServerApp sees it: dropouts, bytes, and
a record of everything the server receives.

`Network` wraps whichever Flower `Grid` the ServerApp is given and changes three things about
`send_and_receive`, which is how Flower's workflows (the default one and SecAgg+) talk to devices:

- Dropouts. At the start of each round (a new `group_id`, which Flower sets to the round number),
  exactly floor(rate x sampled) of the devices the round addresses are picked, reproducibly, to
  vanish mid-round: they get the round's early messages (SecAgg+'s key setup and key sharing), but
  from the message that carries the model on, they never answer. That is the hardest moment to lose
  a device under SecAgg+: its masks are already woven into its neighbours' vectors and must be
  cancelled from the shares the survivors hold. Without secure aggregation it is simply a device
  that trained and never reported back.
- Bytes. Every message is measured as the protobuf Flower puts on the wire, both ways.
- The record. With a `Tap`, a copy of every message the server receives is kept as it came off the
  wire (and of every message it sends): that is what the secure-aggregation test inspects
  (tests/federated/runtime/). A copy, because Flower's workflows consume the replies they process.

A device that has dropped is silent, not an error: a real device that loses its connection sends
nothing, and Flower's workflows treat a missing reply exactly as a dropout. (An error reply would
also make Flower's differential-privacy wrapper discard the round.)
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, field

from flwr.app import Message
from flwr.common.serde import message_from_proto, message_to_proto
from flwr.serverapp.grid import Grid

from services.federated.spec import dropped_per_round

__all__ = ["Network", "RoundTraffic", "Tap"]


@dataclass
class Tap:
    """Everything that crossed the network, in order: what the server sent and what it received."""

    sent: list[Message] = field(default_factory=list)
    received: list[Message] = field(default_factory=list)


@dataclass
class RoundTraffic:
    """What one round put on the wire."""

    sampled: int = 0  # devices the round addressed
    dropped: int = 0  # of which vanished mid-round
    answered: int = 0  # devices that returned a trained model (masked, under SecAgg+)
    messages: int = 0
    bytes_down: int = 0  # server to devices
    bytes_up: int = 0  # devices to server
    offline: set[int] = field(default_factory=set)


class Network(Grid):
    def __init__(self, grid: Grid, dropout_rate: float, seed: int, tap: Tap | None = None):
        self._grid = grid
        self._dropout_rate = dropout_rate
        self._random = random.Random(seed)
        self._tap = tap
        self._doomed: set[int] = set()
        self.rounds: dict[str, RoundTraffic] = {}

    # Flower's Grid interface, passed through.
    def set_run(self, run) -> None:
        self._grid.set_run(run)

    @property
    def run(self):
        return self._grid.run

    def create_message(self, content, message_type, dst_node_id, group_id, ttl=None) -> Message:
        return self._grid.create_message(content, message_type, dst_node_id, group_id, ttl)

    def get_node_ids(self) -> Iterable[int]:
        return self._grid.get_node_ids()

    def push_messages(self, messages: Iterable[Message]) -> Iterable[str]:
        return self._grid.push_messages(messages)

    def pull_messages(self, message_ids: Iterable[str]) -> Iterable[Message]:
        return self._grid.pull_messages(message_ids)

    def send_and_receive(self, messages: Iterable[Message], *, timeout: float | None = None) -> Iterable[Message]:
        messages = list(messages)
        if not messages:
            return []
        traffic = self._round(messages)
        delivered: list[Message] = []
        for message in messages:
            wire = message_to_proto(message)
            traffic.messages += 1
            traffic.bytes_down += wire.ByteSize()
            device = message.metadata.dst_node_id
            if device in traffic.offline:
                continue
            if device in self._doomed and message.content.array_records:
                traffic.offline.add(device)  # it received the model, and is never heard from again
                continue
            delivered.append(message)
            if self._tap is not None:
                self._tap.sent.append(message_from_proto(wire))
        given_model = {m.metadata.dst_node_id for m in delivered if m.content.array_records}
        replies = list(self._grid.send_and_receive(delivered, timeout=timeout))
        for reply in replies:
            wire = message_to_proto(reply)
            traffic.messages += 1
            traffic.bytes_up += wire.ByteSize()
            if reply.metadata.src_node_id in given_model and not reply.has_error():
                traffic.answered += 1
            if self._tap is not None:
                self._tap.received.append(message_from_proto(wire))
        return replies

    def _round(self, messages: list[Message]) -> RoundTraffic:
        """The traffic record of the messages' round; the first batch of a round decides who drops."""
        group = messages[0].metadata.group_id
        if group not in self.rounds:
            devices = sorted({m.metadata.dst_node_id for m in messages})
            doomed = self._random.sample(devices, dropped_per_round(len(devices), self._dropout_rate))
            self._doomed = set(doomed)
            self.rounds[group] = RoundTraffic(sampled=len(devices), dropped=len(doomed))
        return self.rounds[group]
