"""Small federated runs for the runtime's tests: a few devices, a few thousand rows, seconds each."""

from __future__ import annotations

import logging

from flwr.common.logger import update_console_handler

from blueprints.schema import FederatedTraining
from services.federated.spec import RunSpec

update_console_handler(level=logging.ERROR, colored=False)


def small_spec(**overrides) -> RunSpec:
    """10 devices, all sampled each round, 3 of them dropping mid-round, 2,000 rows."""
    fields = {
        "devices": 10,
        "fraction_per_round": 1.0,
        "rounds": 2,
        "dropout_rate": 0.3,
        "secure_aggregation": True,
        "data": {"samples": 2_000},
        **overrides,
    }
    return RunSpec.from_blueprint("tenant", "model", FederatedTraining.model_validate(fields))
