"""The backup and restore commands, as Python callers of the two scripts that define them.

`backup.sh` and `restore.sh` (next to this module) are the single source of truth: the cluster's
backup CronJob and restore Job mount them from a ConfigMap, and the DR drill, the tests and
`mlplat registry restore --database-url` run them through the functions here. Nothing in Python
re-implements a pg_dump flag, the file naming, the checksum or the retention rule; this module only
passes the environment the scripts document and turns their exit codes into exceptions.
"""

from __future__ import annotations

import re
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from services.registry import BACKUP_SCRIPT, RESTORE_SCRIPT
from services.registry.scripts import run_script

__all__ = [
    "BACKUP_SCRIPT",
    "RESTORE_SCRIPT",
    "BACKUP_NAME",
    "Database",
    "Backup",
    "Restored",
    "BackupError",
    "RestoreError",
    "take_backup",
    "restore_backup",
]

# What backup.sh names its files; restore.sh lists and picks "latest" by the same pattern.
BACKUP_NAME = re.compile(r"^mlflow-\d{8}T\d{6}Z\.dump$")
_WRITTEN = re.compile(r"^backup written: (?P<path>.+) \((?P<size>\d+) bytes, sha256 (?P<sha>[0-9a-f]{64})\)$", re.M)


@dataclass(frozen=True)
class Database:
    """Where a registry database is: what libpq (and so both scripts) reads from PG* variables."""

    host: str
    port: int
    user: str
    password: str
    name: str = "mlflow"

    def libpq_env(self) -> dict[str, str]:
        return {
            "PGHOST": self.host,
            "PGPORT": str(self.port),
            "PGUSER": self.user,
            "PGPASSWORD": self.password,
            "PGDATABASE": self.name,
        }

    @property
    def url(self) -> str:
        """The SQLAlchemy URL MLflow's `--backend-store-uri` takes."""
        user, password = urllib.parse.quote(self.user, safe=""), urllib.parse.quote(self.password, safe="")
        # The driver is named: SQLAlchemy 2.1 made psycopg (3) the default for postgresql://, and the
        # platform installs psycopg2 (pyproject.toml).
        return f"postgresql+psycopg2://{user}:{password}@{self.host}:{self.port}/{self.name}"

    @classmethod
    def from_url(cls, url: str) -> Database:
        """Parse `postgresql://user:password@host:port/database` (a `+driver` suffix is accepted, so
        MLflow's own backend URL works too); ValueError says what is missing, never the password."""
        parts = urllib.parse.urlsplit(url)
        if parts.scheme.split("+")[0] not in ("postgresql", "postgres"):
            raise ValueError(
                f"{_redact(url)!r} is not a postgresql:// URL (e.g. postgresql://mlflow:PASS@HOST:5432/mlflow)"
            )
        name = parts.path.lstrip("/")
        missing = [
            what
            for what, value in (("user", parts.username), ("host", parts.hostname), ("database", name))
            if not value
        ]
        if missing:
            raise ValueError(
                f"{_redact(url)!r} names no {', '.join(missing)}: use postgresql://USER:PASSWORD@HOST:PORT/DATABASE"
            )
        try:
            port = parts.port or 5432
        except ValueError:
            raise ValueError(f"{_redact(url)!r}: the port is not a number") from None
        return cls(
            host=parts.hostname or "",
            port=port,
            user=urllib.parse.unquote(parts.username or ""),
            password=urllib.parse.unquote(parts.password or ""),
            name=name,
        )


def _redact(url: str) -> str:
    """The URL without its password, for messages."""
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)


@dataclass(frozen=True)
class Backup:
    path: Path
    size: int
    sha256: str
    seconds: float
    output: str


@dataclass(frozen=True)
class Restored:
    output: str
    seconds: float


class BackupError(RuntimeError):
    pass


class RestoreError(RuntimeError):
    """restore.sh refused or failed; `code` is its exit code (see the constants)."""

    FAILED = 1  # pg_restore or the swap failed; the database is untouched
    BAD_BACKUP = 2  # missing, incomplete, corrupt, or not a dump; the database is untouched
    NOT_EMPTY = 3  # the database has tables and force was not given

    def __init__(self, message: str, code: int):
        super().__init__(message)
        self.code = code


def _env(database: Database, **extra: str) -> dict[str, str]:
    return {**database.libpq_env(), **extra}


def take_backup(database: Database, backup_dir: Path, *, retain: int = 7, tools: Path | None = None) -> Backup:
    """Run backup.sh exactly as the CronJob does; `tools` is a folder holding pg_dump and pg_restore."""
    backup_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    done = run_script(BACKUP_SCRIPT, _env(database, BACKUP_DIR=str(backup_dir), BACKUP_RETAIN=str(retain)), tools=tools)
    seconds = time.monotonic() - started
    if done.returncode != 0:
        raise BackupError(f"backup.sh exited with {done.returncode}: {done.stderr.strip() or done.stdout.strip()}")
    match = _WRITTEN.search(done.stdout)
    if match is None:
        raise BackupError(f"backup.sh did not say which file it wrote:\n{done.stdout}")
    return Backup(Path(match["path"]), int(match["size"]), match["sha"], seconds, done.stdout)


def restore_backup(
    database: Database,
    backup: str | Path,
    *,
    backup_dir: Path | None = None,
    force: bool = False,
    tools: Path | None = None,
) -> Restored:
    """Run restore.sh exactly as the restore Job does. `backup` is "latest", "list", a name in
    `backup_dir` or a path. Raises RestoreError carrying the script's message and exit code."""
    started = time.monotonic()
    env = _env(
        database,
        BACKUP_DIR=str(backup_dir or Path(str(backup)).parent),
        BACKUP_FILE=str(backup),
        RESTORE_FORCE="1" if force else "0",
    )
    done = run_script(RESTORE_SCRIPT, env, tools=tools)
    if done.returncode != 0:
        lines = [line.removeprefix("restore: ") for line in done.stderr.splitlines() if line.startswith("restore: ")]
        raise RestoreError("\n".join(lines) or done.stderr.strip() or done.stdout.strip(), done.returncode)
    return Restored(done.stdout, time.monotonic() - started)
