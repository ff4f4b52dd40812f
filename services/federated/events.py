"""What a federated run reports while it runs: one JSON object per line on the runtime's stdout.

The Flower side (services/federated/flower/runtime.py) writes them; the platform side
(services/federated/job.py) reads them to log every round to MLflow and to show progress. Plain
dataclasses, so neither side needs the other's environment to read them.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

__all__ = ["Started", "RoundReport", "Finished", "Event", "to_line", "from_line"]


@dataclass(frozen=True)
class Started:
    devices: int
    sampled: int
    rounds: int
    strategy: str
    accuracy: float  # of the initial global model, on the server's held-out rows
    setup_seconds: float  # data generation and partitioning
    num_shares: int | None = None  # SecAgg+'s neighbourhood (None: secure aggregation off)
    threshold: int | None = None
    kind: str = "started"


@dataclass(frozen=True)
class RoundReport:
    round: int
    sampled: int
    answered: int  # devices whose (masked) update reached the server
    dropped: int
    aggregated: bool  # False: the round produced no new model (e.g. SecAgg+ could not unmask)
    accuracy: float
    loss: float
    seconds: float
    bytes_down: int
    bytes_up: int
    messages: int
    epsilon: float | None = None  # differential privacy spent so far (None: DP off)
    delta: float | None = None
    kind: str = "round"


@dataclass(frozen=True)
class Finished:
    rounds: int
    accuracy: float
    loss: float
    seconds: float  # the rounds, without setup
    model_path: str  # the global model's arrays (.npz: weights, bias)
    data_digest: str
    peak_rss_bytes: int
    epsilon: float | None = None
    delta: float | None = None
    kind: str = "finished"


Event = Started | RoundReport | Finished
_KINDS = {"started": Started, "round": RoundReport, "finished": Finished}


def to_line(event: Event) -> str:
    return json.dumps(asdict(event), sort_keys=True)


def from_line(line: str) -> Event | None:
    """The event a line holds, or None for a line that is not one (a library's stray print)."""
    try:
        raw = json.loads(line)
    except ValueError:
        return None
    if not isinstance(raw, dict) or raw.get("kind") not in _KINDS:
        return None
    return _KINDS[raw["kind"]](**raw)
