"""A tenant: one team's namespace, with its quota, default limits, models, batch jobs and feature
store, and the peak a tenant may reach that its quota must cover."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import AfterValidator, Field, field_validator, model_validator

from blueprints.naming import RESERVED_NAMESPACES
from blueprints.schema.data import TenantData
from blueprints.schema.features import TenantFeatures
from blueprints.schema.fields import (
    CpuQuantity,
    CronSchedule,
    DnsName,
    MemoryQuantity,
    ResourceList,
    Resources,
    Spec,
    StorageQuantity,
)
from blueprints.schema.llm import TenantLLM
from blueprints.schema.model import Model

if TYPE_CHECKING:
    from blueprints.schema.platform import Platform


class Quotas(Spec):
    """A tenant's ResourceQuota. cpu and memory cap both the requests and the limits in the namespace."""

    cpu: CpuQuantity
    memory: MemoryQuantity
    pods: int = Field(gt=0, le=1000)
    storage: StorageQuantity


class ContainerLimits(Spec):
    """The tenant's LimitRange: what a container gets when its manifest names no resources."""

    default: ResourceList = ResourceList(cpu="500m", memory="512Mi")
    default_request: ResourceList = ResourceList(cpu="100m", memory="128Mi")

    @model_validator(mode="after")
    def _request_within_default(self) -> ContainerLimits:
        if self.default_request.cores() > self.default.cores() or self.default_request.bytes() > self.default.bytes():
            raise ValueError("defaultRequest exceeds default: a default request must fit its default limit")
        return self


def _data_path(value: str) -> str:
    parts = value.split("/")
    if not value or value.startswith("/") or ".." in parts or "" in parts:
        raise ValueError(
            f"{value!r} must be a relative path inside the batch job's data volume, without '..' "
            '(e.g. "incoming/iris.csv")'
        )
    if not value.endswith((".csv", ".parquet")):
        raise ValueError(f"{value!r}: use a .csv or .parquet file")
    return value


DataPath = Annotated[str, AfterValidator(_data_path)]


class BatchJob(Spec):
    """A model scored in batch on a schedule: a CronJob in the cluster, the supervisor in standalone.

    `input` and `output` are paths in the job's data volume (`/data` in the pod, `<root>/batch/<tenant>/`
    in standalone). A run reads the input in chunks, writes the output atomically with the model's
    name, version and run id on every row, writes rejected rows with their reason beside it, and fails
    when more than `maxRejectRatio` of the rows are rejected (docs/batch.md).
    """

    name: Annotated[DnsName, Field(max_length=52, description="CronJob names are at most 52 characters")]
    model: DnsName
    alias: DnsName = "champion"
    schedule: CronSchedule
    input: DataPath
    output: DataPath
    max_reject_ratio: float = Field(default=0.01, ge=0, le=1, description="share of rows that may be rejected")
    storage: StorageQuantity = "1Gi"
    resources: Resources = Resources(
        requests=ResourceList(cpu="100m", memory="384Mi"),
        limits=ResourceList(cpu="1", memory="768Mi"),
    )
    backoff_limit: int = Field(default=1, ge=0, le=10, description="retries of a failed run")
    timeout_minutes: int = Field(default=60, ge=1, le=24 * 60, description="a run still going is stopped")

    @model_validator(mode="after")
    def _output_differs_from_input(self) -> BatchJob:
        if self.input == self.output:
            raise ValueError(f"input and output are both {self.input!r}: write the scores to another file")
        return self


class Tenant(Spec):
    """A team: one namespace with a quota, default limits, default-deny networking and its models."""

    name: DnsName
    display_name: str = ""
    owners: list[str] = Field(default_factory=list, description="groups bound to the tenant's Role")
    registry: Literal["shared", "dedicated"] = "shared"
    quotas: Quotas
    limits: ContainerLimits = ContainerLimits()
    models: list[Model] = Field(default_factory=list)
    batch: list[BatchJob] = Field(default_factory=list, description="models scored in batch on a schedule")
    features: TenantFeatures | None = Field(default=None, description="the tenant's Feast project")
    data: TenantData | None = Field(default=None, description="classification, purposes, residency (ADR 0024)")
    llm: TenantLLM | None = Field(
        default=None, description="LLMs the tenant serves, and its gateway routes and budgets"
    )

    @field_validator("name")
    @classmethod
    def _not_reserved(cls, name: str) -> str:
        if name in RESERVED_NAMESPACES or name.startswith("kube-"):
            raise ValueError(f"{name!r} is a reserved namespace: pick another tenant name")
        return name

    @model_validator(mode="after")
    def _feature_store_names_fit_postgres(self) -> Tenant:
        # Feast names the tenant's database `feast_<project>` and each online table `<project>_<view>`
        # (services/features/names.py); PostgreSQL truncates identifiers over 63 bytes.
        if self.features is None:
            return self
        project = self.name.replace("-", "_")
        if len(f"feast_{project}") > 63:
            raise ValueError(
                f"name: the feature store's database would be feast_{project} ({len(project) + 6} characters); "
                "PostgreSQL allows 63: use a tenant name of at most 57 characters"
            )
        for index, view in enumerate(self.features.feature_views):
            table = f"{project}_{view.name}"
            if len(table) > 63:
                raise ValueError(
                    f"features.featureViews[{index}].name: the online table {table!r} is {len(table)} characters; "
                    "PostgreSQL allows 63: shorten the view's name (or the tenant's)"
                )
        return self


def tenant_peak_limits(tenant: Tenant, platform: Platform) -> tuple[Decimal, Decimal, int]:
    """CPU cores, memory bytes and pods a tenant's namespace may hold at peak, counted by limits.

    Counts each model at max replicas plus one surge pod per Deployment (rolling updates), one training
    run per trained model, one federated run per federated model, one run per batch job, and a dedicated
    registry (MLflow server, PostgreSQL, the backup and restore jobs) when the tenant has one: a restore
    must never be refused by the quota in the middle of an incident.
    """
    cpu = Decimal(0)
    memory = Decimal(0)
    pods = 0
    for model in tenant.models:
        count = model.replicas.max + 1  # maxSurge 1 during a rollout
        cpu += count * model.resources.limits.cores()
        memory += count * model.resources.limits.bytes()
        pods += count
        if model.training is not None:  # one training run per model at a time
            cpu += model.training.resources.limits.cores()
            memory += model.training.resources.limits.bytes()
            pods += 1
        if model.federated is not None:  # one federated run per model at a time (concurrencyPolicy Forbid)
            cpu += model.federated.resources.limits.cores()
            memory += model.federated.resources.limits.bytes()
            pods += 1
    for job in tenant.batch:  # concurrencyPolicy Forbid: one run per batch job at a time
        cpu += job.resources.limits.cores()
        memory += job.resources.limits.bytes()
        pods += 1
    for llm in tenant.llm.models if tenant.llm else ():  # each replica, plus one surge pod per Deployment
        cpu += (llm.replicas + 1) * llm.resources.limits.cores()
        memory += (llm.replicas + 1) * llm.resources.limits.bytes()
        pods += llm.replicas + 1
    if tenant.features is not None:  # the feature server (plus a surge pod) and one materialization run
        server, run = tenant.features.server.resources, tenant.features.materialization.resources
        cpu += 2 * server.limits.cores() + run.limits.cores()
        memory += 2 * server.limits.bytes() + run.limits.bytes()
        pods += 3
    if tenant.registry == "dedicated":
        reg = platform.registry
        cpu += (reg.replicas + 1) * reg.server.limits.cores() + reg.database.limits.cores()
        memory += (reg.replicas + 1) * reg.server.limits.bytes() + reg.database.limits.bytes()
        # the backup jobs and a restore job (they may overlap) run with the database's limits
        jobs = 3 if reg.backup.wal_archiving else 2
        cpu += jobs * reg.database.limits.cores()
        memory += jobs * reg.database.limits.bytes()
        pods += reg.replicas + 1 + 1 + jobs
    return cpu, memory, pods
