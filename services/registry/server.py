"""The registry server: `mlflow server` with MLflow's authentication app, the same in both places.

`mlplat registry server -- <mlflow server arguments>` writes MLflow's auth configuration to a private
file and replaces itself with `mlflow server --app-name basic-auth ...`. The cluster's MLflow
Deployment (infra/components/model_registry.py) and standalone (services/standalone/plan.py) both run
it, so authentication is configured once:

- `default_permission = NO_PERMISSIONS`: a user reaches only what it was granted (access.py);
- the users and grants live in the tracking database itself (`database_uri` = the backend store; the
  auth tables have their own names and migration table), so the registry's backups and restores
  (ADR 0012) carry them, and the DR drill checks they survive;
- the admin is `platform.admin`, its password and the Flask secret key (CSRF) come from the
  environment: a Kubernetes Secret in the cluster, owner-only files in standalone.

The auth configuration needs the database URI, which holds the database password in the cluster; it
is assembled from the environment when the container starts and written owner-only to a private
temporary folder, never to a ConfigMap.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from services.registry.access import ADMIN

__all__ = [
    "auth_config",
    "mlflow_command",
    "server_args",
    "write_auth_config",
    "AUTH_DATABASE_ENV",
    "ADMIN_PASSWORD_ENV",
    "FLASK_KEY_ENV",
    "DEFAULT_PERMISSION",
    "SERVER_ENV",
]

AUTH_DATABASE_ENV = "MLPLAT_AUTH_DATABASE_URI"
ADMIN_PASSWORD_ENV = "MLFLOW_AUTH_ADMIN_PASSWORD"  # MLflow's own: the admin is created with it
FLASK_KEY_ENV = "MLFLOW_FLASK_SERVER_SECRET_KEY"  # MLflow's own: signs CSRF tokens, equal on every replica
DEFAULT_PERMISSION = "NO_PERMISSIONS"
AUTH_CACHE_SECONDS = 60
# MLflow's auth app denies a route without a permission validator to everyone but admins
# (fail-closed). Every route of MLflow's own API has one; the one that has none is /metrics, added by
# --expose-prometheus, which Prometheus must scrape signed in as platform.monitoring, a user without
# grants. Off, a route without a validator needs a sign-in only: /metrics, and nothing else of MLflow's
# (tests/services/test_registry_isolation.py checks both sides).
#
# MLflow 3 also starts a job executor (huey consumers, one process per GenAI job type, ~250 MB each)
# for features this platform does not use (trace archival, prompt optimisation): measured in the
# platform image, it tripled the server's memory and got it OOM-killed under its 1 GiB limit. Off.
SERVER_ENV = {"MLFLOW_BASIC_AUTH_FAIL_CLOSED": "false", "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}


def auth_config(database_uri: str, admin: str = ADMIN, default_permission: str = DEFAULT_PERMISSION) -> str:
    """MLflow's basic_auth.ini for the platform (the admin password comes from the environment)."""
    if "%" in database_uri:  # configparser's interpolation would eat it
        database_uri = database_uri.replace("%", "%%")
    return (
        "[mlflow]\n"
        f"default_permission = {default_permission}\n"
        f"database_uri = {database_uri}\n"
        f"admin_username = {admin}\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
        # MLflow checks a password with PBKDF2 (hundreds of milliseconds of CPU) on every request unless
        # it caches the check; the model servers' polls and the gate would spend most of the registry's
        # CPU on it. The price: on a multi-worker server a rotated password keeps working on the other
        # workers for up to this long.
        f"auth_cache_ttl_seconds = {AUTH_CACHE_SECONDS}\n"
    )


def write_auth_config(text: str, folder: Path | None = None) -> Path:
    """The configuration in a new owner-only file (it may hold the database password)."""
    folder = Path(folder or tempfile.mkdtemp(prefix="mlplat-auth-"))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "basic_auth.ini"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)
    return path


def mlflow_command(args: Sequence[str], python: str | None = None) -> list[str]:
    """`mlflow server` with the authentication app and the given arguments (run by this interpreter, so
    the MLflow of the platform's environment serves, whatever is on PATH)."""
    if "--app-name" in args:
        raise ValueError("--app-name is set by the platform (basic-auth); remove it from the arguments")
    return [python or sys.executable, "-m", "mlflow", "server", "--app-name", "basic-auth", *args]


def server_args(
    mlflow_args: Sequence[str],
    *,
    auth_database_uri: str | None = None,
    admin_credentials: str | None = None,
    flask_key_file: str | None = None,
) -> list[str]:
    """`mlplat registry server` and its flags. Omitted values come from the environment when the server
    starts (the cluster: MLPLAT_AUTH_DATABASE_URI, MLFLOW_AUTH_ADMIN_PASSWORD and
    MLFLOW_FLASK_SERVER_SECRET_KEY from Secrets); standalone passes files instead."""
    args = ["registry", "server"]
    for flag, value in (
        ("--auth-database-uri", auth_database_uri),
        ("--admin-credentials", admin_credentials),
        ("--flask-key-file", flask_key_file),
    ):
        if value:
            args += [flag, value]
    return [*args, "--", *mlflow_args]
