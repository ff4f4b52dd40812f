"""The feature store's shared names: Feast projects, online tables, databases and the model version tag.

A tenant's Feast project is named after the tenant (Feast allows letters, digits and `_`), and each
feature view's online values live in the table Feast names `<project>_<view>`. The repository
generator (repo.py), the model servers' direct reader (online.py), the cluster's database bootstrap
(database.py) and the tests all take the names from here.
"""

from __future__ import annotations

__all__ = [
    "project",
    "online_table",
    "database",
    "database_role",
    "FEATURE_SERVICE_TAG",
    "POSTGRES_IDENTIFIER_MAX",
    "DATA_DIR",
]

FEATURE_SERVICE_TAG = "platform.mlops/feature-service"  # on a model version: the service it was trained on
POSTGRES_IDENTIFIER_MAX = 63  # table, database and role names
DATA_DIR = "/data"  # the offline (Parquet) data in the cluster's pods


def project(tenant: str) -> str:
    """`data-science` -> `data_science`."""
    return tenant.replace("-", "_")


def online_table(tenant: str, view: str) -> str:
    return f"{project(tenant)}_{view}"


def database(tenant: str) -> str:
    """The tenant's database on the platform's PostgreSQL: its Feast registry and online store."""
    return f"feast_{project(tenant)}"


def database_role(tenant: str) -> str:
    """The role that owns it; no other tenant's role may connect to it."""
    return database(tenant)
