"""How the platform's processes sign in to a registry: MLflow basic-auth users and their passwords.

MLflow's clients read `MLFLOW_TRACKING_USERNAME` and `MLFLOW_TRACKING_PASSWORD` from the environment on
every request. The cluster sets both from a Kubernetes Secret (`secretKeyRef`); standalone keeps each
user's credentials in an owner-only file under `<root>/secrets/registry/` and hands a process the
file's path in `MLPLAT_REGISTRY_CREDENTIALS`, which `mlplat` loads into the two variables when it
starts (`load_into_environment`). So no password is ever in a command line, a config file the
platform writes for reading, or `standalone.json`.

The file has the format of MLflow's own credentials file (`~/.mlflow/credentials`):

    [mlflow]
    mlflow_tracking_username = recsys
    mlflow_tracking_password = ...

Users and what each may do: services/registry/access.py (ADR 0017).
"""

from __future__ import annotations

import configparser
import contextlib
import os
import secrets
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass
from pathlib import Path

from services.local_secrets import read_or_create

__all__ = [
    "Credentials",
    "CredentialsError",
    "USERNAME_ENV",
    "PASSWORD_ENV",
    "FILE_ENV",
    "credentials_file",
    "generate_password",
    "read_credentials",
    "ensure_credentials",
    "password_file",
    "standalone_credentials_dir",
    "load_into_environment",
    "acting_as",
]

USERNAME_ENV = "MLFLOW_TRACKING_USERNAME"
PASSWORD_ENV = "MLFLOW_TRACKING_PASSWORD"
FILE_ENV = "MLPLAT_REGISTRY_CREDENTIALS"


class CredentialsError(RuntimeError):
    """A credentials file is missing or malformed; the message names the file and the fix."""


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str

    def __repr__(self) -> str:  # never print a password by accident
        return f"Credentials(username={self.username!r}, password=<hidden>)"


def generate_password() -> str:
    """32 URL-safe characters (192 bits); MLflow requires at least 12."""
    return secrets.token_urlsafe(24)


def credentials_file(directory: Path, username: str) -> Path:
    return Path(directory) / f"{username}.ini"


def _ini(credentials: Credentials) -> str:
    return (
        "[mlflow]\n"
        f"mlflow_tracking_username = {credentials.username}\n"
        f"mlflow_tracking_password = {credentials.password}\n"
    )


def read_credentials(path: Path) -> Credentials:
    path = Path(path)
    if not path.is_file():
        raise CredentialsError(
            f"{path}: no such credentials file; standalone writes one per registry user when it starts "
            "(`mlplat standalone`), or point MLPLAT_REGISTRY_CREDENTIALS at your own"
        )
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(path)
    try:
        section = parser["mlflow"]
        return Credentials(section["mlflow_tracking_username"], section["mlflow_tracking_password"])
    except KeyError:
        raise CredentialsError(
            f"{path}: expected an [mlflow] section with mlflow_tracking_username and mlflow_tracking_password"
        ) from None


def ensure_credentials(directory: Path, username: str) -> Credentials:
    """The user's credentials from its file, generated (owner-only, exclusively) the first time."""
    path = credentials_file(directory, username)
    read_or_create(path, lambda: _ini(Credentials(username, generate_password())))
    return read_credentials(path)


def password_file(directory: Path, credentials: Credentials) -> Path:
    """The password alone, owner-only, for tools that read it from a file (Prometheus' basic_auth)."""
    path = Path(directory) / f"{credentials.username}.password"
    if not path.exists() or path.read_text() != credentials.password:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(credentials.password)
    return path


def standalone_credentials_dir(root: Path) -> Path:
    """Where a standalone platform keeps its registry users' credentials (under the ignored .mlplat/)."""
    return Path(root) / "secrets" / "registry"


def load_into_environment(environ: MutableMapping[str, str] | None = None) -> None:
    """Sign this process in as the user of the file named by MLPLAT_REGISTRY_CREDENTIALS, unless the
    environment already names a user (the cluster sets the variables from a Secret)."""
    environ = os.environ if environ is None else environ
    path = environ.get(FILE_ENV)
    if not path or environ.get(USERNAME_ENV):
        return
    credentials = read_credentials(Path(path))
    environ[USERNAME_ENV], environ[PASSWORD_ENV] = credentials.username, credentials.password


@contextlib.contextmanager
def acting_as(credentials: Credentials | None) -> Iterator[None]:
    """Make MLflow calls inside the block as `credentials` (None: as nobody), then restore the caller's.

    MLflow reads the two variables on every request, so one process (the demo, a test) can act as
    several users in turn. Not for concurrent use from several threads.
    """
    saved = {key: os.environ.get(key) for key in (USERNAME_ENV, PASSWORD_ENV)}
    if credentials is None:
        os.environ.pop(USERNAME_ENV, None)
        os.environ.pop(PASSWORD_ENV, None)
    else:
        os.environ[USERNAME_ENV], os.environ[PASSWORD_ENV] = credentials.username, credentials.password
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
