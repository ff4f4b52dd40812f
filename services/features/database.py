"""A tenant's feature-store database on the platform's PostgreSQL, created by one idempotent script.

`feature-store.sql` (beside this module) creates the tenant's role and database when they do not
exist, sets the role's password from `FEAST_DB_PASSWORD`, and closes the database, and the registry's,
to every other role. `psql_args()` is the one command that runs it: the cluster's Job
(infra/components/feature_store.py, in the postgres image, as the platform's superuser) and the tests
against a real PostgreSQL (services/registry/postgres.py) run exactly this file and these arguments.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from services.features.names import database, database_role

__all__ = ["SCRIPT", "psql_args", "create_database", "DatabaseError"]

SCRIPT = Path(__file__).resolve().parent / "feature-store.sql"


class DatabaseError(RuntimeError):
    pass


def psql_args(tenant: str, script: str, platform_database: str = "mlflow") -> list[str]:
    """`psql` and its arguments; the connection comes from PG* variables, the password from FEAST_DB_PASSWORD."""
    return [
        "psql",
        "-v",
        "ON_ERROR_STOP=1",
        "-v",
        f"role={database_role(tenant)}",
        "-v",
        f"database={database(tenant)}",
        "-v",
        f"platform_database={platform_database}",
        "-f",
        script,
    ]


def create_database(tenant: str, password: str, libpq_env: dict[str, str], psql: str = "psql") -> str:
    """Run the script here (as the cluster's Job does); returns its output."""
    command = psql_args(tenant, str(SCRIPT))
    done = subprocess.run(
        [psql, *command[1:]],
        env={**os.environ, **libpq_env, "FEAST_DB_PASSWORD": password},
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise DatabaseError(f"feature-store.sql for tenant {tenant!r} failed: {done.stderr.strip()}")
    return done.stdout
