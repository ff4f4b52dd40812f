"""The blueprint schema: WHAT the platform is, as typed data.

A blueprint is one YAML document (see `blueprints/*.yaml`): platform settings, tenants and each
tenant's models. Every key is typed and unknown keys are errors, the way kind's v1alpha4 config
works: a typo must never be silently ignored. Defaults are written here, once, so a reader sees
what an omitted key means. Cross-field rules (a tenant's models must fit its quota, requests must
not exceed limits, names are unique) live in validators beside the fields they check.

Keys are camelCase in YAML, like Kubernetes objects; the Python attributes are snake_case.
"""

from __future__ import annotations

import difflib
import re
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

from blueprints.cron import CronError, parse_cron
from blueprints.naming import RESERVED_NAMESPACES
from blueprints.quantity import QuantityError, parse_quantity
from policies.catalog import RULE_IDS

__all__ = [
    "Blueprint",
    "Platform",
    "Tenant",
    "Model",
    "Resources",
    "ResourceList",
    "Quotas",
    "ContainerLimits",
    "Replicas",
    "RegistrySettings",
    "BackupSettings",
    "MonitoringSettings",
    "SloSettings",
    "PolicySettings",
    "CostSettings",
    "ImageRef",
    "TrainingSpec",
    "BatchJob",
    "TRAINING_TRIGGERS",
    "FEATURE_TYPES",
    "ENTITY_TYPES",
    "TenantFeatures",
    "Entity",
    "FeatureView",
    "FeatureSource",
    "Feature",
    "FeatureService",
    "Materialization",
    "FeatureServer",
    "ModelFeatures",
]

_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def repeated(names: list[str]) -> int | None:
    """The index of the first name already seen earlier in the list (its second declaration, which
    the error message points at), or None when every name is unique."""
    seen: set[str] = set()
    for index, name in enumerate(names):
        if name in seen:
            return index
        seen.add(name)
    return None


def _dns_label(value: str) -> str:
    if len(value) > 63 or not _DNS1123_LABEL.match(value):
        raise ValueError(
            f"{value!r} is not a DNS-1123 label: use at most 63 lowercase letters, digits and '-', "
            'starting and ending with a letter or digit (e.g. "fraud-team")'
        )
    return value


def _quantity(value: str | int | float) -> str:
    try:
        parse_quantity(value)
    except QuantityError:
        raise ValueError(f'{value!r} is not a Kubernetes quantity (e.g. "4" or "500m")') from None
    return str(value)


def _memory(value: str | int | float) -> str:
    text = _quantity(value)
    if parse_quantity(text) < 1024 * 1024:
        raise ValueError(f'{value!r} is under 1 MiB: memory needs a unit (e.g. "512Mi" or "2Gi")')
    return text


DnsName = Annotated[str, AfterValidator(_dns_label)]
CpuQuantity = Annotated[str | int | float, AfterValidator(_quantity)]
MemoryQuantity = Annotated[str | int | float, AfterValidator(_memory)]
StorageQuantity = Annotated[str | int | float, AfterValidator(_memory)]


class _Spec(BaseModel):
    """Base for every blueprint section: camelCase keys, unknown keys rejected, immutable."""

    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
        validate_default=True,
    )


class ResourceList(_Spec):
    cpu: CpuQuantity
    memory: MemoryQuantity

    def cores(self) -> Decimal:
        return parse_quantity(self.cpu)

    def bytes(self) -> Decimal:
        return parse_quantity(self.memory)


class Resources(_Spec):
    """Container requests and limits. Requests are what the scheduler and the cost model count."""

    requests: ResourceList
    limits: ResourceList

    @model_validator(mode="after")
    def _requests_within_limits(self) -> Resources:
        if self.requests.cores() > self.limits.cores():
            raise ValueError(
                f"requests.cpu {self.requests.cpu!r} exceeds limits.cpu {self.limits.cpu!r}: "
                "raise the limit or lower the request"
            )
        if self.requests.bytes() > self.limits.bytes():
            raise ValueError(
                f"requests.memory {self.requests.memory!r} exceeds limits.memory {self.limits.memory!r}: "
                "raise the limit or lower the request"
            )
        return self


class ImageRef(_Spec):
    """A container image, always pinned: a tag that is not `latest`, or a digest."""

    repository: str = "mlops-platform/platform"
    tag: str = "0.1.0"

    @field_validator("tag")
    @classmethod
    def _pinned(cls, tag: str) -> str:
        if not tag or tag == "latest":
            raise ValueError(f'{tag!r} is not a pinned tag: use a version (e.g. "0.1.0") or a digest')
        return tag

    @property
    def ref(self) -> str:
        sep = "@" if self.tag.startswith("sha256:") else ":"
        return f"{self.repository}{sep}{self.tag}"


class Quotas(_Spec):
    """A tenant's ResourceQuota. cpu and memory cap both the requests and the limits in the namespace."""

    cpu: CpuQuantity
    memory: MemoryQuantity
    pods: int = Field(gt=0, le=1000)
    storage: StorageQuantity


class ContainerLimits(_Spec):
    """The tenant's LimitRange: what a container gets when its manifest names no resources."""

    default: ResourceList = ResourceList(cpu="500m", memory="512Mi")
    default_request: ResourceList = ResourceList(cpu="100m", memory="128Mi")

    @model_validator(mode="after")
    def _request_within_default(self) -> ContainerLimits:
        if self.default_request.cores() > self.default.cores() or self.default_request.bytes() > self.default.bytes():
            raise ValueError("defaultRequest exceeds default: a default request must fit its default limit")
        return self


class Replicas(_Spec):
    min: int = Field(default=1, ge=1, le=50)
    max: int = Field(default=1, ge=1, le=50)
    target_cpu_utilization: int = Field(default=70, ge=10, le=100)

    @model_validator(mode="after")
    def _min_le_max(self) -> Replicas:
        if self.min > self.max:
            raise ValueError(f"min ({self.min}) is greater than max ({self.max}): set max >= min")
        return self


Flavor = Literal["sklearn", "xgboost", "lightgbm", "pyfunc"]


def _cron(schedule: str) -> str:
    try:
        _ = parse_cron(schedule).max_interval_seconds  # also rejects schedules that never fire
    except CronError as exc:
        raise ValueError(str(exc)) from None
    return schedule


CronSchedule = Annotated[str, AfterValidator(_cron)]
_ENTRY_POINT = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*:[A-Za-z_][\w]*$")
TRAINING_TRIGGERS = ("drift", "schedule")
TrainingTrigger = Literal["drift", "schedule"]


class TrainingSpec(_Spec):
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


# --- The feature store (docs/features.md) ------------------------------------------------------
# A tenant declares its Feast definitions here; services/features/ generates the Feast repository,
# the model servers' feature specs and the materialization commands from them, so the cluster,
# standalone and training read one set of definitions.

# Feature values the model server turns into its float64 batch; entity keys Feast serialises.
FEATURE_TYPES = ("float64", "float32", "int64", "int32", "bool")
ENTITY_TYPES = ("int64", "string")
FeatureType = Literal["float64", "float32", "int64", "int32", "bool"]
EntityType = Literal["int64", "string"]
_IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_DURATION = re.compile(r"^(\d+)([smhdw])$")
_DURATION_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def _identifier(value: str) -> str:
    if not _IDENTIFIER.match(value):
        raise ValueError(
            f"{value!r} is not a feature-store name: use at most 40 lowercase letters, digits and '_', "
            'starting with a letter (e.g. "customer_stats"); it becomes a table and column name'
        )
    return value


def duration_seconds(value: str) -> int:
    """Seconds in a duration such as "30m", "12h", "2d" or "1w"."""
    match = _DURATION.match(value)
    if not match or int(match.group(1)) == 0:
        raise ValueError(f'{value!r} is not a positive duration: write a number and a unit s, m, h, d or w (e.g. "2d")')
    return int(match.group(1)) * _DURATION_SECONDS[match.group(2)]


def _duration(value: str) -> str:
    duration_seconds(value)
    return value


Identifier = Annotated[str, AfterValidator(_identifier)]
Duration = Annotated[str, AfterValidator(_duration)]


def _parquet_path(value: str) -> str:
    parts = value.split("/")
    if not value or value.startswith("/") or ".." in parts or "" in parts:
        raise ValueError(
            f"{value!r} must be a relative path inside the tenant's feature data, without '..' "
            '(e.g. "customers/stats.parquet")'
        )
    if not value.endswith(".parquet"):
        raise ValueError(f"{value!r}: feature sources are Parquet files; use a .parquet path")
    return value


class Entity(_Spec):
    """What features describe (a customer, a flower): its join key is what a request names."""

    name: Identifier
    join_key: Identifier | None = Field(default=None, description="the key column (default: the entity's name)")
    type: EntityType = "int64"

    @property
    def key(self) -> str:
        return self.join_key or self.name


class Feature(_Spec):
    name: Identifier
    type: FeatureType = "float64"


class FeatureSource(_Spec):
    """A Parquet file in the tenant's feature data (`/data` in the cluster's pods, `<root>/features/<tenant>/data`
    in standalone): one row per entity and event time."""

    path: Annotated[str, AfterValidator(_parquet_path)]
    timestamp_field: Identifier = "event_timestamp"


class FeatureView(_Spec):
    """Features of one or more entities from one source. Online, a value older than `ttl` is stale."""

    name: Identifier
    entities: list[Identifier] = Field(min_length=1)
    source: FeatureSource
    ttl: Duration = "1d"
    features: list[Feature] = Field(min_length=1)

    @property
    def ttl_seconds(self) -> int:
        return duration_seconds(self.ttl)

    @model_validator(mode="after")
    def _unique_features(self) -> FeatureView:
        index = repeated([f.name for f in self.features])
        if index is not None:
            raise ValueError(
                f"features[{index}].name: feature {self.features[index].name!r} is declared twice in view "
                f"{self.name!r}: feature names are unique in a view"
            )
        if len(set(self.entities)) != len(self.entities):
            raise ValueError(f"entities {self.entities} names an entity twice: list each once")
        return self


class FeatureService(_Spec):
    """The features one model reads: whole feature views, in order. A model names it in `features.service`."""

    name: Identifier
    feature_views: list[Identifier] = Field(min_length=1)


class Materialization(_Spec):
    """Copies the newest feature values from the offline data into the online store, on a schedule
    (a CronJob in the cluster, the supervisor in standalone)."""

    schedule: CronSchedule = "*/30 * * * *"
    resources: Resources = Resources(
        requests=ResourceList(cpu="100m", memory="384Mi"),
        limits=ResourceList(cpu="1", memory="1Gi"),
    )
    timeout_minutes: int = Field(default=30, ge=1, le=24 * 60, description="a run still going is stopped")


class FeatureServer(_Spec):
    """Feast's own feature server (`feast serve`) in the tenant's namespace, for clients other than the
    model servers (which read the online store directly, ADR 0018)."""

    resources: Resources = Resources(
        requests=ResourceList(cpu="50m", memory="256Mi"),
        limits=ResourceList(cpu="500m", memory="512Mi"),
    )


class TenantFeatures(_Spec):
    """A tenant's Feast project: entities, feature views and feature services (docs/features.md)."""

    entities: list[Entity] = Field(min_length=1)
    feature_views: list[FeatureView] = Field(min_length=1)
    feature_services: list[FeatureService] = Field(default_factory=list)
    materialization: Materialization = Materialization()
    server: FeatureServer = FeatureServer()
    storage: StorageQuantity = Field(default="1Gi", description="the volume holding the offline (Parquet) data")

    def entity(self, name: str) -> Entity:
        return next(e for e in self.entities if e.name == name)

    def view(self, name: str) -> FeatureView:
        return next(v for v in self.feature_views if v.name == name)

    def service(self, name: str) -> FeatureService | None:
        return next((s for s in self.feature_services if s.name == name), None)

    def service_features(self, name: str) -> list[tuple[FeatureView, Feature]]:
        """Every (view, feature) a service reads, in order: the model's input columns."""
        service = self.service(name)
        if service is None:
            raise KeyError(name)
        return [(self.view(v), f) for v in service.feature_views for f in self.view(v).features]

    @model_validator(mode="after")
    def _references_resolve(self) -> TenantFeatures:
        for kind, items in (
            ("entities", self.entities),
            ("featureViews", self.feature_views),
            ("featureServices", self.feature_services),
        ):
            index = repeated([item.name for item in items])
            if index is not None:
                raise ValueError(
                    f"{kind}[{index}].name: {items[index].name!r} is declared twice: names are unique in {kind}"
                )
        keys: dict[str, str] = {}
        for index, entity in enumerate(self.entities):
            if entity.key in keys:
                raise ValueError(
                    f"entities[{index}].joinKey: {entity.key!r} is already the join key of entity "
                    f"{keys[entity.key]!r}: give each entity its own"
                )
            keys[entity.key] = entity.name
        entities = {e.name for e in self.entities}
        for index, view in enumerate(self.feature_views):
            for e_index, name in enumerate(view.entities):
                if name not in entities:
                    raise ValueError(
                        f"featureViews[{index}].entities[{e_index}]: no entity {name!r}; declared entities: "
                        f"{sorted(entities)}"
                    )
            reserved = {self.entity(e).key for e in view.entities if e in entities} | {view.source.timestamp_field}
            clash = {f.name for f in view.features} & reserved
            if clash:
                raise ValueError(
                    f"featureViews[{index}].features: {sorted(clash)} is a join key or the timestamp field, "
                    "not a feature: rename the feature"
                )
        views = {v.name: v for v in self.feature_views}
        for index, service in enumerate(self.feature_services):
            for v_index, name in enumerate(service.feature_views):
                if name not in views:
                    raise ValueError(
                        f"featureServices[{index}].featureViews[{v_index}]: no feature view {name!r}; declared "
                        f"views: {sorted(views)}"
                    )
            if len(set(service.feature_views)) != len(service.feature_views):
                raise ValueError(f"featureServices[{index}].featureViews: a view is listed twice: list each once")
            entity_sets = {tuple(sorted(views[v].entities)) for v in service.feature_views}
            if len(entity_sets) > 1:
                raise ValueError(
                    f"featureServices[{index}].featureViews: the views use different entities "
                    f"({sorted(entity_sets)}): a request carries one entity key, so a service's views must share "
                    "their entities"
                )
            names = [f.name for v in service.feature_views for f in views[v].features]
            duplicates = sorted({n for n in names if names.count(n) > 1})
            if duplicates:
                raise ValueError(
                    f"featureServices[{index}].featureViews: feature {duplicates[0]!r} is in two of its views: "
                    "feature names become the model's input columns, so they are unique in a service"
                )
        return self


class ModelFeatures(_Spec):
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


class Model(_Spec):
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

    @model_validator(mode="after")
    def _aliases_distinct(self) -> Model:
        if self.canary_weight and self.alias == self.challenger_alias:
            raise ValueError(f"alias and challengerAlias are both {self.alias!r}: the challenger needs its own alias")
        return self

    @model_validator(mode="after")
    def _retrained_versions_need_a_canary(self) -> Model:
        if self.training is not None and not self.canary_weight:
            raise ValueError(
                "training: a retrained version becomes the challenger at canaryWeight, which is 0: "
                "set canaryWeight (e.g. 10) so the challenger gets a share of traffic"
            )
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


class BatchJob(_Spec):
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


class Tenant(_Spec):
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


# pg_dump runs at most this often: below it, WAL archiving carries the RPO (ADR 0012).
DUMP_MIN_RPO_MINUTES = 15


class BackupSettings(_Spec):
    """Backups of the registry database, on a volume of their own.

    With `rpoMinutes` set, the pg_dump schedule is derived from it (a 15-minute RPO dumps every 15
    minutes); otherwise `schedule` (default nightly) is used. An RPO under 15 minutes turns on WAL
    archiving as well: every finished WAL segment is archived, at least every `rpoMinutes`, and a
    base backup for point-in-time recovery is taken on `schedule`.
    """

    schedule: str = "0 2 * * *"
    rpo_minutes: int | None = Field(default=None, ge=5, le=1440)
    retention: int = Field(default=7, ge=1, le=1000, description="backups kept")
    storage: StorageQuantity = "2Gi"
    storage_class: str | None = Field(
        default=None,
        description="StorageClass of the backup volume (None: the cluster's default); name one on other disks "
        "than the database's so one failure cannot take both",
    )

    @field_validator("storage_class")
    @classmethod
    def _storage_class(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?", value):
            raise ValueError(
                f"{value!r} is not a StorageClass name: use lowercase letters, digits, '-' and '.' "
                '(e.g. "backup-hdd"), or leave it out for the cluster\'s default class'
            )
        return value

    @field_validator("schedule")
    @classmethod
    def _cron(cls, schedule: str) -> str:
        if len(schedule.split()) != 5:
            raise ValueError(f'{schedule!r} is not a 5-field cron schedule (e.g. "0 2 * * *")')
        return schedule

    @property
    def wal_archiving(self) -> bool:
        return self.rpo_minutes is not None and self.rpo_minutes < DUMP_MIN_RPO_MINUTES

    @property
    def effective_schedule(self) -> str:
        """The pg_dump CronJob's schedule."""
        if self.rpo_minutes is None:
            return self.schedule
        minutes = max(self.rpo_minutes, DUMP_MIN_RPO_MINUTES)
        if minutes < 60:
            return f"*/{minutes} * * * *"
        return f"0 */{max(1, minutes // 60)} * * *"


class RegistrySettings(_Spec):
    """The MLflow tracking and registry server and its PostgreSQL database."""

    replicas: int = Field(default=1, ge=1, le=5)
    server: Resources = Resources(
        requests=ResourceList(cpu="100m", memory="384Mi"),
        limits=ResourceList(cpu="1", memory="1Gi"),
    )
    database: Resources = Resources(
        requests=ResourceList(cpu="100m", memory="256Mi"),
        limits=ResourceList(cpu="1", memory="512Mi"),
    )
    database_storage: StorageQuantity = "2Gi"
    artifact_storage: StorageQuantity = "5Gi"
    backup: BackupSettings = BackupSettings()


class SloSettings(_Spec):
    """Service-level objectives every model server is held to (alert rules are generated from them)."""

    availability: float = Field(default=0.99, gt=0.5, lt=1, description="share of requests that must not fail")
    latency_seconds: float = Field(default=0.25, gt=0, le=60, description="the latency threshold")
    latency_target: float = Field(default=0.99, gt=0.5, lt=1, description="share of requests under the threshold")
    drift_psi: float = Field(default=0.2, gt=0, le=10, description="per-feature PSI above which drift alerts")


class MonitoringSettings(_Spec):
    retention: str = "7d"
    slo: SloSettings = SloSettings()
    storage: StorageQuantity = "2Gi"
    prometheus: Resources = Resources(
        requests=ResourceList(cpu="100m", memory="384Mi"),
        limits=ResourceList(cpu="1", memory="1Gi"),
    )
    alertmanager: Resources = Resources(
        requests=ResourceList(cpu="25m", memory="48Mi"),
        limits=ResourceList(cpu="200m", memory="128Mi"),
    )
    grafana: Resources = Resources(
        requests=ResourceList(cpu="50m", memory="128Mi"),
        limits=ResourceList(cpu="500m", memory="256Mi"),
    )

    @field_validator("retention")
    @classmethod
    def _duration(cls, value: str) -> str:
        if not re.fullmatch(r"\d+[smhdwy]", value):
            raise ValueError(f'{value!r} is not a Prometheus duration (e.g. "7d" or "12h")')
        return value


Enforcement = Literal["mandatory", "advisory", "disabled"]


# A registry prefix as images spell it: a host (optionally with a port), optionally followed by a
# repository path. `mlops-platform` matches the platform's own image, built and loaded into kind.
_REGISTRY_PREFIX = re.compile(r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]+)?(/[a-z0-9._-]+)*$")


class PolicySettings(_Spec):
    """How the policy gates enforce: a default level, per-rule overrides, the allowed registries.

    Rule ids are those of `policies/catalog.py` (docs/policies.md lists them). An image is from an
    allowed registry when its reference, as written, starts with an entry followed by `/`.
    """

    default_enforcement: Enforcement = "mandatory"
    enforcement: dict[str, Enforcement] = Field(default_factory=dict)
    allowed_registries: list[str] = Field(
        default_factory=lambda: ["docker.io", "quay.io", "registry.k8s.io", "ghcr.io", "mlops-platform"],
        min_length=1,
    )

    @field_validator("enforcement")
    @classmethod
    def _known_rules(cls, enforcement: dict[str, str]) -> dict[str, str]:
        for rule in enforcement:
            if rule not in RULE_IDS:
                close = difflib.get_close_matches(rule, RULE_IDS, n=1)
                hint = f"did you mean {close[0]!r}? " if close else ""
                raise ValueError(f"unknown rule {rule!r}: {hint}known rules: {', '.join(RULE_IDS)}")
        return enforcement

    @field_validator("allowed_registries")
    @classmethod
    def _registry_prefixes(cls, registries: list[str]) -> list[str]:
        for registry in registries:
            if not _REGISTRY_PREFIX.match(registry):
                raise ValueError(
                    f"{registry!r} is not a registry prefix: write a lowercase host with an optional port and "
                    'path, without a scheme or a trailing "/" (e.g. "quay.io" or "ghcr.io/my-org")'
                )
        return registries


class CostSettings(_Spec):
    """Unit prices for showback. Defaults are typical on-demand cloud prices, per hour."""

    currency: str = "USD"
    cpu_core_hour: float = Field(default=0.0316, ge=0)
    memory_gib_hour: float = Field(default=0.0042, ge=0)
    storage_gib_month: float = Field(default=0.10, ge=0)


class Platform(_Spec):
    """Settings of the shared platform services."""

    image: ImageRef = ImageRef()
    ha: bool = Field(default=False, description="replicas, PDBs and anti-affinity for platform services")
    registry: RegistrySettings = RegistrySettings()
    monitoring: MonitoringSettings = MonitoringSettings()
    policy: PolicySettings = PolicySettings()
    costs: CostSettings = CostSettings()


class Metadata(_Spec):
    name: DnsName
    description: str = ""


class Blueprint(_Spec):
    """A whole platform: the document a `blueprints/*.yaml` file holds."""

    api_version: Literal["mlops-platform/v1"] = Field(alias="apiVersion")
    kind: Literal["Blueprint"]
    metadata: Metadata
    platform: Platform = Platform()
    tenants: list[Tenant] = Field(min_length=1)

    @model_validator(mode="after")
    def _names_unique(self) -> Blueprint:
        # Raised with the full field path, so the message points at the second declaration.
        index = repeated([t.name for t in self.tenants])
        if index is not None:
            raise ValueError(
                f"tenants[{index}].name: tenant {self.tenants[index].name!r} is declared twice: "
                "tenant names are unique (they are namespace names)"
            )
        for index, tenant in enumerate(self.tenants):
            m_index = repeated([m.name for m in tenant.models])
            if m_index is not None:
                raise ValueError(
                    f"tenants[{index}].models[{m_index}].name: model {tenant.models[m_index].name!r} is declared "
                    "twice: model names are unique in a tenant"
                )
            jobs_seen = {f"{m.name}-training" for m in tenant.models if m.training}
            for b_index, job in enumerate(tenant.batch):
                if job.name in jobs_seen:
                    raise ValueError(
                        f"tenants[{index}].batch[{b_index}].name: {job.name!r} is already a CronJob name in "
                        "this tenant (batch jobs, and <model>-training for trained models): pick another name"
                    )
                jobs_seen.add(job.name)
        return self

    @model_validator(mode="after")
    def _ha_registry_has_a_spare(self) -> Blueprint:
        registry = self.platform.registry
        if self.platform.ha and registry.replicas < 2:
            raise ValueError(
                f"platform.registry.replicas: {registry.replicas} with platform.ha: true leaves the registry "
                "without a spare (a drained node takes it down): set replicas to 2 or more, or ha: false"
            )
        return self

    @model_validator(mode="after")
    def _model_names_unique_per_registry(self) -> Blueprint:
        # Registered model names are global in an MLflow server: two tenants of the shared registry
        # declaring one name would share (and overwrite) one model. ADR 0017.
        owners: dict[str, str] = {}
        for index, tenant in enumerate(self.tenants):
            if tenant.registry != "shared":
                continue
            for m_index, model in enumerate(tenant.models):
                if model.name in owners:
                    raise ValueError(
                        f"tenants[{index}].models[{m_index}].name: model {model.name!r} is already declared by "
                        f"tenant {owners[model.name]!r}, and registered model names are global in the shared "
                        f"registry: rename it (e.g. {tenant.name}-{model.name}), or give tenant {tenant.name!r} "
                        "registry: dedicated"
                    )
                owners[model.name] = tenant.name
        return self

    @model_validator(mode="after")
    def _model_features_resolve(self) -> Blueprint:
        for index, tenant in enumerate(self.tenants):
            for m_index, model in enumerate(tenant.models):
                if model.features is None:
                    continue
                where = f"tenants[{index}].models[{m_index}].features"
                store = tenant.features
                if store is None:
                    raise ValueError(
                        f"{where}.service: tenant {tenant.name!r} declares no feature store: add features "
                        "(entities, featureViews, featureServices) to the tenant, or remove the model's features"
                    )
                if store.service(model.features.service) is None:
                    known = [s.name for s in store.feature_services]
                    raise ValueError(
                        f"{where}.service: no feature service {model.features.service!r} in tenant "
                        f"{tenant.name!r}; declared services: {known}"
                    )
                names = [f.name for _, f in store.service_features(model.features.service)]
                if model.features.defaults and set(model.features.defaults) != set(names):
                    missing = sorted(set(names) - set(model.features.defaults))
                    extra = sorted(set(model.features.defaults) - set(names))
                    raise ValueError(
                        f"{where}.defaults: give exactly one value per feature of service "
                        f"{model.features.service!r} ({', '.join(names)})"
                        + (f"; missing {missing}" if missing else "")
                        + (f"; not in the service: {extra}" if extra else "")
                    )
                if model.training is not None:
                    raise ValueError(
                        f"{where}: model {model.name!r} has training too, and the training trigger's runs do not "
                        "mount the feature store yet: train it with get_historical_features (docs/features.md) "
                        "and remove training, or drop features"
                    )
        return self

    @model_validator(mode="after")
    def _training_uses_the_shared_registry(self) -> Blueprint:
        for index, tenant in enumerate(self.tenants):
            for m_index, model in enumerate(tenant.models):
                if model.training is not None and tenant.registry == "dedicated":
                    raise ValueError(
                        f"tenants[{index}].models[{m_index}].training: the training trigger works with the shared "
                        f"registry, and tenant {tenant.name!r} has a dedicated one: remove training, or use "
                        "registry: shared"
                    )
        return self

    @model_validator(mode="after")
    def _models_fit_quotas(self) -> Blueprint:
        for index, tenant in enumerate(self.tenants):
            cpu, memory, pods = tenant_peak_limits(tenant, self.platform)
            quota_cpu, quota_mem = parse_quantity(tenant.quotas.cpu), parse_quantity(tenant.quotas.memory)
            where = f"tenants[{index}].quotas"
            if cpu > quota_cpu:
                raise ValueError(
                    f"{where}.cpu: {tenant.quotas.cpu!r} is less than the {_fmt(cpu)} CPU the tenant's workloads "
                    "may use at max replicas (limits): raise the quota or lower replicas.max or limits.cpu"
                )
            if memory > quota_mem:
                raise ValueError(
                    f"{where}.memory: {tenant.quotas.memory!r} is less than the {_fmt(memory / 2**20)}Mi the "
                    "tenant's workloads may use at max replicas (limits): raise the quota or lower replicas.max "
                    "or limits.memory"
                )
            storage = sum((parse_quantity(job.storage) for job in tenant.batch), Decimal(0))
            if tenant.features is not None:
                storage += parse_quantity(tenant.features.storage)
            if storage > parse_quantity(tenant.quotas.storage):
                raise ValueError(
                    f"{where}.storage: {tenant.quotas.storage!r} is less than the {_fmt(storage / 2**30)}Gi the "
                    "tenant's batch jobs and feature data claim for their volumes: raise the quota or lower "
                    "batch[].storage or features.storage"
                )
            if pods > tenant.quotas.pods:
                raise ValueError(
                    f"{where}.pods: {tenant.quotas.pods} is less than the {pods} pods the tenant's workloads may "
                    "run at max replicas: raise the quota or lower replicas.max"
                )
        return self

    def tenant(self, name: str) -> Tenant:
        for tenant in self.tenants:
            if tenant.name == name:
                return tenant
        raise KeyError(name)


def tenant_peak_limits(tenant: Tenant, platform: Platform) -> tuple[Decimal, Decimal, int]:
    """CPU cores, memory bytes and pods a tenant's namespace may hold at peak, counted by limits.

    Counts each model at max replicas plus one surge pod per Deployment (rolling updates), one training
    run per trained model, one run per batch job, and a dedicated registry (MLflow server, PostgreSQL,
    the backup and restore jobs) when the tenant has one: a restore must never be refused by the quota
    in the middle of an incident.
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
    for job in tenant.batch:  # concurrencyPolicy Forbid: one run per batch job at a time
        cpu += job.resources.limits.cores()
        memory += job.resources.limits.bytes()
        pods += 1
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


def _fmt(value: Decimal) -> str:
    return f"{value.normalize():f}"
