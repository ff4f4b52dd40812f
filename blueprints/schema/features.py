"""A tenant's feature store (docs/features.md): entities, feature views, feature services and
materialization, declared here once; services/features/ generates the Feast repository, the model
servers' feature specs and the materialization commands from them, so the cluster, standalone and
training read one set of definitions."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StrictBool, model_validator

from blueprints.schema.data import FeatureClassification
from blueprints.schema.fields import CronSchedule, ResourceList, Resources, Spec, StorageQuantity, repeated

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


class Entity(Spec):
    """What features describe (a customer, a flower): its join key is what a request names."""

    name: Identifier
    join_key: Identifier | None = Field(default=None, description="the key column (default: the entity's name)")
    type: EntityType = "int64"
    subject: StrictBool = Field(default=False, description="a person: `mlplat gdpr erase` finds them by the join key")

    @property
    def key(self) -> str:
        return self.join_key or self.name


class Feature(Spec):
    name: Identifier
    type: FeatureType = "float64"


class FeatureSource(Spec):
    """A Parquet file in the tenant's feature data (`/data` in the cluster's pods, `<root>/features/<tenant>/data`
    in standalone): one row per entity and event time."""

    path: Annotated[str, AfterValidator(_parquet_path)]
    timestamp_field: Identifier = "event_timestamp"


class FeatureView(Spec):
    """Features of one or more entities from one source. Online, a value older than `ttl` is stale."""

    name: Identifier
    entities: list[Identifier] = Field(min_length=1)
    source: FeatureSource
    ttl: Duration = "1d"
    features: list[Feature] = Field(min_length=1)
    classification: FeatureClassification = FeatureClassification()

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


class FeatureService(Spec):
    """The features one model reads: whole feature views, in order. A model names it in `features.service`."""

    name: Identifier
    feature_views: list[Identifier] = Field(min_length=1)


class Materialization(Spec):
    """Copies the newest feature values from the offline data into the online store, on a schedule
    (a CronJob in the cluster, the supervisor in standalone)."""

    schedule: CronSchedule = "*/30 * * * *"
    resources: Resources = Resources(
        requests=ResourceList(cpu="100m", memory="384Mi"),
        limits=ResourceList(cpu="1", memory="1Gi"),
    )
    timeout_minutes: int = Field(default=30, ge=1, le=24 * 60, description="a run still going is stopped")


class FeatureServer(Spec):
    """Feast's own feature server (`feast serve`) in the tenant's namespace, for clients other than the
    model servers (which read the online store directly, ADR 0018)."""

    resources: Resources = Resources(
        requests=ResourceList(cpu="50m", memory="256Mi"),
        limits=ResourceList(cpu="500m", memory="512Mi"),
    )


class TenantFeatures(Spec):
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
