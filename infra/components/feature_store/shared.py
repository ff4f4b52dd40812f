"""What a feature store's parts share: names, the tenant's database login and the repository's mount."""

from __future__ import annotations

from blueprints.naming import SYSTEM_NAMESPACE, selector_labels, standard_labels
from blueprints.schema import ImageRef
from services.features.repo import PASSWORD_ENV
from services.registry import DATABASE

__all__ = [
    "CREDENTIALS",
    "MATERIALIZATION_COMPONENT",
    "REPO_DIR",
    "SERVER",
    "SERVER_COMPONENT",
    "USER_ENV",
    "credentials_env",
    "database_host",
    "feature_server_selector",
    "labels",
    "repo_mount",
    "repo_volume",
    "workload_env",
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


def workload_env() -> list[dict]:
    """The environment of the pods that run Feast from the platform image."""
    return [*credentials_env(), {"name": "HOME", "value": "/tmp"}]


def feature_server_selector(tenant: str) -> dict[str, str]:
    return selector_labels(SERVER, tenant)


def labels(app: str, component: str, tenant: str, image: ImageRef) -> dict[str, str]:
    return standard_labels(app, tenant, component, version=image.tag, tenant=tenant)


def repo_mount() -> dict:
    return {"name": "repo", "mountPath": REPO_DIR, "readOnly": True}


def repo_volume() -> dict:
    return {"name": "repo", "configMap": {"name": "feature-repo"}}
