"""The registry's backups: a volume of their own, the scripts, the scheduled backups and the restore templates.

- A backup CronJob runs `services/registry/backup.sh` (pg_dump, custom format, verified and checksummed)
  onto a separate backup PVC, on its own StorageClass when the blueprint names one, with retention. Its
  schedule comes from the blueprint: nightly, or derived from the RPO (`rpoMinutes: 15` -> every 15
  minutes). See ADR 0012 and docs/registry-dr.md.
- The restore Job's template is a CronJob that never runs on its own (`suspend: true`):
  `mlplat registry restore --from <backup>` creates a Job from it that runs `services/registry/restore.sh`
  (verify, restore into a fresh database, swap).
- An RPO under 15 minutes adds WAL archiving (the database archives onto this volume), a CronJob that
  takes base backups (`base-backup.sh`) and a second template that restores to a point in time
  (`pitr-restore.sh`). The backup volume is then mounted by the database too; being ReadWriteOnce, the
  jobs that mount it are scheduled onto the database's node.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from blueprints.naming import Ports, standard_labels
from blueprints.schema import RegistrySettings
from infra import images
from infra.component import SubComponent
from infra.components.model_registry.names import (
    BACKUP_CRONJOB,
    BACKUP_VOLUME,
    BASE_BACKUP_CRONJOB,
    CREDENTIALS_SECRET,
    DATABASE_NAME,
    PGDATA,
    PITR_TEMPLATE,
    RESTORE_TEMPLATE,
    SCRIPTS_CONFIGMAP,
    database_selector,
)
from infra.k8s import (
    claim_metadata,
    metadata,
    resources,
    restricted_container_security,
    restricted_pod_security,
    scratch_volume,
)
from services.registry import SCRIPTS

__all__ = ["BASE_BACKUPS_KEPT", "RegistryBackups", "RegistryBackupsArgs"]

BASE_BACKUPS_KEPT = 2  # with nightly base backups: point-in-time recovery reaches back one to two days


@dataclass(frozen=True)
class RegistryBackupsArgs:
    namespace: str
    settings: RegistrySettings
    instance: str
    tenant: str | None = None
    postgres_image: str = images.POSTGRES  # the pinned image, or the same under platform.imageMirror


class RegistryBackups(SubComponent):
    """The backup volume, the scripts, the backup CronJob and the restore template; with WAL archiving
    also the base-backup CronJob and the point-in-time restore template."""

    def __init__(self, name: str, args: RegistryBackupsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops-platform:platform:RegistryBackups", name, opts)
        self.args = args
        ns, backup = args.namespace, args.settings.backup
        self.labels = standard_labels(DATABASE_NAME, args.instance, "registry-backup", tenant=args.tenant)
        restore_labels = standard_labels(DATABASE_NAME, args.instance, "registry-restore", tenant=args.tenant)
        claim: dict = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": str(backup.storage)}}}
        if backup.storage_class:
            claim["storageClassName"] = backup.storage_class
        k8s.core.v1.PersistentVolumeClaim(
            f"{name}-backups", metadata=claim_metadata(BACKUP_VOLUME, ns, self.labels), spec=claim, opts=self.child()
        )
        k8s.core.v1.ConfigMap(
            f"{name}-db-scripts",
            metadata=metadata(SCRIPTS_CONFIGMAP, ns, self.labels),
            data={path.name: path.read_text(encoding="utf-8") for path in SCRIPTS},
            opts=self.child(),
        )
        retain = [{"name": "BACKUP_RETAIN", "value": str(backup.retention)}]
        self._scheduled(f"{name}-backup", BACKUP_CRONJOB, backup.effective_schedule, "backup.sh", retain, 600)
        restore_env = [{"name": "BACKUP_FILE", "value": "latest"}, {"name": "RESTORE_FORCE", "value": "0"}]
        self._template(
            f"{name}-restore",
            RESTORE_TEMPLATE,
            restore_labels,
            "`mlplat registry restore --from <backup>`",
            self._pod("restore.sh", restore_env, restore_labels, restart="Never", read_only=True),
        )
        if not backup.wal_archiving:
            self.register_outputs({})
            return
        base_retain = [{"name": "BASE_BACKUP_RETAIN", "value": str(BASE_BACKUPS_KEPT)}]
        self._scheduled(
            f"{name}-base-backup", BASE_BACKUP_CRONJOB, backup.schedule, "base-backup.sh", base_retain, 1800
        )
        self._template(
            f"{name}-pitr-restore",
            PITR_TEMPLATE,
            restore_labels,
            "`mlplat registry restore --point-in-time` (with the database scaled to 0)",
            _pitr_pod(restore_labels, args.settings, args.postgres_image),
        )
        self.register_outputs({})

    def _pod(self, script: str, env: list[dict], labels: dict[str, str], *, restart: str, read_only: bool) -> dict:
        # The database mounts the (ReadWriteOnce) backup volume when it archives WAL onto it.
        beside = (
            _beside_database(database_selector(self.args.instance)) if self.args.settings.backup.wal_archiving else None
        )
        return _script_pod(
            script,
            env,
            labels,
            self.args.settings,
            self.args.postgres_image,
            restart=restart,
            read_only=read_only,
            affinity=beside,
        )

    def _scheduled(
        self, resource: str, cronjob: str, schedule: str, script: str, env: list[dict], deadline: int
    ) -> None:
        """A backup script on a schedule, writing the backup volume; a failed pod is retried in place."""
        k8s.batch.v1.CronJob(
            resource,
            metadata=metadata(cronjob, self.args.namespace, self.labels),
            spec={
                "schedule": schedule,
                "concurrencyPolicy": "Forbid",
                "successfulJobsHistoryLimit": 3,
                "failedJobsHistoryLimit": 3,
                "jobTemplate": {
                    # The Jobs the CronJob creates carry these labels (the required-labels rule).
                    "metadata": {"labels": self.labels},
                    "spec": {
                        "backoffLimit": 2,
                        "activeDeadlineSeconds": deadline,
                        "template": self._pod(script, env, self.labels, restart="OnFailure", read_only=False),
                    },
                },
            },
            opts=self.child(),
        )

    def _template(self, resource_name: str, name: str, labels: dict[str, str], usage: str, pod: dict) -> None:
        """A Job template kept in the cluster: a CronJob that never runs on its own (`suspend`); the
        schedule field is required by the API and names a date that makes the intent plain."""
        k8s.batch.v1.CronJob(
            resource_name,
            metadata=metadata(
                name, self.args.namespace, labels, {"platform.mlops/usage": f"template for {usage}; never scheduled"}
            ),
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
            opts=self.child(),
        )


def _pitr_pod(labels: dict[str, str], settings: RegistrySettings, image: str) -> dict:
    """The point-in-time restore writes the database's own volume, so it runs while the database is
    scaled to 0 (no affinity to it) and mounts that volume instead of connecting."""
    pod = _script_pod(
        "pitr-restore.sh",
        [
            {"name": "PGDATA", "value": PGDATA},
            {"name": "BASE_BACKUP", "value": "latest"},
            {"name": "RECOVERY_TARGET_TIME", "value": ""},
            {"name": "RESTORE_FORCE", "value": "0"},
        ],
        labels,
        settings,
        image,
        restart="Never",
        read_only=True,
        connect=False,
    )
    pod["spec"]["containers"][0]["volumeMounts"].append({"name": "data", "mountPath": "/var/lib/postgresql/data"})
    pod["spec"]["volumes"].append({"name": "data", "persistentVolumeClaim": {"claimName": f"data-{DATABASE_NAME}-0"}})
    return pod


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
    image: str,
    *,
    restart: str,
    read_only: bool,
    affinity: dict | None = None,
    connect: bool = True,
) -> dict:
    """A pod template running one of services/registry's scripts in the postgres image, with the
    backup volume at /backups and, when it `connect`s, the database's address and credentials."""
    connection = [
        {"name": env_name, "valueFrom": {"secretKeyRef": {"name": CREDENTIALS_SECRET, "key": key}}}
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
                "image": image,
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
