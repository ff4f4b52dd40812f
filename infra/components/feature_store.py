"""FeatureStore: one tenant's Feast project: its database, repository, feature server and materialization.

Everything is generated from the tenant's `features` in the blueprint (services/features/):
- a database and a role of its own on the platform's PostgreSQL (the registry's), created by a Job in
  the platform namespace that runs services/features/feature-store.sql as the database's superuser,
  named after the script and the tenant so a change is a new Job; Pulumi does not wait for it
  (`pulumi.com/skipAwait`). The role's password is generated once (ADR 0002) into `feast-credentials`
  in the tenant's namespace, with a copy beside the Job; no other tenant's role may connect to it;
- the Feast repository (feature_store.yaml + features.py, repo.py) in the `feature-repo` ConfigMap:
  SQL registry and online store in that database, the password expanded from the environment;
- the offline data volume `feature-data` (Parquet sources, mounted at /data);
- Feast's feature server (`feast serve`, one worker) from the platform image, after `feast apply` in
  an init container, behind a Service that only the tenant's own pods may reach (tenant.py);
- a materialization CronJob on the blueprint's schedule (`mlplat features materialize`, the command
  standalone schedules), pushing its outcome to the Pushgateway.
The model servers read the online tables directly (ADR 0018); ModelService wires them.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from blueprints.naming import SYSTEM_NAMESPACE, Ports, personal_data_annotation, selector_labels, standard_labels
from blueprints.schema import ImageRef, TenantFeatures
from blueprints.schema import Tenant as TenantSpec
from infra import images
from infra.components.tenant import SERVING_SERVICE_ACCOUNT
from infra.k8s import (
    config_hash,
    http_probe,
    metadata,
    resources,
    restricted_container_security,
    restricted_pod_security,
    run_to_completion,
    scratch_volume,
)
from services.features.database import SCRIPT, psql_args
from services.features.names import DATA_DIR, database_role
from services.features.repo import PASSWORD_ENV, cluster_store, feature_repo, materialize_args
from services.registry import DATABASE

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

CREDENTIALS = "feast-credentials"
SERVER = "feature-server"
SERVER_COMPONENT = "feature-server"
MATERIALIZATION_COMPONENT = "feature-materialization"
REPO_DIR = "/etc/feast/repo"
USER_ENV = "FEAST_DB_USER"


def database_host(namespace: str = SYSTEM_NAMESPACE) -> str:
    """The platform's PostgreSQL, where every tenant's feature store has its database."""
    return f"{DATABASE}.{namespace}.svc"


def credentials_env() -> list[dict]:
    """The tenant's database login, for the pods that read or write its feature store."""
    return [
        {"name": name, "valueFrom": {"secretKeyRef": {"name": CREDENTIALS, "key": name}}}
        for name in (USER_ENV, PASSWORD_ENV)
    ]


def feature_server_selector(tenant: str) -> dict[str, str]:
    return selector_labels(SERVER, tenant)


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


class FeatureStore(pulumi.ComponentResource):
    """A tenant's database, Feast repository, feature server and materialization CronJob."""

    def __init__(self, name: str, args: FeatureStoreArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops-platform:platform:FeatureStore", name, None, opts)
        spec, ns = args.tenant, args.namespace
        features = spec.features
        if features is None:
            raise ValueError(f"tenant {spec.name!r} declares no features")
        child = pulumi.ResourceOptions(parent=self)
        keep = pulumi.ResourceOptions(parent=self, ignore_changes=["stringData", "data"])  # generated once

        def labels(app: str, component: str) -> dict[str, str]:
            return standard_labels(app, spec.name, component, version=args.image.tag, tenant=spec.name)

        # --- the database, on the platform's PostgreSQL ------------------------------------------
        password = pulumi.Output.secret(secrets.token_urlsafe(24))
        role = database_role(spec.name)
        db_labels = standard_labels("feature-store-database", spec.name, "feature-store-database", tenant=spec.name)
        credentials = k8s.core.v1.Secret(
            f"{name}-credentials",
            metadata=metadata(CREDENTIALS, ns, labels("feature-store", "credentials")),
            type="Opaque",
            string_data={USER_ENV: role, PASSWORD_ENV: password},
            opts=keep,
        )
        copy = k8s.core.v1.Secret(
            f"{name}-database-password",
            metadata=metadata(f"feast-db-{spec.name}", args.database_namespace, db_labels),
            type="Opaque",
            string_data={PASSWORD_ENV: password},
            opts=keep,
        )
        script = SCRIPT.read_text(encoding="utf-8")
        sql = k8s.core.v1.ConfigMap(
            f"{name}-database-script",
            metadata=metadata(f"feast-db-{spec.name}", args.database_namespace, db_labels),
            data={SCRIPT.name: script},
            opts=child,
        )
        command = psql_args(spec.name, f"/sql/{SCRIPT.name}")
        digest = hashlib.sha256("\0".join([script, *command]).encode()).hexdigest()[:10]
        superuser = [
            {"name": env, "valueFrom": {"secretKeyRef": {"name": f"{DATABASE}-credentials", "key": key}}}
            for env, key in (("PGUSER", "POSTGRES_USER"), ("PGPASSWORD", "POSTGRES_PASSWORD"))
        ]
        k8s.batch.v1.Job(
            f"{name}-database",
            metadata=metadata(
                f"feast-db-{spec.name}-{digest}",
                args.database_namespace,
                db_labels,
                {"pulumi.com/skipAwait": "true"},  # it waits for the database itself (backoffLimit)
            ),
            spec=run_to_completion(
                db_labels,
                images.POSTGRES_UID,
                [
                    {
                        "name": "create-database",
                        "image": images.POSTGRES,
                        "command": command,
                        "env": [
                            *superuser,
                            {"name": "PGHOST", "value": DATABASE},
                            {"name": "PGPORT", "value": str(Ports.POSTGRES)},
                            {"name": "PGDATABASE", "value": "postgres"},
                            {
                                "name": PASSWORD_ENV,
                                "valueFrom": {"secretKeyRef": {"name": f"feast-db-{spec.name}", "key": PASSWORD_ENV}},
                            },
                        ],
                        "resources": {
                            "requests": {"cpu": "10m", "memory": "32Mi"},
                            "limits": {"cpu": "200m", "memory": "128Mi"},
                        },
                        "securityContext": restricted_container_security(),
                        "volumeMounts": [
                            {"name": "sql", "mountPath": "/sql", "readOnly": True},
                            {"name": "tmp", "mountPath": "/tmp"},
                        ],
                    }
                ],
                [
                    {"name": "sql", "configMap": {"name": f"feast-db-{spec.name}"}},
                    scratch_volume("tmp", "16Mi"),
                ],
                backoff_limit=6,
                deadline_seconds=1800,
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[copy, sql]),
        )

        # --- the repository and the offline data -------------------------------------------------
        store = cluster_store(spec.name, database_host(args.database_namespace))
        repo = feature_repo(spec, store)
        repo_labels = labels("feature-store", "feature-repo")
        config = k8s.core.v1.ConfigMap(
            f"{name}-repo", metadata=metadata("feature-repo", ns, repo_labels), data=repo, opts=child
        )
        data = k8s.core.v1.PersistentVolumeClaim(
            f"{name}-data",
            metadata=metadata("feature-data", ns, repo_labels, personal_data_annotations(features)),
            spec={"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": str(features.storage)}}},
            opts=child,
        )
        env = [*credentials_env(), {"name": "HOME", "value": "/tmp"}]
        repo_mount = {"name": "repo", "mountPath": REPO_DIR, "readOnly": True}
        repo_volume = {"name": "repo", "configMap": {"name": "feature-repo"}}
        after = pulumi.ResourceOptions(parent=self, depends_on=[credentials, config])

        # --- Feast's feature server ---------------------------------------------------------------
        server_labels = labels(SERVER, SERVER_COMPONENT)
        select = feature_server_selector(spec.name)

        def container(container_name: str, args_: list[str], **extra) -> dict:
            return {
                "name": container_name,
                "image": args.image.ref,
                "command": ["mlplat"],
                "args": args_,
                "env": env,
                "resources": resources(features.server.resources),
                "securityContext": restricted_container_security(),
                "volumeMounts": [repo_mount, {"name": "tmp", "mountPath": "/tmp"}],
                **extra,
            }

        k8s.apps.v1.Deployment(
            f"{name}-server",
            metadata=metadata(SERVER, ns, server_labels),
            spec={
                "replicas": 1,
                "selector": {"matchLabels": select},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
                "template": {
                    # a changed repository rolls the pods (the init container applies it first)
                    "metadata": {"labels": server_labels, "annotations": config_hash(*repo.values())},
                    "spec": {
                        "serviceAccountName": SERVING_SERVICE_ACCOUNT,
                        "automountServiceAccountToken": False,
                        "securityContext": restricted_pod_security(images.PLATFORM_UID),
                        "initContainers": [container("apply", ["features", "apply", "--repo", REPO_DIR])],
                        "containers": [
                            container(
                                "feature-server",
                                [
                                    "features",
                                    "serve",
                                    "--repo",
                                    REPO_DIR,
                                    "--host",
                                    "0.0.0.0",
                                    "--port",
                                    str(Ports.FEATURE_SERVER),
                                ],
                                ports=[{"name": "http", "containerPort": Ports.FEATURE_SERVER}],
                                readinessProbe=http_probe("/health", "http", period=10),
                                livenessProbe=http_probe("/health", "http", period=20, failure=6, initial_delay=30),
                            )  # fmt: skip
                        ],
                        "volumes": [repo_volume, scratch_volume("tmp", "256Mi")],
                    },
                },
            },
            opts=after,
        )
        k8s.core.v1.Service(
            f"{name}-server-service",
            metadata=metadata(SERVER, ns, server_labels),
            spec={"selector": select, "ports": [{"name": "http", "port": Ports.FEATURE_SERVER, "targetPort": "http"}]},
            opts=child,
        )

        # --- materialization ------------------------------------------------------------------------
        run = features.materialization
        run_labels = labels("feature-materialize", MATERIALIZATION_COMPONENT)
        k8s.batch.v1.CronJob(
            f"{name}-materialize",
            metadata=metadata("feature-materialize", ns, run_labels),
            spec={
                "schedule": run.schedule,
                "timeZone": "Etc/UTC",  # schedules mean UTC, as in standalone
                "concurrencyPolicy": "Forbid",
                "startingDeadlineSeconds": 600,
                "successfulJobsHistoryLimit": 3,
                "failedJobsHistoryLimit": 3,
                "jobTemplate": {
                    "metadata": {"labels": run_labels},
                    "spec": run_to_completion(
                        run_labels,
                        images.PLATFORM_UID,
                        [
                            {
                                "name": "materialize",
                                "image": args.image.ref,
                                "command": ["mlplat"],
                                "args": materialize_args(REPO_DIR, spec.name, run.schedule),
                                "env": [*env, {"name": "MLPLAT_PUSHGATEWAY", "value": args.pushgateway_url}],
                                "resources": resources(run.resources),
                                "securityContext": restricted_container_security(),
                                "volumeMounts": [
                                    repo_mount,
                                    {"name": "data", "mountPath": DATA_DIR, "readOnly": True},
                                    {"name": "tmp", "mountPath": "/tmp"},
                                ],
                            }
                        ],
                        [
                            repo_volume,
                            {"name": "data", "persistentVolumeClaim": {"claimName": "feature-data"}},
                            scratch_volume("tmp", "1Gi"),
                        ],
                        backoff_limit=1,
                        deadline_seconds=run.timeout_minutes * 60,
                        service_account=SERVING_SERVICE_ACCOUNT,
                    ),
                },
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[credentials, config, data]),
        )
        self.online_store_url = store.online_url
        self.register_outputs({"database": role, "feature_server": SERVER, "online_store": store.online_url})
