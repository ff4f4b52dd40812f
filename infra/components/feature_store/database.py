"""A tenant's feature-store database: its own database and role on the platform's PostgreSQL.

A Job in the platform namespace runs services/features/feature-store.sql as the database's superuser,
named after the script and the tenant so a change is a new Job; Pulumi does not wait for it
(`pulumi.com/skipAwait`). The role's password is generated once (ADR 0002) into `feast-credentials` in
the tenant's namespace, with a copy beside the Job; no other tenant's role may connect to it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from blueprints.naming import Ports, standard_labels
from blueprints.schema import ImageRef
from infra import images
from infra.component import SubComponent
from infra.components.feature_store.shared import CREDENTIALS, USER_ENV, labels
from infra.k8s import job_name, metadata, restricted_container_security, run_to_completion, scratch_volume
from services.features.database import SCRIPT, psql_args
from services.features.names import database_role
from services.features.repo import PASSWORD_ENV
from services.registry import DATABASE

__all__ = ["FeatureDatabase", "FeatureDatabaseArgs"]


@dataclass(frozen=True)
class FeatureDatabaseArgs:
    tenant: str
    namespace: str  # the tenant's
    database_namespace: str  # the platform's PostgreSQL
    image: ImageRef
    postgres_image: str = images.POSTGRES  # the pinned image, or the same under platform.imageMirror


class FeatureDatabase(SubComponent):
    """The tenant's login (and its copy beside the Job), the script and the Job that applies it."""

    def __init__(self, name: str, args: FeatureDatabaseArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops-platform:platform:FeatureDatabase", name, opts)
        tenant, db_ns = args.tenant, args.database_namespace
        password = pulumi.Output.secret(secrets.token_urlsafe(24))
        db_labels = standard_labels("feature-store-database", tenant, "feature-store-database", tenant=tenant)
        keep = {"ignore_changes": ["stringData", "data"]}  # generated once
        self.credentials = k8s.core.v1.Secret(
            f"{name}-credentials",
            metadata=metadata(CREDENTIALS, args.namespace, labels("feature-store", "credentials", tenant, args.image)),
            type="Opaque",
            string_data={USER_ENV: database_role(tenant), PASSWORD_ENV: password},
            opts=self.child(**keep),
        )
        copy = k8s.core.v1.Secret(
            f"{name}-database-password",
            metadata=metadata(f"feast-db-{tenant}", db_ns, db_labels),
            type="Opaque",
            string_data={PASSWORD_ENV: password},
            opts=self.child(**keep),
        )
        script = SCRIPT.read_text(encoding="utf-8")
        sql = k8s.core.v1.ConfigMap(
            f"{name}-database-script",
            metadata=metadata(f"feast-db-{tenant}", db_ns, db_labels),
            data={SCRIPT.name: script},
            opts=self.child(),
        )
        command = psql_args(tenant, f"/sql/{SCRIPT.name}")
        k8s.batch.v1.Job(
            f"{name}-database",
            metadata=metadata(
                job_name(f"feast-db-{tenant}", script, *command, args.postgres_image),
                db_ns,
                db_labels,
                {"pulumi.com/skipAwait": "true"},  # it waits for the database itself (backoffLimit)
            ),
            spec=run_to_completion(
                db_labels,
                images.POSTGRES_UID,
                [_create_database(tenant, command, args.postgres_image)],
                [{"name": "sql", "configMap": {"name": f"feast-db-{tenant}"}}, scratch_volume("tmp", "16Mi")],
                backoff_limit=6,
                deadline_seconds=1800,
            ),
            opts=self.child(depends_on=[copy, sql]),
        )
        self.register_outputs({"role": database_role(tenant)})


def _create_database(tenant: str, command: list[str], image: str) -> dict:
    superuser = [
        {"name": env, "valueFrom": {"secretKeyRef": {"name": f"{DATABASE}-credentials", "key": key}}}
        for env, key in (("PGUSER", "POSTGRES_USER"), ("PGPASSWORD", "POSTGRES_PASSWORD"))
    ]
    return {
        "name": "create-database",
        "image": image,
        "command": command,
        "env": [
            *superuser,
            {"name": "PGHOST", "value": DATABASE},
            {"name": "PGPORT", "value": str(Ports.POSTGRES)},
            {"name": "PGDATABASE", "value": "postgres"},
            {"name": PASSWORD_ENV, "valueFrom": {"secretKeyRef": {"name": f"feast-db-{tenant}", "key": PASSWORD_ENV}}},
        ],
        "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"cpu": "200m", "memory": "128Mi"}},
        "securityContext": restricted_container_security(),
        "volumeMounts": [{"name": "sql", "mountPath": "/sql", "readOnly": True}, {"name": "tmp", "mountPath": "/tmp"}],
    }
