"""One federated run, start to finish, in the federated environment.

    python -m services.federated.flower.runtime --spec spec.json --out DIR

Generates the population's rows, partitions them over the devices, runs Flower's ServerApp against
the simulated fleet (engine.py), writes the global model to DIR/model.npz and prints one JSON event
per line on stdout (services/federated/events.py): `started`, one `round` per round, `finished`.
Flower's own log goes to stderr: errors only, unless --verbose (its warnings repeat, every round, things
this platform accounts for: a device resampled after it dropped restarts SecAgg+'s setup; fewer
updates than sampled devices under DP, which the privacy ledger corrects for).

`run()` is the same as a function, for the benchmark and the tests, which also pass a `tap` to see
every message the server receives.
"""

from __future__ import annotations

import argparse
import logging
import random
import resource
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from flwr.server.workflow.constant import MAIN_PARAMS_RECORD

from services.federated import data
from services.federated.events import Event, Finished, to_line
from services.federated.flower.client_app import build_client_app
from services.federated.flower.engine import run_federation
from services.federated.flower.network import Tap
from services.federated.flower.partition import DevicePartitions
from services.federated.flower.server_app import build_server_app
from services.federated.model import Params, evaluate
from services.federated.spec import RunSpec

__all__ = ["run", "RunResult", "main"]


@dataclass
class RunResult:
    params: Params
    accuracy: float
    loss: float
    seconds: float  # the rounds
    setup_seconds: float  # generating and partitioning the data
    epsilon: float | None
    delta: float | None
    pool: data.Pool


def run(spec: RunSpec, emit: Callable[[Event], None], tap: Tap | None = None) -> RunResult:
    # Flower shuffles SecAgg+'s neighbours with `random` and draws its DP noise from numpy's global
    # generator: seeded, a run is reproducible (devices are sampled by a generator of their own)
    random.seed(spec.data.seed)
    np.random.seed(spec.data.seed)
    started = time.perf_counter()
    pool = data.generate(spec.data)
    partitions = DevicePartitions(pool, spec.devices, spec.data)
    partitions.rows(0)  # the partitioner assigns every device's rows on first use: count it as setup
    setup = time.perf_counter() - started
    outcome: dict = {}

    def finish(context, observer) -> None:
        outcome["params"] = context.state.array_records[MAIN_PARAMS_RECORD].to_numpy_ndarrays()
        outcome["privacy"] = observer.privacy_spent()

    server_app = build_server_app(
        spec, pool, max_weight=spec.weight_cap, emit=emit, tap=tap, on_finish=finish, setup_seconds=setup
    )
    rounds_started = time.perf_counter()
    run_federation(server_app, build_client_app(spec, partitions), spec.devices, run_id=spec.data.seed)
    seconds = time.perf_counter() - rounds_started
    loss, accuracy = evaluate(outcome["params"], pool.test_x, pool.test_y)
    epsilon, delta = outcome["privacy"]
    return RunResult(outcome["params"], accuracy, loss, seconds, setup, epsilon, delta, pool)


def peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.federated.flower.runtime", description=__doc__)
    parser.add_argument("--spec", type=Path, required=True, help="the run's RunSpec as JSON ('-': stdin)")
    parser.add_argument("--out", type=Path, required=True, help="folder for model.npz")
    parser.add_argument("--verbose", action="store_true", help="Flower's INFO log on stderr")
    args = parser.parse_args(argv)
    from flwr.common.logger import update_console_handler

    update_console_handler(level=logging.INFO if args.verbose else logging.ERROR, colored=False)
    text = sys.stdin.read() if str(args.spec) == "-" else args.spec.read_text()
    spec = RunSpec.from_json(text)

    def emit(event: Event) -> None:
        print(to_line(event), flush=True)

    result = run(spec, emit)
    args.out.mkdir(parents=True, exist_ok=True)
    model_path = args.out / "model.npz"
    np.savez(model_path, weights=result.params[0], bias=result.params[1])
    emit(
        Finished(
            rounds=spec.rounds,
            accuracy=result.accuracy,
            loss=result.loss,
            seconds=result.seconds,
            model_path=str(model_path),
            data_digest=result.pool.digest(),
            peak_rss_bytes=peak_rss_bytes(),
            epsilon=result.epsilon,
            delta=result.delta,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
