"""A tenant's model: what is served (alias, replicas, resources, canary and shadow), how it is
retrained (TrainingSpec, or federated learning: schema/federated.py) and whether it reads its inputs
from the feature store (ModelFeatures)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from blueprints.schema.features import Identifier
from blueprints.schema.federated import FederatedTraining, federated_job_name
from blueprints.schema.fields import CronSchedule, DnsName, ResourceList, Resources, Spec


class Replicas(Spec):
    min: int = Field(default=1, ge=1, le=50)
    max: int = Field(default=1, ge=1, le=50)
    target_cpu_utilization: int = Field(default=70, ge=10, le=100)

    @model_validator(mode="after")
    def _min_le_max(self) -> Replicas:
        if self.min > self.max:
            raise ValueError(f"min ({self.min}) is greater than max ({self.max}): set max >= min")
        return self


Flavor = Literal["sklearn", "xgboost", "lightgbm", "pyfunc"]

_ENTRY_POINT = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*:[A-Za-z_][\w]*$")
TRAINING_TRIGGERS = ("drift", "schedule")
TrainingTrigger = Literal["drift", "schedule"]


class TrainingSpec(Spec):
    """Continuous training for a model: what to run, and what starts a run (docs/batch.md, ADR 0013).

    A run is a Job in the cluster and a subprocess in standalone, launched by the training trigger
    one run per model at a time. It registers a new version; the promotion gate decides whether it
    becomes the challenger (never the champion: that stays a person's call through the gate).
    """

    entry_point: str | None = Field(default=None, description="a Python `package.module:function`")
    project: str | None = Field(default=None, description="an MLflow Project: a directory or git URI")
    project_entry: str = "main"
    triggers: list[TrainingTrigger] = Field(default_factory=lambda: ["drift"], min_length=1)
    schedule: CronSchedule | None = None
    resources: Resources = Resources(
        requests=ResourceList(cpu="250m", memory="512Mi"),
        limits=ResourceList(cpu="1", memory="1Gi"),
    )
    timeout_minutes: int = Field(default=60, ge=1, le=24 * 60, description="a run still going is stopped")

    @field_validator("entry_point")
    @classmethod
    def _module_function(cls, value: str | None) -> str | None:
        if value is not None and not _ENTRY_POINT.match(value):
            raise ValueError(
                f"{value!r} is not a Python entry point: write `package.module:function` "
                '(e.g. "services.training.iris:train")'
            )
        return value

    @model_validator(mode="after")
    def _one_source_and_a_schedule_when_scheduled(self) -> TrainingSpec:
        if (self.entry_point is None) == (self.project is None):
            raise ValueError("give exactly one of entryPoint (a Python module:function) or project (an MLflow Project)")
        if len(set(self.triggers)) != len(self.triggers):
            raise ValueError(f"triggers {self.triggers} names a trigger twice: list each once")
        if "schedule" in self.triggers and self.schedule is None:
            raise ValueError('the "schedule" trigger needs a schedule: add schedule (e.g. "0 4 * * 0")')
        if self.schedule is not None and "schedule" not in self.triggers:
            raise ValueError('schedule is set but triggers lacks "schedule": add it to triggers or remove schedule')
        return self


class ModelFeatures(Spec):
    """A model that reads its inputs from the tenant's feature store: requests carry entity keys.

    `missingEntity` says what an entity without online features gets: `reject` (404, naming it) or
    `default` (the model predicts on `defaults`, one value per feature of the service). A value older
    than its view's TTL is missing too, unless `allowStale` serves it (counted, and flagged in the
    `x-feature-stale` response header).
    """

    service: Identifier
    missing_entity: Literal["reject", "default"] = "reject"
    defaults: dict[str, float] = Field(default_factory=dict)
    allow_stale: bool = False

    @model_validator(mode="after")
    def _defaults_with_default(self) -> ModelFeatures:
        if self.missing_entity == "default" and not self.defaults:
            raise ValueError(
                "missingEntity is default but defaults is empty: give defaults (one value per feature of the "
                "service), or use missingEntity: reject"
            )
        if self.missing_entity == "reject" and self.defaults:
            raise ValueError("defaults are only used with missingEntity: default: remove them or set missingEntity")
        return self


class Model(Spec):
    """A model a tenant serves: the registered model, the alias to serve and how to run it."""

    name: DnsName
    flavor: Flavor = "sklearn"
    alias: DnsName = "champion"
    replicas: Replicas = Replicas()
    resources: Resources = Resources(
        requests=ResourceList(cpu="100m", memory="256Mi"),
        limits=ResourceList(cpu="500m", memory="512Mi"),
    )
    canary_weight: int = Field(default=0, ge=0, le=100, description="percent of traffic to the challenger")
    challenger_alias: DnsName = "challenger"
    shadow: bool = False
    shadow_alias: DnsName = "shadow"
    training: TrainingSpec | None = None
    features: ModelFeatures | None = Field(
        default=None, description="read inputs from the tenant's feature store by entity key"
    )
    federated: FederatedTraining | None = Field(default=None, description="trained by federated learning")

    @model_validator(mode="after")
    def _aliases_distinct(self) -> Model:
        if self.canary_weight and self.alias == self.challenger_alias:
            raise ValueError(f"alias and challengerAlias are both {self.alias!r}: the challenger needs its own alias")
        return self

    @model_validator(mode="after")
    def _federated_is_its_own_training(self) -> Model:
        if self.federated is None:
            return self
        if self.training is not None:
            raise ValueError(
                "federated and training both train this model: keep federated (its versions come from "
                "federated rounds) or training (a central run), not both"
            )
        if self.features is not None:
            raise ValueError("federated: devices hold their own data, not the feature store's: remove features")
        if self.flavor != "sklearn":
            raise ValueError(
                f"flavor {self.flavor!r}: a federated model is registered as a scikit-learn LogisticRegression; "
                'set flavor: "sklearn"'
            )
        if len(federated_job_name(self.name)) > 52:  # Kubernetes appends 11 characters for a CronJob's Jobs
            raise ValueError(
                f"name: {self.name!r} makes the CronJob {federated_job_name(self.name)!r}, over Kubernetes' 52 "
                "characters: use a model name of at most 42 characters"
            )
        return self

    @model_validator(mode="after")
    def _retrained_versions_need_a_canary(self) -> Model:
        if self.training is not None and not self.canary_weight:
            raise ValueError(
                "training: a retrained version becomes the challenger at canaryWeight, which is 0: "
                "set canaryWeight (e.g. 10) so the challenger gets a share of traffic"
            )
        return self
