"""FeatureStore: one tenant's Feast project: its database, repository, feature server and materialization.

Everything is generated from the tenant's `features` in the blueprint (services/features/), in four
parts: the database and role on the platform's PostgreSQL (database.py); the Feast repository
(feature_store.yaml + features.py, repo.py: SQL registry and online store in that database, the password
expanded from the environment) in the `feature-repo` ConfigMap with the offline data volume
`feature-data` (Parquet sources, mounted at /data), both created here; Feast's feature server
(server.py); and the materialization CronJob (materialization.py). The parts share the store's Pulumi
name, so every object keeps the name it had before the split. The model servers read the online tables
directly (ADR 0018); ModelService wires them.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from blueprints.naming import SYSTEM_NAMESPACE, personal_data_annotation
from blueprints.schema import ImageRef, TenantFeatures
from blueprints.schema import Tenant as TenantSpec
from infra import images
from infra.components.feature_store.database import FeatureDatabase, FeatureDatabaseArgs
from infra.components.feature_store.materialization import FeatureMaterialization, FeatureMaterializationArgs
from infra.components.feature_store.server import FeatureServer, FeatureServerArgs
from infra.components.feature_store.shared import (
    CREDENTIALS,
    MATERIALIZATION_COMPONENT,
    REPO_DIR,
    SERVER,
    SERVER_COMPONENT,
    credentials_env,
    database_host,
    feature_server_selector,
    labels,
)
from infra.k8s import claim_metadata, metadata
from services.features.names import database_role
from services.features.repo import cluster_store, feature_repo

__all__ = [
    "FeatureStore",
    "FeatureStoreArgs",
    "CREDENTIALS",
    "SERVER",
    "SERVER_COMPONENT",
    "MATERIALIZATION_COMPONENT",
    "REPO_DIR",
    "database_host",
    "credentials_env",
    "feature_server_selector",
]


def personal_data_annotations(features: TenantFeatures) -> dict[str, str] | None:
    """The feature-data volume's declaration of the personal data it holds, one annotation per personal
    view (blueprints/naming.py); the deploy gate's personal-data-governed rule reads it. None without any."""
    annotations = {}
    for view in features.feature_views:
        if view.classification.pii:
            key, value = personal_data_annotation(
                view.name,
                purpose=view.classification.purpose,
                retention=view.classification.retention,
                subjects=[features.entity(e).name for e in view.entities if features.entity(e).subject],
            )
            annotations[key] = value
    return annotations or None


@dataclass(frozen=True)
class FeatureStoreArgs:
    tenant: TenantSpec
    namespace: str  # the tenant's
    image: ImageRef
    pushgateway_url: str
    database_namespace: str = SYSTEM_NAMESPACE
    mirror: str | None = None  # platform.imageMirror: pull the database job's image from it


class FeatureStore(pulumi.ComponentResource):
    """A tenant's database, Feast repository, feature server and materialization CronJob."""

    def __init__(self, name: str, args: FeatureStoreArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops-platform:platform:FeatureStore", name, None, opts)
        spec, ns, image = args.tenant, args.namespace, args.image
        features = spec.features
        if features is None:
            raise ValueError(f"tenant {spec.name!r} declares no features")
        database = FeatureDatabase(
            name,
            FeatureDatabaseArgs(
                spec.name, ns, args.database_namespace, image, images.deployed(images.POSTGRES, args.mirror)
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        store = cluster_store(spec.name, database_host(args.database_namespace))
        repo = feature_repo(spec, store)
        repo_labels = labels("feature-store", "feature-repo", spec.name, image)
        config = k8s.core.v1.ConfigMap(
            f"{name}-repo",
            metadata=metadata("feature-repo", ns, repo_labels),
            data=repo,
            opts=pulumi.ResourceOptions(parent=self),
        )
        data = k8s.core.v1.PersistentVolumeClaim(
            f"{name}-data",
            metadata=claim_metadata("feature-data", ns, repo_labels, personal_data_annotations(features)),
            spec={"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": str(features.storage)}}},
            opts=pulumi.ResourceOptions(parent=self),
        )
        FeatureServer(
            name,
            FeatureServerArgs(spec.name, ns, image, features, repo),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[database.credentials, config]),
        )
        FeatureMaterialization(
            name,
            FeatureMaterializationArgs(spec.name, ns, image, features.materialization, args.pushgateway_url),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[database.credentials, config, data]),
        )
        self.online_store_url = store.online_url
        role = database_role(spec.name)
        self.register_outputs({"database": role, "feature_server": SERVER, "online_store": store.online_url})
