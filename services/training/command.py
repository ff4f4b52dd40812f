"""The `mlplat train` arguments for a blueprint model: one function, used by the cluster's Job template
(infra/components/model_training.py) and by the standalone trigger's subprocess
(services/training/targets.py), so a training run is the same command wherever it runs. The MLflow run
it logs into comes from the environment (MLPLAT_TRAINING_RUN_ID), set by whoever launches it."""

from __future__ import annotations

from blueprints.schema import Model

__all__ = ["train_args", "RUN_ID_ENV", "TRIGGER_ENV"]

RUN_ID_ENV = "MLPLAT_TRAINING_RUN_ID"
TRIGGER_ENV = "MLPLAT_TRAINING_TRIGGER"


def train_args(tenant: str, model: Model) -> list[str]:
    spec = model.training
    if spec is None:
        raise ValueError(f"model {model.name!r} declares no training")
    args = ["train", model.name, "--tenant", tenant, "--flavor", model.flavor]
    if spec.entry_point:
        return [*args, "--entry-point", spec.entry_point]
    return [*args, "--project", str(spec.project), "--project-entry", spec.project_entry]
