"""Federated learning benchmark: 1,000 and 10,000 simulated devices against centralised training.

Runs in the federated environment (`make bench` does: .venv-federated/bin/python). Every run is the
runtime the platform starts (services/federated/flower/runtime.py) as a subprocess of its own, so
each run's peak memory is its own; all runs share the blueprint's generated population (300,000
rows, 10 classes, 2 classes per device) and its local training (2 epochs, batch 32, lr 0.1).

1. Centralised: the same model (multinomial logistic regression, scikit-learn's) fitted on the
   pooled training rows; accuracy on the server's held-out rows.
2. Convergence: FedAvg and FedProx (mu 0.01) at 1,000 and 10,000 devices, 100 sampled a round, 10%
   dropping mid-round, 30 rounds, plain aggregation: accuracy against the centralised model, the
   round at which it comes within 2 points, wall time, peak memory, bytes per round.
3. FedAvg against FedProx (mu 1) where devices drift: 1,000 devices of one class each, 10 sampled a
   round, 10 local epochs at learning rate 0.5, 20 rounds: the last rounds' accuracy and how far it
   falls from one round to the next.
4. SecAgg+ against plain aggregation at 1,000 devices, 100 a round, with 0%, 10% and 30% of them
   dropping mid-round: seconds per round, bytes per round, and the distance between the two global
   models (nothing lost: the same survivors give the same mean, to SecAgg+'s quantisation).

Targets (ADR 0023): 10,000 devices converge within 15 minutes; within 2 points of centralised;
peak memory at 10,000 at most 1.2x that at 1,000; SecAgg+ at most 3x plain at 30% dropout.

    .venv-federated/bin/python benchmarks/federated.py [--rounds 30] [--secagg-rounds 2] [--quick]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from blueprints.schema import FederatedTraining  # noqa: E402
from services.federated import data  # noqa: E402
from services.federated.events import Finished, RoundReport, Started, from_line  # noqa: E402
from services.federated.spec import RunSpec  # noqa: E402

POPULATION = {"samples": 300_000, "classes_per_device": 2}


@dataclass
class Measured:
    label: str
    spec: RunSpec
    started: Started
    rounds: list[RoundReport]
    finished: Finished
    wall: float  # the whole subprocess, interpreter start to exit
    params: list[np.ndarray]

    def rounds_to(self, accuracy: float) -> int | None:
        return next((r.round for r in self.rounds if r.accuracy >= accuracy), None)

    def seconds_to(self, round_number: int) -> float:
        return self.started.setup_seconds + sum(r.seconds for r in self.rounds if r.round <= round_number)

    def round_seconds(self) -> float:
        return float(np.mean([r.seconds for r in self.rounds]))

    def bytes_per_round(self) -> float:
        return float(np.mean([r.bytes_down + r.bytes_up for r in self.rounds]))

    def last_rounds(self, count: int = 5) -> float:
        return float(np.mean([r.accuracy for r in self.rounds[-count:]]))

    def worst_fall(self) -> float:
        """The largest drop of accuracy from one round to the next: how much the global model swings."""
        accuracies = [r.accuracy for r in self.rounds]
        return max((a - b for a, b in zip(accuracies, accuracies[1:], strict=False)), default=0.0)


def spec(
    devices: int,
    rounds: int,
    *,
    strategy: str = "fedprox",
    mu: float = 0.01,
    dropout: float = 0.1,
    secure: bool = False,
    per_round: int = 100,
    local: dict | None = None,
    classes_per_device: int = 2,
) -> RunSpec:
    training = FederatedTraining(
        devices=devices,
        fraction_per_round=per_round / devices,
        rounds=rounds,
        strategy=strategy,
        proximal_mu=mu if strategy == "fedprox" else 0.0,
        dropout_rate=dropout,
        secure_aggregation=secure,
        local_training=local or {},
        data={**POPULATION, "classes_per_device": classes_per_device},
    )
    return RunSpec.from_blueprint("bench", "activity", training)


DRIFT = {"per_round": 10, "classes_per_device": 1, "local": {"epochs": 10, "learning_rate": 0.5}, "dropout": 0.0}


def measure(label: str, run_spec: RunSpec) -> Measured:
    print(f"  running {label} ...", flush=True)
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-I", "-m", "services.federated.flower.runtime", "--spec", "-", "--out", out],
            input=run_spec.to_json(),
            capture_output=True,
            text=True,
            check=False,
        )
        wall = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(f"{label} failed:\n{done.stderr[-3000:]}")
        events = [e for e in (from_line(line) for line in done.stdout.splitlines()) if e is not None]
        finished = next(e for e in events if isinstance(e, Finished))
        arrays = np.load(finished.model_path)
        params = [arrays["weights"], arrays["bias"]]
    rounds = [e for e in events if isinstance(e, RoundReport)]
    return Measured(label, run_spec, events[0], rounds, finished, wall, params)


def centralised() -> tuple[float, float]:
    from sklearn.linear_model import LogisticRegression

    pool = data.generate(spec(1000, 1).data)
    started = time.perf_counter()
    model = LogisticRegression(max_iter=1000).fit(pool.train_x, pool.train_y)
    return float(model.score(pool.test_x, pool.test_y)), time.perf_counter() - started


def print_convergence(runs: list[Measured], central: float) -> None:
    print(f"\nCentralised on the pooled 300,000 rows: accuracy {central:.4f}\n")
    print("| run | final accuracy | vs central | round within 2 points | time to it | wall | peak RSS | bytes/round |")
    print("|---|---|---|---|---|---|---|---|")
    for m in runs:
        reach = m.rounds_to(central - 0.02)
        to = f"{m.seconds_to(reach):.0f} s" if reach else "-"
        print(
            f"| {m.label} | {m.finished.accuracy:.4f} | {100 * (m.finished.accuracy - central):+.2f} pts | "
            f"{reach or 'not reached'} | {to} | {m.wall:.0f} s | {m.finished.peak_rss_bytes / 2**20:.0f} MiB | "
            f"{m.bytes_per_round() / 1024:.0f} KiB |"
        )
    print("\naccuracy by round (5, 10, 20, 30):")
    for m in runs:
        marks = [f"{r.accuracy:.4f}" for r in m.rounds if r.round in (5, 10, 20, 30)]
        print(f"  {m.label}: {', '.join(marks)}")


def print_drift(runs: list[Measured]) -> None:
    print("\nWhere devices drift (1 class each, 10 sampled a round, 10 local epochs, lr 0.5, 20 rounds):\n")
    print("| run | final accuracy | mean of the last 5 rounds | worst fall between rounds |")
    print("|---|---|---|---|")
    for m in runs:
        print(f"| {m.label} | {m.finished.accuracy:.4f} | {m.last_rounds():.4f} | {m.worst_fall():.4f} |")


def print_secagg(pairs: list[tuple[float, Measured, Measured]]) -> None:
    print(
        "\n| dropout | shares / threshold | plain s/round | SecAgg+ s/round | ratio | plain KiB/round | "
        "SecAgg+ KiB/round | max difference of the models | run wall, plain / SecAgg+ |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for dropout, plain, secure in pairs:
        diff = max(float(np.abs(a - b).max()) for a, b in zip(plain.params, secure.params, strict=True))
        shares = f"{secure.started.num_shares} / {secure.started.threshold}"
        print(
            f"| {dropout:.0%} | {shares} | {plain.round_seconds():.2f} | "
            f"{secure.round_seconds():.2f} | {secure.round_seconds() / plain.round_seconds():.1f}x | "
            f"{plain.bytes_per_round() / 1024:.0f} | {secure.bytes_per_round() / 1024:.0f} | {diff:.1e} | "
            f"{plain.wall:.0f} s / {secure.wall:.0f} s |"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=30, help="rounds of the convergence runs [30]")
    parser.add_argument("--secagg-rounds", type=int, default=2, help="rounds of each SecAgg+ comparison [2]")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 3 rounds, 1 SecAgg+ round, 0% and 10%")
    args = parser.parse_args(argv)
    rounds, drift_rounds, secagg_rounds, dropouts = args.rounds, 20, args.secagg_rounds, (0.0, 0.1, 0.3)
    if args.quick:
        rounds, drift_rounds, secagg_rounds, dropouts = 3, 3, 1, (0.0, 0.1)
    print("Federated learning benchmark (2 cores shared; each run a subprocess of its own)", flush=True)
    central, central_seconds = centralised()
    print(f"  centralised fit: {central_seconds:.1f} s", flush=True)
    runs = [
        measure(f"{strategy}, {devices:,} devices", spec(devices, rounds, strategy=strategy))
        for devices in (1_000, 10_000)
        for strategy in ("fedavg", "fedprox")
    ]
    drift = [
        measure(label, spec(1_000, drift_rounds, strategy=strategy, mu=1.0, **DRIFT))
        for label, strategy in (("fedavg, drifting devices", "fedavg"), ("fedprox mu 1, drifting devices", "fedprox"))
    ]
    pairs = [
        (
            dropout,
            measure(f"plain, {dropout:.0%} dropout", spec(1_000, secagg_rounds, dropout=dropout)),
            measure(f"SecAgg+, {dropout:.0%} dropout", spec(1_000, secagg_rounds, dropout=dropout, secure=True)),
        )
        for dropout in dropouts
    ]
    print_convergence(runs, central)
    print_drift(drift)
    print_secagg(pairs)
    summary = targets(runs, pairs, central)
    print("\nTargets:")
    for line in summary:
        print(f"  {line}")
    print(json.dumps({"central": central}))
    return 0


def targets(runs: list[Measured], pairs, central: float) -> list[str]:
    by = {m.label: m for m in runs}
    best_10k = max((m for m in runs if "10,000" in m.label), key=lambda m: m.finished.accuracy)
    reach = best_10k.rounds_to(central - 0.02)
    memory = (
        by["fedprox, 10,000 devices"].finished.peak_rss_bytes / by["fedprox, 1,000 devices"].finished.peak_rss_bytes
    )
    lines = [
        f"10,000 devices converge within 15 minutes: {best_10k.label} within 2 points at round {reach} after "
        f"{best_10k.seconds_to(reach):.0f} s"
        if reach
        else f"10,000 devices: not within 2 points in {len(best_10k.rounds)} rounds",
        f"within 2 points of centralised: {best_10k.finished.accuracy:.4f} vs {central:.4f} "
        f"({100 * (best_10k.finished.accuracy - central):+.2f} pts)",
        f"peak memory 10,000 / 1,000 devices (FedProx): {memory:.2f}x (target at most 1.2x)",
    ]
    for dropout, plain, secure in pairs:
        per_round = secure.round_seconds() / plain.round_seconds()
        lines.append(
            f"SecAgg+ / plain at {dropout:.0%} dropout: {per_round:.1f}x per round, "
            f"{secure.wall / plain.wall:.1f}x the whole run (target at most 3x at 30%)"
        )
    return lines


if __name__ == "__main__":
    sys.exit(main())
