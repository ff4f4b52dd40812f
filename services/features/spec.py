"""What a model server needs to turn an entity key into a model's input row: the serving spec.

`feature_specs(tenant)` derives it from the blueprint, for each model of the tenant that names a
feature service: the entity's join keys and their types, the feature views with their online table,
TTL and features, the model's input columns (the service's features, in order), and the blueprint's
choices for a missing entity and for stale values. It travels as JSON (`mlplat serve --features`):
a ConfigMap in the cluster, a file in standalone, both written from this one function, beside the
Feast repository generated from the same definitions (repo.py).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Literal

from services.features.names import online_table, project

if TYPE_CHECKING:  # the model server reads specs without importing the blueprint schema
    from blueprints.schema import Tenant

__all__ = ["ViewSpec", "FeatureSpec", "feature_specs", "specs_to_json", "specs_from_json"]


@dataclass(frozen=True)
class ViewSpec:
    name: str
    table: str  # Feast's online table: `<project>_<view>`
    ttl_seconds: int
    features: tuple[str, ...]


@dataclass(frozen=True)
class FeatureSpec:
    model: str
    service: str
    project: str
    join_keys: tuple[str, ...]  # what a request names, e.g. ("flower_id",)
    key_types: tuple[str, ...]  # "int64" or "string", per join key
    views: tuple[ViewSpec, ...]
    missing_entity: Literal["reject", "default"] = "reject"
    defaults: tuple[float, ...] = ()  # one per feature, in `features` order (missing_entity "default")
    allow_stale: bool = False

    @property
    def features(self) -> tuple[str, ...]:
        """The model's input columns: every view's features, in the service's order."""
        return tuple(f for view in self.views for f in view.features)


def feature_specs(tenant: Tenant) -> dict[str, FeatureSpec]:
    """Model name -> its serving spec, for the tenant's models that read a feature service."""
    store = tenant.features
    out: dict[str, FeatureSpec] = {}
    for model in tenant.models:
        binding = model.features
        if binding is None or store is None:
            continue
        service = store.service(binding.service)
        assert service is not None  # the blueprint validated the reference
        views = tuple(store.view(name) for name in service.feature_views)
        entities = [store.entity(name) for name in views[0].entities]  # a service's views share them
        names = [f.name for view in views for f in view.features]
        out[model.name] = FeatureSpec(
            model=model.name,
            service=service.name,
            project=project(tenant.name),
            join_keys=tuple(e.key for e in entities),
            key_types=tuple(e.type for e in entities),
            views=tuple(
                ViewSpec(v.name, online_table(tenant.name, v.name), v.ttl_seconds, tuple(f.name for f in v.features))
                for v in views
            ),
            missing_entity=binding.missing_entity,
            defaults=tuple(binding.defaults[n] for n in names) if binding.defaults else (),
            allow_stale=binding.allow_stale,
        )
    return out


def specs_to_json(specs: dict[str, FeatureSpec]) -> str:
    return json.dumps({name: asdict(spec) for name, spec in specs.items()}, indent=2, sort_keys=True)


def specs_from_json(text: str) -> dict[str, FeatureSpec]:
    out = {}
    for name, data in json.loads(text).items():
        views = tuple(ViewSpec(v["name"], v["table"], v["ttl_seconds"], tuple(v["features"])) for v in data["views"])
        out[name] = FeatureSpec(
            model=data["model"],
            service=data["service"],
            project=data["project"],
            join_keys=tuple(data["join_keys"]),
            key_types=tuple(data["key_types"]),
            views=views,
            missing_entity=data["missing_entity"],
            defaults=tuple(data["defaults"]),
            allow_stale=data["allow_stale"],
        )
    return out
