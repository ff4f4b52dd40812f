"""ModelRegistry: the MLflow tracking and registry server on PostgreSQL, with backups.

Three parts, one module each: the database (database.py: PostgreSQL as a StatefulSet with a generated
password), the server (server.py: MLflow with its authentication app and proxied artifact storage) and
the backups (backups.py: dumps on a schedule derived from the RPO, WAL archiving below 15 minutes, and
the restore templates). The parts share the registry's name, so every object keeps the Pulumi name it
had before the split; their types tell them apart. names.py holds the names the parts share.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from blueprints.schema import ImageRef, RegistrySettings
from infra import images
from infra.components.model_registry.backups import RegistryBackups, RegistryBackupsArgs
from infra.components.model_registry.database import RegistryDatabase, RegistryDatabaseArgs
from infra.components.model_registry.names import (
    ADMIN_SECRET,
    BACKUP_CRONJOB,
    BASE_BACKUP_CRONJOB,
    PITR_TEMPLATE,
    RESTORE_TEMPLATE,
    SCRIPTS_CONFIGMAP,
    SERVER_NAME,
    server_selector,
)
from infra.components.model_registry.server import TrackingServer, TrackingServerArgs

__all__ = [
    "ADMIN_SECRET",
    "BACKUP_CRONJOB",
    "BASE_BACKUP_CRONJOB",
    "ModelRegistry",
    "ModelRegistryArgs",
    "PITR_TEMPLATE",
    "RESTORE_TEMPLATE",
    "SCRIPTS_CONFIGMAP",
    "SERVER_NAME",
    "server_selector",
]


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
    mirror: str | None = None  # platform.imageMirror: pull the database's image from it


class ModelRegistry(pulumi.ComponentResource):
    """PostgreSQL + MLflow server + backups in one namespace."""

    tracking_uri: pulumi.Output[str]

    def __init__(self, name: str, args: ModelRegistryArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops-platform:platform:ModelRegistry", name, None, opts)
        ns, settings, where = args.namespace, args.settings, {"instance": args.instance, "tenant": args.tenant}
        postgres = images.deployed(images.POSTGRES, args.mirror)
        part = pulumi.ResourceOptions(parent=self)
        database = RegistryDatabase(
            name, RegistryDatabaseArgs(ns, settings, **where, postgres_image=postgres), opts=part
        )
        server = TrackingServer(
            name,
            TrackingServerArgs(ns, settings, args.image, database, ha=args.ha, node_port=args.node_port, **where),
            opts=part,
        )
        RegistryBackups(name, RegistryBackupsArgs(ns, settings, **where, postgres_image=postgres), opts=part)
        self.tracking_uri = server.tracking_uri
        self.register_outputs({"tracking_uri": self.tracking_uri})
