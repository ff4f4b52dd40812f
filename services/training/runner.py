"""One training run (`mlplat train`): call the team's code, then log and register what the gate checks.

Two kinds of training code, as a blueprint's `training` section names them:
- `entryPoint: package.module:function`, called with a `TrainingContext`; it returns a
  `TrainingResult` and this module does all the MLflow work (contract.py);
- `project: <dir or git URI>`, an MLflow Project, run with MLflow's own `mlflow.projects.run` (local
  environment). It logs into a run of its own and must log a model named `model` with a signature
  and an input example, its metrics, the reference distribution (`log_reference`) and a
  `training_data_digest` tag; this module registers that model and tags the version.

Either way the run logs into the MLflow run named by MLPLAT_TRAINING_RUN_ID when the training trigger
created one (so the trigger's audit entry names it before the run starts), and the new version is
tagged `platform.mlops/training-run=<that run>`, which is how the trigger finds it. A run that raises
ends FAILED in MLflow and registers nothing, so nothing served can change.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.training.contract import TrainingContext, TrainingResult

__all__ = [
    "TrainingError",
    "TrainedVersion",
    "load_entry_point",
    "experiment_name",
    "train_entry_point",
    "train_project",
    "TRAINING_RUN_TAG",
]

TRAINING_RUN_TAG = "platform.mlops/training-run"
TRIGGER_TAG = "platform.mlops/trigger"


class TrainingError(RuntimeError):
    """The training code or its result is unusable; the message names the entry point and the fix."""


@dataclass(frozen=True)
class TrainedVersion:
    model: str
    version: str
    run_id: str

    def json(self) -> str:
        return json.dumps({"model": self.model, "version": self.version, "run_id": self.run_id})


def experiment_name(tenant: str, model: str) -> str:
    """Training runs of a model go to one experiment per tenant and model (the demo's naming too)."""
    return f"{tenant}-{model}"


def load_entry_point(entry_point: str) -> Callable[[TrainingContext], TrainingResult]:
    module_name, _, function_name = entry_point.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise TrainingError(
            f"entry point {entry_point!r}: cannot import {module_name!r} ({exc}); install the package that "
            "provides it in the training image, or fix training.entryPoint in the blueprint"
        ) from None
    function = getattr(module, function_name, None)
    if not callable(function):
        raise TrainingError(f"entry point {entry_point!r}: {module_name} has no function {function_name!r}")
    return function


def code_version(entry_point: str) -> str:
    """The entry point and a digest of its module's source: what exactly trained this version."""
    module = importlib.import_module(entry_point.partition(":")[0])
    try:
        source = inspect.getsource(module).encode()
    except (OSError, TypeError):
        return entry_point
    return f"{entry_point} sha256:{hashlib.sha256(source).hexdigest()[:12]}"


def train_entry_point(
    entry_point: str, *, model: str, tenant: str, flavor: str, trigger: str, run_id: str | None
) -> TrainedVersion:
    import mlflow
    from mlflow.models import infer_signature

    from services.model_server.reference import log_reference

    function = load_entry_point(entry_point)
    if run_id is None:
        mlflow.set_experiment(experiment_name(tenant, model))
    with mlflow.start_run(run_id=run_id) as run:
        mlflow.set_tags({TRIGGER_TAG: trigger, "platform.mlops/entry-point": entry_point})
        result = function(TrainingContext(model=model, tenant=tenant, trigger=trigger))
        _check(result, entry_point)
        if result.params:
            mlflow.log_params(result.params)
        mlflow.log_metrics({k: float(v) for k, v in result.metrics.items()})
        log_reference(result.features)
        predictions = result.model.predict(result.features)
        logged = _log_model(
            flavor,
            result.model,
            signature=infer_signature(result.features, predictions),
            input_example=result.features.head(3),
            registered_model_name=model,
        )
        version = str(logged.registered_model_version)
        _tag_version(
            model,
            version,
            run.info.run_id,
            trigger,
            {
                "owner": tenant,
                "training_data_digest": result.data_digest,
                "code_version": code_version(entry_point),
            },
            result.description,
        )
    return TrainedVersion(model, version, run.info.run_id)


def _check(result: Any, entry_point: str) -> None:
    if not isinstance(result, TrainingResult):
        raise TrainingError(
            f"entry point {entry_point!r} returned {type(result).__name__}; return a "
            "services.training.contract.TrainingResult (model, features, metrics, data_digest, description)"
        )
    if not hasattr(result.features, "columns"):
        raise TrainingError(
            f"entry point {entry_point!r}: features must be a pandas DataFrame (its columns become the signature)"
        )
    for name, text in (("data_digest", result.data_digest), ("description", result.description)):
        if not isinstance(text, str) or not text.strip():
            raise TrainingError(f"entry point {entry_point!r}: {name} is empty; the promotion gate requires it")
    bad = [k for k, v in result.metrics.items() if isinstance(v, bool) or not isinstance(v, int | float)]
    if bad:
        raise TrainingError(f"entry point {entry_point!r}: metrics {bad} are not numbers")


def _log_model(flavor: str, fitted: Any, **kwargs: Any):
    """`mlflow.<flavor>.log_model`: the flavor the blueprint declares, named `model` in the run."""
    module = importlib.import_module(f"mlflow.{flavor}")
    if flavor == "pyfunc":
        return module.log_model(name="model", python_model=fitted, **kwargs)
    return module.log_model(fitted, name="model", **kwargs)


def _tag_version(model: str, version: str, run_id: str, trigger: str, tags: dict[str, str], description: str) -> None:
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    for key, value in {**tags, TRAINING_RUN_TAG: run_id, TRIGGER_TAG: trigger}.items():
        client.set_model_version_tag(model, version, key, value)
    if description.strip():
        client.update_model_version(model, version, description=description)


def train_project(
    project: str, entry: str, *, model: str, tenant: str, trigger: str, run_id: str | None
) -> TrainedVersion:
    """Run an MLflow Project, then register the model it logged and tag the version."""
    import mlflow
    from mlflow.exceptions import ExecutionException
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    if run_id is None:
        mlflow.set_experiment(experiment_name(tenant, model))
    with mlflow.start_run(run_id=run_id) as outer:
        mlflow.set_tags({TRIGGER_TAG: trigger, "platform.mlops/project": project})
        experiment = client.get_experiment(outer.info.experiment_id).name
        location = str(Path(project).resolve()) if Path(project).exists() else project
        # "local" runs the project's command with this environment's tools: put this interpreter first
        os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
        try:
            submitted = mlflow.projects.run(
                location,
                entry_point=entry,
                parameters={"model": model, "tenant": tenant},
                experiment_name=experiment,
                env_manager="local",
                synchronous=True,
            )
        except ExecutionException as exc:
            raise TrainingError(f"project {project!r} ({entry}): {exc}; its output is above") from None
        project_run = client.get_run(submitted.run_id)
        mlflow.set_tag("platform.mlops/project-run", submitted.run_id)
        mlflow.log_metrics(project_run.data.metrics)
        registered = mlflow.register_model(f"runs:/{submitted.run_id}/model", model)
        version = str(registered.version)
        run_tags = project_run.data.tags
        commit = run_tags.get("mlflow.source.git.commit", "")
        tags = {"owner": tenant, "code_version": f"{project}#{entry} {commit}".strip()}
        if run_tags.get("training_data_digest"):  # only the project knows its data; the gate insists
            tags["training_data_digest"] = run_tags["training_data_digest"]
        _tag_version(model, version, outer.info.run_id, trigger, tags, run_tags.get("mlflow.note.content", ""))
    return TrainedVersion(model, version, outer.info.run_id)
