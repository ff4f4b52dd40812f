"""The registry's PostgreSQL: a one-replica StatefulSet with its own volume, behind a headless Service.

Its password is generated at the first `pulumi up` into a Secret and never appears in code or config;
`ignore_changes` keeps it stable across updates (rotate by deleting the Secret and running `pulumi up`).
With WAL archiving (an RPO under 15 minutes) it archives every finished WAL segment onto the backup
volume (`archive-wal.sh`) and takes replication connections for base backups, which its own
pg_hba.conf allows.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from blueprints.naming import Ports, standard_labels
from blueprints.schema import RegistrySettings
from infra import images
from infra.component import SubComponent
from infra.components.model_registry.names import (
    BACKUP_VOLUME,
    CREDENTIALS_SECRET,
    DATABASE_NAME,
    HBA_CONFIGMAP,
    PGDATA,
    SCRIPTS_CONFIGMAP,
    database_selector,
)
from infra.k8s import metadata, resources, restricted_container_security, restricted_pod_security, scratch_volume
from services.registry.wal import WAL_SUBDIR, archive_settings

__all__ = ["RegistryDatabase", "RegistryDatabaseArgs", "database_env"]

# With WAL archiving the base-backup job connects for replication, which the image's pg_hba.conf
# allows only locally; this file replaces it (password authentication everywhere over TCP).
PG_HBA = """# TYPE  DATABASE     USER  ADDRESS  METHOD
local   all          all            trust
host    all          all   all      scram-sha-256
host    replication  all   all      scram-sha-256
"""


def database_env() -> list[dict]:
    """POSTGRES_USER, POSTGRES_PASSWORD and POSTGRES_DB from the database's Secret."""
    return [
        {"name": key, "valueFrom": {"secretKeyRef": {"name": CREDENTIALS_SECRET, "key": key}}}
        for key in ("POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB")
    ]


@dataclass(frozen=True)
class RegistryDatabaseArgs:
    namespace: str
    settings: RegistrySettings
    instance: str
    tenant: str | None = None
    postgres_image: str = images.POSTGRES  # the pinned image, or the same under platform.imageMirror


class RegistryDatabase(SubComponent):
    """The credentials Secret, the headless Service and the StatefulSet (with pg_hba.conf when archiving)."""

    def __init__(self, name: str, args: RegistryDatabaseArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops-platform:platform:RegistryDatabase", name, opts)
        ns, settings = args.namespace, args.settings
        labels = standard_labels(DATABASE_NAME, args.instance, "registry-database", tenant=args.tenant)
        self.credentials = k8s.core.v1.Secret(
            f"{name}-db-credentials",
            metadata=metadata(CREDENTIALS_SECRET, ns, labels),
            type="Opaque",
            string_data={
                "POSTGRES_USER": "mlflow",
                "POSTGRES_DB": "mlflow",
                "POSTGRES_PASSWORD": pulumi.Output.secret(secrets.token_hex(24)),
            },
            # Generated once; later runs must not rotate it under a running database.
            opts=self.child(ignore_changes=["stringData", "data"]),
        )
        k8s.core.v1.Service(
            f"{name}-db-service",
            metadata=metadata(DATABASE_NAME, ns, labels),
            spec={
                "clusterIP": "None",
                "selector": database_selector(args.instance),
                "ports": [{"name": "postgres", "port": Ports.POSTGRES, "targetPort": "postgres"}],
            },
            opts=self.child(),
        )
        archiving = _archiving(settings) if settings.backup.wal_archiving else None
        if archiving:
            k8s.core.v1.ConfigMap(
                f"{name}-db-hba",
                metadata=metadata(HBA_CONFIGMAP, ns, labels),
                data={"pg_hba.conf": PG_HBA},
                opts=self.child(),
            )
        self.statefulset = k8s.apps.v1.StatefulSet(
            f"{name}-db",
            metadata=metadata(DATABASE_NAME, ns, labels),
            spec=_statefulset_spec(settings, labels, database_selector(args.instance), archiving, args.postgres_image),
            opts=self.child(depends_on=[self.credentials]),
        )
        self.register_outputs({})


def _statefulset_spec(
    settings: RegistrySettings, labels: dict, select: dict, archiving: dict | None, image: str
) -> dict:
    pg_ready = {
        "exec": {"command": ["pg_isready", "-U", "mlflow", "-d", "mlflow", "-h", "127.0.0.1"]},
        "periodSeconds": 10,
        "timeoutSeconds": 5,
        "failureThreshold": 6,
    }
    container = {
        "name": "postgres",
        "image": image,
        "ports": [{"name": "postgres", "containerPort": Ports.POSTGRES}],
        **({"args": archiving["args"]} if archiving else {}),
        "env": [*database_env(), {"name": "PGDATA", "value": PGDATA}],
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
    volumes = [
        scratch_volume("run", "16Mi"),
        scratch_volume("tmp", "64Mi"),
        *(archiving["volumes"] if archiving else []),
    ]
    return {
        "serviceName": DATABASE_NAME,
        "replicas": 1,
        "selector": {"matchLabels": select},
        "template": {
            "metadata": {"labels": labels},
            "spec": {
                "automountServiceAccountToken": False,
                "securityContext": restricted_pod_security(images.POSTGRES_UID),
                "containers": [container],
                "volumes": volumes,
            },
        },
        "volumeClaimTemplates": [
            {
                "metadata": {"name": "data", "labels": labels},
                "spec": {
                    "accessModes": ["ReadWriteOnce"],
                    "resources": {"requests": {"storage": str(settings.database_storage)}},
                },
            }
        ],
    }


def _archiving(settings: RegistrySettings) -> dict[str, list]:
    """Container args, mounts and volumes that make PostgreSQL archive its WAL onto the backup volume."""
    settings = archive_settings(
        "/scripts/archive-wal.sh", f"/backups/{WAL_SUBDIR}", (settings.backup.rpo_minutes or 0) * 60
    )
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
