"""A federated run, on the platform's side: start it, log every round to MLflow, register the model.

The Flower side runs in the federated environment (services/federated/environment.py) as a
subprocess: this module writes the run's `RunSpec` to its stdin and reads its events from its
stdout (services/federated/events.py). Each round goes to MLflow as it arrives (metrics with the
round as their step: accuracy, loss, devices that answered and dropped, bytes each way, seconds,
and epsilon under differential privacy), and to `say` as one progress line. When the run finishes,
the global model is registered under the tenant's model name with what the promotion gate checks,
exactly as a centrally trained version (services/training/runner.py): the `accuracy` metric, a
signature and input example, the reference feature distribution, the owner, data digest and code
version tags, and a model card. The signature, example and reference come from the server's own
held-out rows: the server never holds a device's data.

A run that fails (the runtime exits non-zero) ends FAILED in MLflow and registers nothing.
"""

from __future__ import annotations

import hashlib
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from services.federated.environment import REPOSITORY, federated_python
from services.federated.events import Event, Finished, RoundReport, Started, from_line
from services.federated.spec import RunSpec

__all__ = ["FederatedError", "FederatedVersion", "train_federated", "run_events", "progress_line", "code_version"]

FEDERATED_TAG = "platform.mlops/federated"
TRIGGER_TAG = "platform.mlops/trigger"
TRAINING_RUN_TAG = "platform.mlops/training-run"  # the same tag central training sets (services/training/runner.py)


class FederatedError(RuntimeError):
    """The federated runtime failed; the message carries the end of its log."""


@dataclass(frozen=True)
class FederatedVersion:
    model: str
    version: str
    run_id: str
    accuracy: float
    epsilon: float | None
    delta: float | None
    rounds: list[RoundReport] = field(default_factory=list)
    peak_rss_bytes: int = 0
    seconds: float = 0.0


def code_version() -> str:
    """The federated package's sources, digested: what exactly trained the version."""
    digest = hashlib.sha256()
    for path in sorted((REPOSITORY / "services" / "federated").rglob("*.py")):
        digest.update(path.relative_to(REPOSITORY).as_posix().encode())
        digest.update(path.read_bytes())
    return f"services.federated sha256:{digest.hexdigest()[:12]}"


def run_events(spec: RunSpec, out: Path, *, python: Path | None = None) -> Iterator[Event]:
    """Run the federated runtime and yield its events as they come; raise FederatedError if it fails."""
    python = python or federated_python()
    log = out / "runtime.log"
    # -I: the federated environment's own packages only (not whatever the working directory holds)
    command = [str(python), "-I", "-m", "services.federated.flower.runtime", "--spec", "-", "--out", str(out)]
    with log.open("w") as stderr:
        process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, text=True)
        assert process.stdin is not None and process.stdout is not None
        try:
            process.stdin.write(spec.to_json())
            process.stdin.close()
            for line in process.stdout:
                event = from_line(line)
                if event is not None:
                    yield event
        except BaseException:  # the caller stopped reading (or failed): the run must not outlive it
            process.kill()
            process.wait()
            raise
        code = process.wait()
    if code != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-25:])
        raise FederatedError(f"the federated runtime exited with {code}; the end of its log ({log}):\n{tail}")


def progress_line(event: Event, spec: RunSpec) -> str:
    if isinstance(event, Started):
        secagg = (
            f"SecAgg+ ({event.num_shares} shares, threshold {event.threshold})"
            if event.num_shares
            else "plain aggregation"
        )
        return (
            f"  setup {event.setup_seconds:.1f}s: {spec.data.samples} rows over {event.devices} devices "
            f"({spec.data.classes_per_device} classes each); {secagg}; accuracy before training {event.accuracy:.3f}"
        )
    if isinstance(event, RoundReport):
        width = len(str(spec.rounds))
        privacy = f"  epsilon {event.epsilon:.2f} (delta {event.delta:g})" if event.epsilon is not None else ""
        outcome = "" if event.aggregated else "  NOT AGGREGATED: the model is unchanged"
        return (
            f"  round {event.round:>{width}}/{spec.rounds}: {event.answered}/{event.sampled} devices answered "
            f"({event.dropped} dropped mid-round)  accuracy {event.accuracy:.3f}  "
            f"{(event.bytes_down + event.bytes_up) / 2**20:.1f} MiB  {event.seconds:.1f}s{privacy}{outcome}"
        )
    return (
        f"  finished: accuracy {event.accuracy:.3f} after {event.rounds} rounds in {event.seconds:.0f}s, "
        f"peak memory {event.peak_rss_bytes / 2**20:.0f} MiB"
    )


def train_federated(
    spec: RunSpec, *, trigger: str = "manual", say: Callable[[str], None] = print, python: Path | None = None
) -> FederatedVersion:
    """One federated run logged to the current MLflow tracking server, its model registered."""
    import mlflow

    from services.training.runner import experiment_name

    mlflow.set_experiment(experiment_name(spec.tenant, spec.model))
    rounds: list[RoundReport] = []
    finished: Finished | None = None
    with tempfile.TemporaryDirectory(prefix="mlplat-federated-") as work, mlflow.start_run() as run:
        mlflow.set_tags({TRIGGER_TAG: trigger, FEDERATED_TAG: "true"})
        mlflow.log_params(_params(spec))
        try:
            for event in run_events(spec, Path(work), python=python):
                say(progress_line(event, spec))
                if isinstance(event, Started) and event.num_shares:
                    mlflow.log_params({"secagg_num_shares": event.num_shares, "secagg_threshold": event.threshold})
                elif isinstance(event, RoundReport):
                    rounds.append(event)
                    mlflow.log_metrics(_round_metrics(event), step=event.round)
                elif isinstance(event, Finished):
                    finished = event
        finally:
            if (Path(work) / "runtime.log").is_file():
                mlflow.log_artifact(str(Path(work) / "runtime.log"), "federated")
        if finished is None:
            raise FederatedError("the federated runtime ended without reporting its result")
        version = _register(spec, finished, run.info.run_id, trigger)
    return FederatedVersion(
        spec.model,
        version,
        run.info.run_id,
        finished.accuracy,
        finished.epsilon,
        finished.delta,
        rounds,
        finished.peak_rss_bytes,
        finished.seconds,
    )


def _params(spec: RunSpec) -> dict[str, object]:
    params: dict[str, object] = {
        k: v for k, v in asdict(spec).items() if k not in ("local", "data", "privacy", "tenant", "model")
    }
    params["sampled_per_round"] = spec.sampled
    params.update({f"local_{k}": v for k, v in asdict(spec.local).items()})
    params.update({f"data_{k}": v for k, v in asdict(spec.data).items()})
    if spec.privacy is not None:
        params.update({f"dp_{k}": v for k, v in asdict(spec.privacy).items()})
    return params


def _round_metrics(event: RoundReport) -> dict[str, float]:
    metrics = {
        "accuracy": event.accuracy,
        "loss": event.loss,
        "devices_answered": float(event.answered),
        "devices_dropped": float(event.dropped),
        "bytes_down": float(event.bytes_down),
        "bytes_up": float(event.bytes_up),
        "round_seconds": event.seconds,
        "aggregated": float(event.aggregated),
    }
    if event.epsilon is not None:
        metrics["epsilon"] = event.epsilon
    return metrics


def _register(spec: RunSpec, finished: Finished, run_id: str, trigger: str) -> str:
    """Log the global model with what the gate checks and register it under the tenant's model name."""
    import mlflow
    import pandas as pd
    from mlflow.models import infer_signature
    from mlflow.tracking import MlflowClient

    from services.federated import data, model
    from services.model_server.reference import log_reference

    arrays = np.load(finished.model_path)
    names = data.feature_names(spec.data)
    estimator = model.to_sklearn([arrays["weights"], arrays["bias"]], names)
    pool = data.generate(spec.data)
    held_out = pd.DataFrame(pool.test_x, columns=names)
    final = {"accuracy": finished.accuracy, "loss": finished.loss, "federated_seconds": finished.seconds}
    final["peak_memory_bytes"] = float(finished.peak_rss_bytes)
    if finished.epsilon is not None:
        final.update({"epsilon": finished.epsilon, "delta": finished.delta or 0.0})
    mlflow.log_metrics(final, step=spec.rounds)
    log_reference(held_out)
    logged = mlflow.sklearn.log_model(
        estimator,
        name="model",
        signature=infer_signature(held_out, estimator.predict(held_out.head(100))),
        input_example=held_out.head(3),
        registered_model_name=spec.model,
    )
    version = str(logged.registered_model_version)
    client = MlflowClient()
    tags = {
        "owner": spec.tenant,
        "training_data_digest": finished.data_digest,
        "code_version": code_version(),
        TRAINING_RUN_TAG: run_id,
        TRIGGER_TAG: trigger,
        FEDERATED_TAG: "true",
    }
    for key, value in tags.items():
        client.set_model_version_tag(spec.model, version, key, value)
    client.update_model_version(spec.model, version, description=_model_card(spec, finished))
    return version


def _model_card(spec: RunSpec, finished: Finished) -> str:
    privacy = (
        f" Central differential privacy: epsilon {finished.epsilon:.2f} at delta {finished.delta:g}."
        if finished.epsilon is not None
        else ""
    )
    return (
        f"{spec.model} for {spec.tenant}: multinomial logistic regression trained by federated learning over "
        f"{spec.devices} simulated devices ({spec.sampled} a round, {spec.rounds} rounds, {spec.strategy}, "
        f"{'SecAgg+ secure aggregation' if spec.secure_aggregation else 'plain aggregation'}, "
        f"{spec.dropout_rate:.0%} of each round's devices dropping mid-round). Data: generated Gaussian "
        f"clusters, {spec.data.classes_per_device} of {spec.data.classes} classes per device; accuracy "
        f"{finished.accuracy:.3f} on the server's held-out rows.{privacy} Intended for the platform "
        "walkthrough; not for real decisions."
    )
