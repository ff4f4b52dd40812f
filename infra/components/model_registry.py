"""ModelRegistry: MLflow tracking and registry server on PostgreSQL, with backups.

- PostgreSQL runs as a one-replica StatefulSet with its own PVC. Its password is generated at the
  first `pulumi up` into a Secret and never appears in code or config; `ignore_changes` keeps it
  stable across updates (rotate by deleting the Secret and running `pulumi up`).
- The MLflow server runs MLflow's authentication app (`mlplat registry server`, ADR 0017): an admin
  password and a CSRF key generated into the `mlflow-admin` Secret, users and grants in the same
  database (so backups carry them); RegistryAccess creates the users.
- The MLflow server runs from the platform image with proxied artifact storage
  (`--serve-artifacts`): clients talk only HTTP to MLflow and never need storage credentials;
  artifacts land on a PVC (see the ADR on PVC vs object store).
- A backup CronJob runs `services/registry/backup.sh` (pg_dump, custom format, verified and
  checksummed) onto a separate backup PVC, on its own StorageClass when the blueprint names one,
  with retention. Its schedule comes from the blueprint: nightly, or derived from the RPO
  (`rpoMinutes: 15` -> every 15 minutes). See ADR 0012 and docs/registry-dr.md.
- The restore Job's template is a CronJob that never runs on its own (`suspend: true`):
  `mlplat registry restore --from <backup>` creates a Job from it that runs
  `services/registry/restore.sh` (verify, restore into a fresh database, swap).
- An RPO under 15 minutes adds WAL archiving: PostgreSQL archives every finished WAL segment to the
  backup volume at least every `rpoMinutes` (`archive-wal.sh`), a CronJob takes base backups
  (`base-backup.sh`), and a second template restores to a point in time (`pitr-restore.sh`). The
  backup volume is then mounted by the database too; being ReadWriteOnce, the jobs that mount it
  are scheduled onto the database's node.
- With `ha`, MLflow runs several replicas behind a PDB with anti-affinity. The server is
  stateless (state is in PostgreSQL and the artifact volume), so replicas are safe.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from blueprints.naming import Ports, selector_labels, standard_labels
from blueprints.schema import BackupSettings, ImageRef, RegistrySettings
from infra import images
from infra.k8s import (
    SCRATCH,
    http_probe,
    metadata,
    preferred_anti_affinity,
    resources,
    restricted_container_security,
    restricted_pod_security,
    scrape_annotations,
    scratch_volume,
)
from services.registry import (
    BACKUP_CRONJOB,
    BASE_BACKUP_CRONJOB,
    DATABASE,
    PITR_TEMPLATE,
    RESTORE_TEMPLATE,
    SCRIPTS,
    SERVER,
)
from services.registry.access import ADMIN
from services.registry.server import ADMIN_PASSWORD_ENV, AUTH_DATABASE_ENV, FLASK_KEY_ENV, server_args
from services.registry.wal import WAL_SUBDIR, archive_settings

__all__ = [
    "ModelRegistry",
    "ModelRegistryArgs",
    "SERVER_NAME",
    "BACKUP_CRONJOB",
    "RESTORE_TEMPLATE",
    "BASE_BACKUP_CRONJOB",
    "PITR_TEMPLATE",
    "SCRIPTS_CONFIGMAP",
    "server_selector",
]

SERVER_NAME = SERVER
ADMIN_SECRET = "mlflow-admin"  # the registry's MLflow admin (services/registry/access.py) and CSRF key
DATABASE_NAME = DATABASE
SCRIPTS_CONFIGMAP = "mlflow-db-scripts"
HBA_CONFIGMAP = "mlflow-db-hba"
BACKUP_VOLUME = "mlflow-backups"
BASE_BACKUPS_KEPT = 2  # with nightly base backups: point-in-time recovery reaches back one to two days
PGDATA = "/var/lib/postgresql/data/pgdata"
# With WAL archiving the base-backup job connects for replication, which the image's pg_hba.conf
# allows only locally; this file replaces it (password authentication everywhere over TCP).
PG_HBA = """# TYPE  DATABASE     USER  ADDRESS  METHOD
local   all          all            trust
host    all          all   all      scram-sha-256
host    replication  all   all      scram-sha-256
"""


def server_selector(instance: str) -> dict[str, str]:
    """Labels that select the MLflow server pods of a registry instance."""
    return selector_labels(SERVER_NAME, instance)


@dataclass(frozen=True)
class ModelRegistryArgs:
    namespace: str
    settings: RegistrySettings
    image: ImageRef
    ha: bool = False
    # "shared" for the platform's registry, the tenant's name for a dedicated one.
    instance: str = "shared"
    tenant: str | None = None
    # The shared registry's UI is published on a fixed NodePort (kind maps it to the host).
    node_port: int | None = None


class ModelRegistry(pulumi.ComponentResource):
    """PostgreSQL + MLflow server + backups in one namespace."""

    tracking_uri: pulumi.Output[str]

    def __init__(self, name: str, args: ModelRegistryArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops-platform:platform:ModelRegistry", name, None, opts)
        ns, settings = args.namespace, args.settings
        child = pulumi.ResourceOptions(parent=self)

        def labels(app: str, component: str) -> dict[str, str]:
            return standard_labels(app, args.instance, component, tenant=args.tenant)

        db_labels = labels(DATABASE_NAME, "registry-database")
        db_select = selector_labels(DATABASE_NAME, args.instance)
        server_labels = labels(SERVER_NAME, "registry-server")
        server_select = server_selector(args.instance)

        credentials = k8s.core.v1.Secret(
            f"{name}-db-credentials",
            metadata=metadata(f"{DATABASE_NAME}-credentials", ns, labels(DATABASE_NAME, "registry-database")),
            type="Opaque",
            string_data={
                "POSTGRES_USER": "mlflow",
                "POSTGRES_DB": "mlflow",
                "POSTGRES_PASSWORD": pulumi.Output.secret(secrets.token_hex(24)),
            },
            # Generated once; later runs must not rotate it under a running database.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["stringData", "data"]),
        )
        db_env = [
            {"name": key, "valueFrom": {"secretKeyRef": {"name": f"{DATABASE_NAME}-credentials", "key": key}}}
            for key in ("POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB")
        ]
        # MLflow's admin (only the access bootstrap signs in with it, ADR 0017) and the key that signs its
        # CSRF tokens, which every replica must share. Generated once, like the database password.
        admin = k8s.core.v1.Secret(
            f"{name}-admin",
            metadata=metadata(ADMIN_SECRET, ns, labels(SERVER_NAME, "registry-server")),
            type="Opaque",
            string_data={
                "username": ADMIN,
                "password": pulumi.Output.secret(secrets.token_urlsafe(24)),
                "flask-secret-key": pulumi.Output.secret(secrets.token_hex(32)),
            },
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["stringData", "data"]),
        )
        after_secret = pulumi.ResourceOptions(parent=self, depends_on=[credentials])

        k8s.core.v1.Service(
            f"{name}-db-service",
            metadata=metadata(DATABASE_NAME, ns, db_labels),
            spec={
                "clusterIP": "None",
                "selector": db_select,
                "ports": [{"name": "postgres", "port": Ports.POSTGRES, "targetPort": "postgres"}],
            },
            opts=child,
        )
        archiving = _archiving(settings.backup) if settings.backup.wal_archiving else None
        if archiving:
            k8s.core.v1.ConfigMap(
                f"{name}-db-hba",
                metadata=metadata(HBA_CONFIGMAP, ns, db_labels),
                data={"pg_hba.conf": PG_HBA},
                opts=child,
            )
        pg_ready = {
            "exec": {"command": ["pg_isready", "-U", "mlflow", "-d", "mlflow", "-h", "127.0.0.1"]},
            "periodSeconds": 10,
            "timeoutSeconds": 5,
            "failureThreshold": 6,
        }
        database = k8s.apps.v1.StatefulSet(
            f"{name}-db",
            metadata=metadata(DATABASE_NAME, ns, db_labels),
            spec={
                "serviceName": DATABASE_NAME,
                "replicas": 1,
                "selector": {"matchLabels": db_select},
                "template": {
                    "metadata": {"labels": db_labels},
                    "spec": {
                        "automountServiceAccountToken": False,
                        "securityContext": restricted_pod_security(images.POSTGRES_UID),
                        "containers": [
                            {
                                "name": "postgres",
                                "image": images.POSTGRES,
                                "ports": [{"name": "postgres", "containerPort": Ports.POSTGRES}],
                                **({"args": archiving["args"]} if archiving else {}),
                                "env": [*db_env, {"name": "PGDATA", "value": PGDATA}],
                                "resources": resources(settings.database),
                                "securityContext": restricted_container_security(),
                                "readinessProbe": pg_ready,
                                "livenessProbe": {**pg_ready, "initialDelaySeconds": 30},
                                "volumeMounts": [
                                    {"name": "data", "mountPath": "/var/lib/postgresql/data"},
                                    {"name": "run", "mountPath": "/var/run/postgresql"},
                                    {"name": "tmp", "mountPath": "/tmp"},
                                    *(archiving["mounts"] if archiving else []),
                                ],
                            }
                        ],
                        "volumes": [
                            scratch_volume("run", "16Mi"),
                            scratch_volume("tmp", "64Mi"),
                            *(archiving["volumes"] if archiving else []),
                        ],
                    },
                },
                "volumeClaimTemplates": [
                    {
                        "metadata": {"name": "data", "labels": db_labels},
                        "spec": {
                            "accessModes": ["ReadWriteOnce"],
                            "resources": {"requests": {"storage": str(settings.database_storage)}},
                        },
                    }
                ],
            },
            opts=after_secret,
        )

        artifacts = k8s.core.v1.PersistentVolumeClaim(
            f"{name}-artifacts",
            metadata=metadata("mlflow-artifacts", ns, server_labels),
            spec={
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": str(settings.artifact_storage)}},
            },
            opts=child,
        )
        # The driver is named: SQLAlchemy 2.1 made psycopg (3) the default for postgresql://, and the
        # platform image installs psycopg2 (pyproject.toml's services extra).
        db_uri = f"postgresql+psycopg2://$(POSTGRES_USER):$(POSTGRES_PASSWORD)@{DATABASE_NAME}:{Ports.POSTGRES}/$(POSTGRES_DB)"
        allowed_hosts = ",".join(
            [
                f"{SERVER_NAME}",
                f"{SERVER_NAME}:*",
                f"{SERVER_NAME}.{ns}*",
                "localhost:*",
                "127.0.0.1:*",
            ]
        )
        replicas = settings.replicas
        mlflow_args = [
            "--backend-store-uri",
            db_uri,
            "--serve-artifacts",
            "--artifacts-destination",
            "/mlflow/artifacts",
            "--host",
            "0.0.0.0",
            "--port",
            str(Ports.MLFLOW),
            "--workers",
            "2",
            "--allowed-hosts",
            allowed_hosts,
            # /metrics for Prometheus (request counts and latencies per endpoint)
            "--expose-prometheus",
            f"{SCRATCH}/prometheus-metrics",
        ]
        secret_env = [
            # users and grants live in the registry's own database (ADR 0017): backups carry them
            {"name": AUTH_DATABASE_ENV, "value": db_uri},
            {"name": ADMIN_PASSWORD_ENV, "valueFrom": {"secretKeyRef": {"name": ADMIN_SECRET, "key": "password"}}},
            {"name": FLASK_KEY_ENV, "valueFrom": {"secretKeyRef": {"name": ADMIN_SECRET, "key": "flask-secret-key"}}},
        ]
        pod_spec: dict = {
            "automountServiceAccountToken": False,
            "securityContext": restricted_pod_security(images.PLATFORM_UID),
            "containers": [
                {
                    "name": "mlflow",
                    "image": args.image.ref,
                    # `mlflow server --app-name basic-auth`, configured from the environment (server.py)
                    "command": ["mlplat"],
                    "args": server_args(mlflow_args),
                    "env": [*db_env, *secret_env, {"name": "HOME", "value": "/tmp"}],
                    "ports": [{"name": "http", "containerPort": Ports.MLFLOW}],
                    "resources": resources(settings.server),
                    "securityContext": restricted_container_security(),
                    "readinessProbe": http_probe("/health", "http", period=10),
                    "livenessProbe": http_probe("/health", "http", period=20, failure=6, initial_delay=30),
                    "volumeMounts": [
                        {"name": "artifacts", "mountPath": "/mlflow/artifacts"},
                        {"name": "tmp", "mountPath": "/tmp"},
                    ],
                }
            ],
            "volumes": [
                {"name": "artifacts", "persistentVolumeClaim": {"claimName": "mlflow-artifacts"}},
                scratch_volume("tmp", "1Gi"),
            ],
        }
        if args.ha:
            pod_spec["affinity"] = preferred_anti_affinity(server_select)
        k8s.apps.v1.Deployment(
            f"{name}-server",
            metadata=metadata(SERVER_NAME, ns, server_labels),
            spec={
                "replicas": replicas,
                "selector": {"matchLabels": server_select},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
                "template": {
                    "metadata": {"labels": server_labels, "annotations": scrape_annotations(Ports.MLFLOW)},
                    "spec": pod_spec,
                },
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[database, artifacts, credentials, admin]),
        )
        service_port: dict = {"name": "http", "port": Ports.MLFLOW, "targetPort": "http"}
        service_spec: dict = {"selector": server_select, "ports": [service_port]}
        if args.node_port:
            service_spec["type"] = "NodePort"
            service_port["nodePort"] = args.node_port
        service = k8s.core.v1.Service(
            f"{name}-service", metadata=metadata(SERVER_NAME, ns, server_labels), spec=service_spec, opts=child
        )
        if replicas > 1:
            k8s.policy.v1.PodDisruptionBudget(
                f"{name}-server-pdb",
                metadata=metadata(SERVER_NAME, ns, server_labels),
                spec={"maxUnavailable": 1, "selector": {"matchLabels": server_select}},
                opts=child,
            )

        self._backups(
            name, args, labels(DATABASE_NAME, "registry-backup"), labels(DATABASE_NAME, "registry-restore"), db_select
        )
        self.tracking_uri = service.metadata.apply(
            lambda m: f"http://{SERVER_NAME}.{ns}.svc.cluster.local:{Ports.MLFLOW}"
        )
        self.register_outputs({"tracking_uri": self.tracking_uri})

    def _backups(
        self,
        name: str,
        args: ModelRegistryArgs,
        labels: dict[str, str],
        restore_labels: dict[str, str],
        db_select: dict[str, str],
    ) -> None:
        """The backup volume, the scripts, the backup CronJob and the restore template; with WAL
        archiving also the base-backup CronJob and the point-in-time restore template."""
        ns, backup = args.namespace, args.settings.backup
        child = pulumi.ResourceOptions(parent=self)
        claim: dict = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": str(backup.storage)}}}
        if backup.storage_class:
            claim["storageClassName"] = backup.storage_class
        k8s.core.v1.PersistentVolumeClaim(
            f"{name}-backups", metadata=metadata(BACKUP_VOLUME, ns, labels), spec=claim, opts=child
        )
        k8s.core.v1.ConfigMap(
            f"{name}-db-scripts",
            metadata=metadata(SCRIPTS_CONFIGMAP, ns, labels),
            data={path.name: path.read_text(encoding="utf-8") for path in SCRIPTS},
            opts=child,
        )
        # The database mounts the (ReadWriteOnce) backup volume when it archives WAL onto it.
        beside = _beside_database(db_select) if backup.wal_archiving else None

        def pod(script: str, env: list[dict], pod_labels: dict[str, str], *, restart: str, read_only: bool) -> dict:
            return _script_pod(
                script, env, pod_labels, args.settings, restart=restart, read_only=read_only, affinity=beside
            )

        def scheduled(resource: str, cronjob: str, schedule: str, script: str, env: list[dict], deadline: int) -> None:
            """A backup script on a schedule, writing the backup volume; a failed pod is retried in place."""
            k8s.batch.v1.CronJob(
                resource,
                metadata=metadata(cronjob, ns, labels),
                spec={
                    "schedule": schedule,
                    "concurrencyPolicy": "Forbid",
                    "successfulJobsHistoryLimit": 3,
                    "failedJobsHistoryLimit": 3,
                    "jobTemplate": {
                        # The Jobs the CronJob creates carry these labels (the required-labels rule).
                        "metadata": {"labels": labels},
                        "spec": {
                            "backoffLimit": 2,
                            "activeDeadlineSeconds": deadline,
                            "template": pod(script, env, labels, restart="OnFailure", read_only=False),
                        },
                    },
                },
                opts=child,
            )

        scheduled(
            f"{name}-backup",
            BACKUP_CRONJOB,
            backup.effective_schedule,
            "backup.sh",
            [{"name": "BACKUP_RETAIN", "value": str(backup.retention)}],
            600,
        )
        _template(
            self,
            f"{name}-restore",
            RESTORE_TEMPLATE,
            ns,
            restore_labels,
            "`mlplat registry restore --from <backup>`",
            pod(
                "restore.sh",
                [{"name": "BACKUP_FILE", "value": "latest"}, {"name": "RESTORE_FORCE", "value": "0"}],
                restore_labels,
                restart="Never",
                read_only=True,
            ),
        )
        if not backup.wal_archiving:
            return
        scheduled(
            f"{name}-base-backup",
            BASE_BACKUP_CRONJOB,
            backup.schedule,
            "base-backup.sh",
            [{"name": "BASE_BACKUP_RETAIN", "value": str(BASE_BACKUPS_KEPT)}],
            1800,
        )
        # The point-in-time restore writes the database's own volume, so it runs while the database
        # is scaled to 0 (no affinity to it) and mounts that volume instead of connecting.
        pitr = _script_pod(
            "pitr-restore.sh",
            [
                {"name": "PGDATA", "value": PGDATA},
                {"name": "BASE_BACKUP", "value": "latest"},
                {"name": "RECOVERY_TARGET_TIME", "value": ""},
                {"name": "RESTORE_FORCE", "value": "0"},
            ],
            restore_labels,
            args.settings,
            restart="Never",
            read_only=True,
            connect=False,
        )
        pitr["spec"]["containers"][0]["volumeMounts"].append({"name": "data", "mountPath": "/var/lib/postgresql/data"})
        pitr["spec"]["volumes"].append(
            {"name": "data", "persistentVolumeClaim": {"claimName": f"data-{DATABASE_NAME}-0"}}
        )
        _template(
            self,
            f"{name}-pitr-restore",
            PITR_TEMPLATE,
            ns,
            restore_labels,
            "`mlplat registry restore --point-in-time` (with the database scaled to 0)",
            pitr,
        )


def _archiving(backup: BackupSettings) -> dict[str, list]:
    """Container args, mounts and volumes that make PostgreSQL archive its WAL onto the backup volume."""
    settings = archive_settings("/scripts/archive-wal.sh", f"/backups/{WAL_SUBDIR}", (backup.rpo_minutes or 0) * 60)
    settings["hba_file"] = "/etc/postgresql/hba/pg_hba.conf"
    return {
        "args": [part for key, value in settings.items() for part in ("-c", f"{key}={value}")],
        "mounts": [
            {"name": "backups", "mountPath": "/backups"},
            {"name": "scripts", "mountPath": "/scripts", "readOnly": True},
            {"name": "hba", "mountPath": "/etc/postgresql/hba", "readOnly": True},
        ],
        "volumes": [
            {"name": "backups", "persistentVolumeClaim": {"claimName": BACKUP_VOLUME}},
            {"name": "scripts", "configMap": {"name": SCRIPTS_CONFIGMAP}},
            {"name": "hba", "configMap": {"name": HBA_CONFIGMAP}},
        ],
    }


def _beside_database(db_select: dict[str, str]) -> dict:
    """Required co-location with the database pod: both mount the same ReadWriteOnce volume."""
    return {
        "podAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [
                {"topologyKey": "kubernetes.io/hostname", "labelSelector": {"matchLabels": dict(db_select)}}
            ]
        }
    }


def _script_pod(
    script: str,
    env: list[dict],
    labels: dict[str, str],
    settings: RegistrySettings,
    *,
    restart: str,
    read_only: bool,
    affinity: dict | None = None,
    connect: bool = True,
) -> dict:
    """A pod template running one of services/registry's scripts in the postgres image, with the
    backup volume at /backups and, when it `connect`s, the database's address and credentials."""
    connection = [
        {"name": env_name, "valueFrom": {"secretKeyRef": {"name": f"{DATABASE_NAME}-credentials", "key": key}}}
        for env_name, key in (
            ("PGUSER", "POSTGRES_USER"),
            ("PGPASSWORD", "POSTGRES_PASSWORD"),
            ("PGDATABASE", "POSTGRES_DB"),
        )
    ] + [{"name": "PGHOST", "value": DATABASE_NAME}, {"name": "PGPORT", "value": str(Ports.POSTGRES)}]
    spec: dict = {
        "restartPolicy": restart,
        "automountServiceAccountToken": False,
        "securityContext": restricted_pod_security(images.POSTGRES_UID),
        "containers": [
            {
                "name": script.removesuffix(".sh"),
                "image": images.POSTGRES,
                "command": ["/bin/sh", f"/scripts/{script}"],
                "env": [*(connection if connect else []), {"name": "BACKUP_DIR", "value": "/backups"}, *env],
                "resources": resources(settings.database),
                "securityContext": restricted_container_security(),
                "volumeMounts": [
                    {"name": "backups", "mountPath": "/backups", "readOnly": read_only},
                    {"name": "scripts", "mountPath": "/scripts", "readOnly": True},
                    {"name": "tmp", "mountPath": "/tmp"},
                ],
            }
        ],
        "volumes": [
            {"name": "backups", "persistentVolumeClaim": {"claimName": BACKUP_VOLUME}},
            {"name": "scripts", "configMap": {"name": SCRIPTS_CONFIGMAP}},
            scratch_volume("tmp", "64Mi"),
        ],
    }
    if affinity:
        spec["affinity"] = affinity
    return {"metadata": {"labels": labels}, "spec": spec}


def _template(
    parent: pulumi.Resource, resource_name: str, name: str, ns: str, labels: dict[str, str], usage: str, pod: dict
) -> None:
    """A Job template kept in the cluster: a CronJob that never runs on its own (`suspend`); the
    schedule field is required by the API and names a date that makes the intent plain."""
    k8s.batch.v1.CronJob(
        resource_name,
        metadata=metadata(name, ns, labels, {"platform.mlops/usage": f"template for {usage}; never scheduled"}),
        spec={
            "schedule": "0 0 1 1 *",
            "suspend": True,
            "concurrencyPolicy": "Forbid",
            "jobTemplate": {
                "metadata": {"labels": labels},  # the Jobs made from it carry them (the required-labels rule)
                "spec": {
                    "backoffLimit": 0,  # a restore that failed is read, not retried blindly
                    "activeDeadlineSeconds": 1800,
                    "ttlSecondsAfterFinished": 7 * 24 * 3600,  # its log is the restore's record
                    "template": pod,
                },
            },
        },
        opts=pulumi.ResourceOptions(parent=parent),
    )
