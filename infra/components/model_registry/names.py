"""The names the registry's parts share: its objects, its volumes and the selectors between them."""

from __future__ import annotations

from blueprints.naming import selector_labels
from services.registry import BACKUP_CRONJOB, BASE_BACKUP_CRONJOB, DATABASE, PITR_TEMPLATE, RESTORE_TEMPLATE, SERVER

__all__ = [
    "ADMIN_SECRET",
    "BACKUP_CRONJOB",
    "BACKUP_VOLUME",
    "BASE_BACKUP_CRONJOB",
    "CREDENTIALS_SECRET",
    "DATABASE_NAME",
    "HBA_CONFIGMAP",
    "PGDATA",
    "PITR_TEMPLATE",
    "RESTORE_TEMPLATE",
    "SCRIPTS_CONFIGMAP",
    "SERVER_NAME",
    "database_selector",
    "server_selector",
]

SERVER_NAME = SERVER
DATABASE_NAME = DATABASE
ADMIN_SECRET = "mlflow-admin"  # the registry's MLflow admin (services/registry/access.py) and CSRF key
CREDENTIALS_SECRET = f"{DATABASE_NAME}-credentials"  # the database's user, password and database name
SCRIPTS_CONFIGMAP = "mlflow-db-scripts"
HBA_CONFIGMAP = "mlflow-db-hba"
BACKUP_VOLUME = "mlflow-backups"
PGDATA = "/var/lib/postgresql/data/pgdata"


def server_selector(instance: str) -> dict[str, str]:
    """Labels that select the MLflow server pods of a registry instance."""
    return selector_labels(SERVER_NAME, instance)


def database_selector(instance: str) -> dict[str, str]:
    return selector_labels(DATABASE_NAME, instance)
