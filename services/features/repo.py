"""A tenant's Feast repository, generated from the blueprint: `feature_store.yaml` and `features.py`.

The blueprint is the only place feature definitions are written (blueprints/schema/features.py
`TenantFeatures`). `feature_repo()` turns them into the two files `feast apply` reads, so the
cluster's feature server and materialization, standalone's materialization and training all apply
the same definitions; only where things are stored differs, and that is `StoreConfig`:

- cluster (`cluster_store`): Feast's SQL registry and its PostgreSQL online store, both in the
  tenant's own database on the platform's PostgreSQL; the password is `${FEAST_DB_PASSWORD}`, which
  Feast expands from the environment (a Kubernetes Secret), so the generated files hold no secret
  and live in a ConfigMap; offline data under `/data` (the tenant's feature-data volume);
- standalone (`standalone_store`): the SQL registry and the online store on SQLite files, offline
  data in `<root>/features/<tenant>/data`.

Offline data is Parquet read by Feast's file offline store (dask), one file per feature view: enough
for point-in-time joins at teaching scale; a warehouse offline store is the change for real volumes.
The generated Python names Feast objects `entity_<name>`, `view_<name>` and `service_<name>`, so a
blueprint name can never shadow what the file imports.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from blueprints.naming import Ports
from blueprints.schema import Tenant
from services.features.names import DATA_DIR, database, database_role, project

__all__ = [
    "StoreConfig",
    "cluster_store",
    "standalone_store",
    "standalone_dir",
    "feature_repo",
    "write_repo",
    "materialize_args",
    "PASSWORD_ENV",
    "FEAST_TYPES",
]

PASSWORD_ENV = "FEAST_DB_PASSWORD"
ENTITY_KEY_VERSION = 3  # the serialisation services/features/encoding.py reads
FEAST_TYPES = {"float64": "Float64", "float32": "Float32", "int64": "Int64", "int32": "Int32", "bool": "Bool"}
_VALUE_TYPES = {"int64": "ValueType.INT64", "string": "ValueType.STRING"}


@dataclass(frozen=True)
class StoreConfig:
    """Where a Feast project keeps its registry, online values and offline data."""

    registry: str  # a SQLAlchemy URL: Feast's SQL registry
    online_store: dict  # feature_store.yaml's online_store section
    data_dir: str  # source paths in the blueprint are relative to it
    online_url: str  # the same online store, as the model server's reader connects to it (online.py)


def cluster_store(tenant: str, host: str, port: int = Ports.POSTGRES, data_dir: str = DATA_DIR) -> StoreConfig:
    role, name = database_role(tenant), database(tenant)
    password = "${" + PASSWORD_ENV + "}"
    return StoreConfig(
        registry=f"postgresql+psycopg://{role}:{password}@{host}:{port}/{name}",
        online_store={
            "type": "postgres",
            "host": host,
            "port": port,
            "database": name,
            "db_schema": "public",
            "user": role,
            "password": password,
            "sslmode": "disable",  # in-cluster, like the registry's own connection
        },
        data_dir=data_dir,
        # the model servers' URL, with the password from the environment as Kubernetes expands it
        online_url=f"postgresql://{role}:$({PASSWORD_ENV})@{host}:{port}/{name}",
    )


def standalone_dir(root: Path, tenant: str) -> Path:
    return Path(root) / "features" / tenant


def standalone_store(root: Path, tenant: str) -> StoreConfig:
    folder = standalone_dir(root, tenant).resolve()
    return StoreConfig(
        registry=f"sqlite:///{folder / 'registry.db'}",
        online_store={"type": "sqlite", "path": str(folder / "online.db")},
        data_dir=str(folder / "data"),
        online_url=f"sqlite:///{folder / 'online.db'}",
    )


def feature_repo(tenant: Tenant, store: StoreConfig) -> dict[str, str]:
    """File name -> content of the tenant's Feast repository."""
    if tenant.features is None:
        raise ValueError(f"tenant {tenant.name!r} declares no features")
    config = {
        "project": project(tenant.name),
        "provider": "local",
        "registry": {"registry_type": "sql", "path": store.registry, "cache_ttl_seconds": 60},
        "online_store": dict(store.online_store),
        "offline_store": {"type": "file"},
        "entity_key_serialization_version": ENTITY_KEY_VERSION,
    }
    header = (
        f"# Generated from the blueprint's features of tenant {tenant.name!r} by services/features/repo.py.\n"
        "# Do not edit: change the blueprint. The password comes from the environment.\n"
    )
    return {
        "feature_store.yaml": header + yaml.safe_dump(config, sort_keys=False),
        "features.py": _definitions(tenant, store.data_dir),
    }


def _definitions(tenant: Tenant, data_dir: str) -> str:
    store = tenant.features
    assert store is not None
    types = sorted({FEAST_TYPES[f.type] for view in store.feature_views for f in view.features})
    lines = [
        f'"""Feast definitions of tenant {tenant.name!r}, generated from the blueprint by services/features/repo.py.',
        "",
        "Do not edit: change the tenant's `features` in the blueprint and regenerate.",
        '"""',
        "",
        "from datetime import timedelta",
        "",
        "from feast import Entity, FeatureService, FeatureView, Field, FileSource, ValueType",
        f"from feast.types import {', '.join(types)}",
        "",
    ]
    for entity in store.entities:
        lines.append(
            f"entity_{entity.name} = Entity(name={entity.name!r}, join_keys=[{entity.key!r}], "
            f"value_type={_VALUE_TYPES[entity.type]})"
        )
    for view in store.feature_views:
        path = f"{data_dir.rstrip('/')}/{view.source.path}"
        lines += [
            "",
            f"view_{view.name} = FeatureView(",
            f"    name={view.name!r},",
            f"    entities=[{', '.join(f'entity_{e}' for e in view.entities)}],",
            f"    ttl=timedelta(seconds={view.ttl_seconds}),  # {view.ttl}",
            "    schema=[",
            *(f"        Field(name={f.name!r}, dtype={FEAST_TYPES[f.type]})," for f in view.features),
            "    ],",
            f"    source=FileSource(name={view.name!r}, path={path!r}, "
            f"timestamp_field={view.source.timestamp_field!r}),",
            "    online=True,",
            ")",
        ]
    for service in store.feature_services:
        lines += [
            "",
            f"service_{service.name} = FeatureService(",
            f"    name={service.name!r}, features=[{', '.join(f'view_{v}' for v in service.feature_views)}]",
            ")",
        ]
    return "\n".join(lines) + "\n"


def materialize_args(repo: str, tenant: str, schedule: str) -> list[str]:
    """`mlplat features materialize` for a tenant: the cluster's CronJob and standalone's schedule."""
    return ["features", "materialize", "--repo", repo, "--tenant", tenant, "--schedule", schedule]


def write_repo(files: dict[str, str], folder: Path) -> Path:
    """Write the repository into `folder` (created)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder
