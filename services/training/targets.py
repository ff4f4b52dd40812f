"""Which models the training trigger looks after, decided from the blueprint by a pure function.

The trigger runs where the blueprint file may not be (a custom blueprint is not in the platform
image), so what it needs is written out as JSON: the cluster puts it in a ConfigMap, standalone in a
file. Both come from `training_targets`, and the command each run executes from `train_args`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from blueprints.naming import tenant_namespace
from blueprints.schema import Blueprint
from services.training.command import train_args

__all__ = ["TrainingTarget", "training_targets", "targets_to_json", "targets_from_json", "job_template_name"]


def job_template_name(model: str) -> str:
    """The CronJob that holds a model's training Job template in the cluster (infra/components/model_training.py)."""
    return f"{model}-training"


@dataclass(frozen=True)
class TrainingTarget:
    tenant: str
    model: str
    challenger_alias: str  # where a version that passes the gate goes
    canary_weight: int  # the share of traffic that alias gets (for the record; the server applies it)
    triggers: tuple[str, ...]  # "drift", "schedule"
    schedule: str | None
    timeout_seconds: int
    args: tuple[str, ...]  # `mlplat train ...` (services/training/command.py)
    namespace: str  # where the cluster runs the Job
    job_template: str  # the CronJob the cluster's Job is created from

    @property
    def key(self) -> tuple[str, str]:
        return (self.tenant, self.model)

    @property
    def label(self) -> str:
        return f"{self.tenant}/{self.model}"


def training_targets(blueprint: Blueprint) -> list[TrainingTarget]:
    return [
        TrainingTarget(
            tenant=tenant.name,
            model=model.name,
            challenger_alias=model.challenger_alias,
            canary_weight=model.canary_weight,
            triggers=tuple(model.training.triggers),
            schedule=model.training.schedule,
            timeout_seconds=model.training.timeout_minutes * 60,
            args=tuple(train_args(tenant.name, model)),
            namespace=tenant_namespace(tenant.name),
            job_template=job_template_name(model.name),
        )
        for tenant in blueprint.tenants
        for model in tenant.models
        if model.training is not None
    ]


def targets_to_json(targets: list[TrainingTarget]) -> str:
    return json.dumps({"targets": [asdict(t) for t in targets]}, indent=2, sort_keys=True)


def targets_from_json(text: str) -> list[TrainingTarget]:
    document = json.loads(text)
    return [
        TrainingTarget(**{**t, "triggers": tuple(t["triggers"]), "args": tuple(t["args"])}) for t in document["targets"]
    ]
